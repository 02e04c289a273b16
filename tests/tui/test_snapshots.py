"""SVG snapshots of the main screen at 80×24 and 120×40, with the clock and animation frozen."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.tui.conftest import settle as settle_app
from tracer.tui.app import DockertraceApp
from tracer.tui.source import Loaded

NOTICE = (
    "No live tracing here (`dockertrace doctor` tells more): privileges: uid 1000 without "
    "CAP_BPF/CAP_PERFMON. Replaying the bundled one."
)


def settle(keys: tuple[str, ...]) -> Callable[[Pilot[None]], Awaitable[None]]:
    """Press the keys, then wait until every pane shows the playhead."""

    async def run(pilot: Pilot[None]) -> None:
        await pilot.press(*keys)
        await settle_app(pilot)

    return run


@pytest.mark.parametrize(
    ("size", "keys", "theme"),
    [
        ((80, 24), ("5", "n"), "textual-dark"),
        ((120, 40), ("5", "n"), "textual-dark"),
        ((80, 24), ("7", "n", "n"), "textual-dark"),
        ((120, 40), ("7", "n", "n", "n"), "textual-dark"),
        ((120, 40), ("3",), "textual-light"),
        ((120, 40), ("6",), "dockertrace-high-contrast"),
    ],
    ids=["80x24-step5", "120x40-step5", "80x24-step7", "120x40-end", "light", "high-contrast"],
)
def test_main_screen(
    snap_compare: Any,
    make_app: Callable[..., DockertraceApp],
    size: tuple[int, int],
    keys: tuple[str, ...],
    theme: str,
) -> None:
    app = make_app(theme=theme, notice=NOTICE)
    assert snap_compare(app, terminal_size=size, run_before=settle(keys))


def test_before_playing(snap_compare: Any, make_app: Callable[..., DockertraceApp]) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24))


@pytest.mark.parametrize(
    ("size", "keys"),
    [((80, 24), ("5", "n", "n")), ((120, 40), ("5", "n", "n")), ((120, 40), ("7",))],
    ids=["80x24-step5", "120x40-step5", "120x40-step7"],
)
def test_bundled_recording(
    snap_compare: Any,
    make_app: Callable[..., DockertraceApp],
    bundled: Loaded,
    size: tuple[int, int],
    keys: tuple[str, ...],
) -> None:
    app = make_app(bundled, notice=NOTICE)
    assert snap_compare(app, terminal_size=size, run_before=settle(keys))
