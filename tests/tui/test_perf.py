"""Textual's private names that tracer/tui/perf.py (and two TUI tests) rely on still exist and
behave as they did: this fails first, and says what to re-check, when Textual changes."""

from __future__ import annotations

import gc
import re
import tomllib
from pathlib import Path
from typing import Any

from rich.console import RenderableType
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widget import Widget

from tracer.tui import perf

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_the_checked_range_is_the_pinned_one_and_holds_the_installed_textual() -> None:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    pin = next(d for d in deps if d.startswith("textual"))
    found = re.fullmatch(r"textual>=(\d+)\.(\d+),<(\d+)", pin)
    assert found, f"pyproject.toml pins Textual as {pin!r}: perf.py's check reads >=X.Y,<Z"
    low_major, low_minor, high = (int(n) for n in found.groups())
    assert ((low_major, low_minor), (high, 0)) == (perf.CHECKED_FROM, perf.CHECKED_BELOW), (
        "pyproject.toml's Textual pin moved: re-read the private names in tracer/tui/perf.py "
        "against the new Textual and update CHECKED_FROM/CHECKED_BELOW"
    )
    assert perf.supported(), (
        f"Textual {perf.textual_version()} is outside the range perf.py was read from"
    )


def test_the_private_names_exist() -> None:
    for cls, name in (
        (Screen, "_on_timer_update"),
        (Screen, "_refresh_layout"),  # tests/tui/test_app.py counts layouts by it
        (App, "_display"),  # tests/tui/test_app.py and bench/ count frames by it
    ):
        assert callable(getattr(cls, name, None)), f"Textual has no {cls.__name__}.{name} now"


class Painted(Widget):
    def render(self) -> RenderableType:
        return "painted"


class Frames(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.frames = 0

    def compose(self) -> ComposeResult:
        yield Painted()

    def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
        if renderable is not None:
            self.frames += 1
        super()._display(screen, renderable)


async def test_draw_now_draws_a_repaint_at_once() -> None:
    app = Frames()
    async with app.run_test(size=(20, 3)) as pilot:
        await pilot.pause()
        widget, screen = app.query_one(Painted), app.screen
        for name in ("_layout_required", "_repaint_required", "_scroll_required"):
            assert isinstance(getattr(widget, name), bool), f"Widget.{name} is not a flag now"
        assert isinstance(screen._dirty_widgets, set) and isinstance(screen._scroll_required, bool)
        widget.refresh()
        assert widget._repaint_required, "Widget.refresh() no longer sets _repaint_required"
        before = app.frames
        perf.draw_now(screen)  # no await: the frame is sent before the loop turns
        assert not widget._repaint_required and not screen._dirty_widgets
        assert app.frames == before + 1


async def test_timer_running_follows_pause_and_resume() -> None:
    app = Frames()
    async with app.run_test(size=(20, 3)):
        timer = app.set_interval(10, lambda: None, pause=True)
        assert not perf.timer_running(timer)
        timer.resume()
        assert perf.timer_running(timer)
        timer.pause()
        assert not perf.timer_running(timer)


def test_the_collector_pauses_for_the_start_and_a_live_run() -> None:
    collector = perf.Collector()
    was = gc.isenabled()
    try:
        gc.enable()
        collector.before_start()
        assert not gc.isenabled()
        collector.first_frame()
        assert gc.isenabled() and gc.get_freeze_count() > 0
        collector.live(True)
        assert not gc.isenabled()
        collector.live(False)
        assert gc.isenabled()
        collector.unmounted()
        assert gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
        (gc.enable if was else gc.disable)()


async def test_laid_out_says_whether_a_layout_waits_for_the_widget() -> None:
    app = Frames()
    async with app.run_test(size=(20, 3)) as pilot:
        await pilot.pause()
        widget = app.query_one(Painted)
        assert perf.laid_out(widget)
        widget.refresh(layout=True)
        assert not perf.laid_out(widget), "Widget.refresh(layout=True) sets no flag it reads"
        await pilot.pause()
        assert perf.laid_out(widget)
        app.screen.refresh(layout=True)  # a layout of what it is in waits for it too
        assert not perf.laid_out(widget)
        await pilot.pause()
        widget.display = False
        assert not perf.laid_out(widget)
