"""SVG snapshots of the main screen at 80×24 and 120×40, with the clock and animation frozen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tracer.tui.app import DockertraceApp
from tracer.tui.source import Loaded

NOTICE = (
    "No live tracing here (`dockertrace doctor` tells more): privileges: uid 1000 without "
    "CAP_BPF/CAP_PERFMON. Replaying the bundled one."
)


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
    assert snap_compare(app, press=keys, terminal_size=size)


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
    assert snap_compare(make_app(bundled, notice=NOTICE), press=keys, terminal_size=size)
