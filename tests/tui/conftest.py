"""Fixtures for the TUI tests: a frozen clock and an app on a built trace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.tui.builders import make_header, make_trace
from tracer.chain.model import Trace
from tracer.tui.app import DockertraceApp
from tracer.tui.source import Loaded, bundled_recording, load


class FakeClock:
    """Time that only moves when a test moves it."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bundled() -> Loaded:
    """The bundled recording of a real `docker run --rm IMAGE echo hi`, folded by the chain."""
    path = bundled_recording()
    assert path is not None, "assets/run-echo-hi.jsonl is missing"
    return load(path)


@pytest.fixture
def make_app(clock: FakeClock) -> Callable[..., DockertraceApp]:
    def build(
        trace: Trace | Loaded | None = None,
        cls: type[DockertraceApp] = DockertraceApp,
        **kw: Any,
    ) -> DockertraceApp:
        if isinstance(trace, Loaded):
            loaded = trace
        else:
            loaded = Loaded(trace or make_trace(), make_header(), "run-echo-hi.jsonl")
        kw.setdefault("autoplay", False)
        kw.setdefault("animate", False)
        return cls(loaded, get_time=clock, **kw)

    return build


def settled(app: DockertraceApp) -> bool:
    """Whether every pane shows the playhead: the timeline's cursor on the current event and
    the detail pane drawn with it (it draws after a short delay)."""
    from tracer.tui.widgets.detail_pane import DetailPane
    from tracer.tui.widgets.timeline import Timeline

    detail = app.query_one(DetailPane)
    table = app.query_one(Timeline).table
    position = app.player.position
    if position < 0:
        return not detail._scheduled
    if not table.row_count or detail._scheduled:
        return False
    row_key = table.cursor_key
    events = app.loaded.trace.events
    drawn = detail.event is events[position] and detail.scroll_y == 0
    return row_key == position and drawn


async def settle(pilot: Any, timeout: float = 10.0) -> None:
    """Wait (on the real clock) until the app is settled, for snapshots under a loaded CPU."""
    import time

    deadline = time.monotonic() + timeout
    while not settled(pilot.app) and time.monotonic() < deadline:
        await pilot.pause(0.05)
    await pilot.pause()
