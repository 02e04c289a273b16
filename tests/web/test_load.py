"""200 viewers of one session fed as a live run is (the bundled run's events in bursts, from
another thread, as the app's share gets them): each receives every event, in order."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx

from tests.web.conftest import BUNDLED
from tracer.record.format import read_recording
from tracer.web.share import Share

VIEWERS = 200
RECORDING = read_recording(BUNDLED)


async def viewer(client: httpx.AsyncClient, url: str, joined: asyncio.Event) -> list[str]:
    """The events' ids, as this viewer got them, until the run's end."""
    ids: list[str] = []
    kind = ident = ""
    async with client.stream("GET", url + "api/events") as r:
        assert r.status_code == 200
        joined.set()
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("id: "):
                ident = line[4:]
            elif line.startswith("data: "):
                if kind == "event":
                    ids.append(ident)
                elif kind == "run" and json.loads(line[6:])["state"] == "finished":
                    return ids
    return ids


def feed(share: Share, go: threading.Event) -> None:
    go.wait(30)
    share.started(["docker", "run", "--rm", "busybox", "echo", "hi"])
    share.live(RECORDING.header, "Tracing live")
    events = RECORDING.events
    for i in range(0, len(events), 16):  # bursts, as the child's pipe gives them
        share.events(events[i : i + 16])
        time.sleep(0.01)
    share.finished(0, "hi\n", "")


async def test_200_viewers_each_get_every_event_in_order() -> None:
    share = Share("127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{share.port}/"
    go = threading.Event()
    feeder = threading.Thread(target=feed, args=(share, go))
    feeder.start()
    try:
        limits = httpx.Limits(max_connections=VIEWERS + 10)
        timeout = httpx.Timeout(60)
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
            joined = [asyncio.Event() for _ in range(VIEWERS)]
            tasks = [asyncio.create_task(viewer(client, url, j)) for j in joined]
            async with asyncio.timeout(60):
                await asyncio.gather(*(j.wait() for j in joined))
                go.set()  # the run starts once all are watching (late joiners: other tests)
                got = await asyncio.gather(*tasks)
    finally:
        go.set()
        feeder.join(30)
        share.stop()
    wanted = [f"1:{n}" for n in range(len(RECORDING.events))]
    assert len(got) == VIEWERS
    assert all(ids == wanted for ids in got), {len(ids) for ids in got}
    assert share.hub.dropped == 0
