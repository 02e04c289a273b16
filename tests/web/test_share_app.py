"""The app's share (`tui --share`, key S): the room's page serves what the app shows."""

from __future__ import annotations

import json

import httpx

from tests.web.conftest import BUNDLED
from tests.web.test_server import events_of, read_sse
from tracer.tui.app import DockertraceApp
from tracer.tui.source import load
from tracer.web.share import open_share


async def test_the_apps_recording_is_the_rooms_and_s_says_where() -> None:
    app = DockertraceApp(load(BUNDLED), mode="replay", animate=False, autoplay=False)
    app.share_open = open_share
    app.share_at = "127.0.0.1:0"  # any free port
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.share is not None
        url = app.share.url
        assert url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient() as client:
            messages = await read_sse(client, url, lambda m: any(k == "view" for k, _, _ in m))
        await pilot.press("S")  # sharing already: it says where
        await pilot.pause()
    assert app.share is None  # stopped with the app
    runs = [json.loads(d) for k, _, d in messages if k == "run"]
    assert runs[-1]["argv"] == ["run-echo-hi.jsonl"]
    assert events_of(messages) == [ev.to_dict() for ev in load(BUNDLED).events]  # the app's


async def test_without_a_way_to_open_the_page_s_says_so() -> None:
    app = DockertraceApp(load(BUNDLED), mode="replay", animate=False, autoplay=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("S")
        await pilot.pause()
        assert app.share is None
