"""Textual's private names that tracer/tui/perf.py (and two TUI tests) rely on still exist and
behave as they did: this fails first, and says what to re-check, when Textual changes."""

from __future__ import annotations

import gc
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from rich.console import RenderableType
from textual._compositor import ChopsUpdate, Compositor
from textual.app import App, ComposeResult
from textual.containers import Container
from textual.screen import Screen
from textual.widget import Widget

from tests.tui.builders import make_header, run_events
from tests.tui.test_app import Scripted
from tracer.tui import live, perf
from tracer.tui.app import DockertraceApp
from tracer.tui.live import LiveFinished, LiveStarted

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
        (Compositor, "render_partial_update"),  # perf.PartialCompositor's, and:
        (Compositor, "_regions_to_spans"),
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
        assert perf.draw_now(screen)  # no await: the frame is sent before the loop turns
        assert not widget._repaint_required and not screen._dirty_widgets
        assert app.frames == before + 1


async def test_draw_now_says_whether_the_screen_shows_all_there_is() -> None:
    app = Frames()
    async with app.run_test(size=(20, 3)) as pilot:
        await pilot.pause()
        widget, screen = app.query_one(Painted), app.screen
        before = app.frames
        assert perf.draw_now(screen), "nothing changed: the screen is up to date"
        assert app.frames == before, "and no frame was needed for it"
        widget.refresh(layout=True)
        assert not perf.draw_now(screen), "a layout is left to Textual's own update"
        await pilot.pause()
        assert perf.draw_now(screen)


class Words(Widget):
    def __init__(self) -> None:
        super().__init__()
        self.words = "before"

    def render(self) -> RenderableType:
        return self.words


class Behind(App[None]):
    """A widget inside a hidden container (the timeline's table behind the tree view)."""

    def compose(self) -> ComposeResult:
        with Container(id="box"):
            yield Words()
        yield Painted()

    def on_mount(self) -> None:
        self.query_one("#box").display = False


async def test_draw_now_drops_what_a_widget_in_a_hidden_container_asks_for() -> None:
    app = Behind()
    async with app.run_test(size=(20, 3)) as pilot:
        await pilot.pause()
        words, screen = app.query_one(Words), app.screen
        assert screen._compositor._full_map_invalidated is False
        words.words = "after"
        words.refresh()
        words._scroll_required = True
        assert perf.draw_now(screen), "what is on screen is up to date"
        assert not words._repaint_required and not words._scroll_required
        assert not screen._compositor._full_map_invalidated, "the screen was not mapped again"
        app.query_one("#box").display = True  # shown again: drawn afresh
        await pilot.pause()
        assert "after" in "".join(s.text for s in words.render_lines(words.size.region))


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


class BothUpdates(perf.PartialCompositor):
    """PartialCompositor, also drawing each update Textual's own way from the same regions."""

    pairs: ClassVar[list[tuple[str, str]]] = []
    console: ClassVar[Any] = None

    def render_partial_update(self) -> ChopsUpdate | None:
        regions = set(self._dirty_regions)
        ours = super().render_partial_update()
        self._dirty_regions.update(regions)
        theirs = Compositor.render_partial_update(self)
        if ours is not None and theirs is not None:
            self.pairs.append(
                (ours.render_segments(self.console), theirs.render_segments(self.console))
            )
        else:
            assert ours is theirs is None
        return ours


async def test_the_partial_compositor_draws_what_textual_draws(
    make_app: Callable[..., DockertraceApp],
) -> None:
    events = run_events()
    run = Scripted()
    app = make_app(live_reason=None, start_live=run)
    BothUpdates.pairs.clear()
    async with app.run_test(size=(120, 40)) as pilot:
        assert type(app.screen._compositor) is perf.PartialCompositor
        app.screen._compositor.__class__ = BothUpdates
        BothUpdates.console = app.console
        for key in ("n", "n", "right_square_bracket", "s", "n", "T", "n", "s", "l", "c"):
            await pilot.press(key)
            await pilot.pause()
        await pilot.press("g")  # a live run, batch by batch, in each view
        run.post(LiveStarted(make_header(), "bcc", ["docker", "run", "--rm", "busybox", "echo"]))
        inbox = live.Inbox(run.post)
        for i, ev in enumerate(events):
            inbox.put(ev)
            await pilot.pause()
            if i in (len(events) // 3, 2 * len(events) // 3):
                await pilot.press("s" if i < len(events) // 2 else "T")
        run.post(LiveFinished(list(events), make_header(), 0, "hi\n", ""))
        for _ in range(20):
            await pilot.pause()
    assert len(BothUpdates.pairs) > 30
    for ours, theirs in BothUpdates.pairs:
        assert written(ours) == written(theirs)


# a cursor move that writes nothing before the next move or line: Textual's own update moves to
# a piece of a line that starts where a changed span ends (it draws every widget, so it has
# one), and writes none of it
IDLE_MOVE = re.compile(r"\x1b\[\d+;\d+H(?=\x1b\[\d+;\d+H|\n|$)")


def written(update: str) -> str:
    """What an update writes where: its text and styles at their places, idle moves left out."""
    return IDLE_MOVE.sub("", update)
