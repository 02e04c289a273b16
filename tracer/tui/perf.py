"""What the live drawing needs that Textual has no public API for, and the app's gc policy.

Every use of Textual's private state is here, checked against the Textual versions it was
read from (the range pinned in pyproject.toml); tests/tui/test_perf.py fails when Textual
changes them. Outside that range the app falls back to Textual's public ways: slower, not wrong.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from functools import cache

import textual
from textual._compositor import ChopsUpdate, Compositor
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

# the Textual versions whose private names below were read (pyproject.toml: textual>=8.2,<9)
CHECKED_FROM = (8, 2)
CHECKED_BELOW = (9, 0)


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:2] if part.isdigit())


@cache
def textual_version() -> str:
    # asked when a live run starts (tui/live_runs.py warms it up), not at import: Textual
    # reads its version with importlib.metadata, ~8 ms the first frame does not wait for
    return str(textual.__version__)


@cache
def supported() -> bool:
    """Whether the installed Textual is one the private names below were read from."""
    return CHECKED_FROM <= _release(textual_version()) < CHECKED_BELOW


def draw_now(screen: Screen[object]) -> bool:
    """Draw what changed now, not a few turns of the event loop later; whether the screen
    then shows all that its widgets would draw (nothing is left for Textual's own update).

    Textual's way: a widget that changed tells the screen so at its own next idle (a
    message), the screen then wakes its update timer (another), and the timer draws; each
    hop waits for everything else ready on the loop (a fold, a frame), 10-30 ms in all
    during a live run. Here the widgets that asked for a repaint are handed to the screen
    as their idle handler would, and the timer's work is done at once. A widget that
    needs a layout is left to Textual's own way (a live run holds its layout), as is
    everything with a Textual this was not checked against.

    What a hidden widget asks for is dropped, as Textual's idle handler drops a repaint
    of a widget not displayed, and here also under a hidden container (the timeline's
    table behind the tree view): its lines are drawn afresh when it is shown again (a
    layout). Handed over, such a widget had the compositor map the whole screen again at
    the next question of where a widget is, and its scroll laid the screen out again, ~1
    ms a batch in the pictures."""
    if not supported() or not screen.is_current:
        return False
    waiting = False  # a widget on screen left for Textual's own update (a layout)
    for widget, shown in _widgets(screen):
        if not shown:
            widget._repaint_required = widget._scroll_required = False
            continue
        if widget._layout_required:
            waiting = True
            continue
        if widget._repaint_required:
            widget._repaint_required = False
            screen._dirty_widgets.add(widget)
        if widget._scroll_required:
            widget._scroll_required = False
            screen._scroll_required = True
    screen._on_timer_update()
    return not (
        waiting or screen._layout_required or screen._repaint_required or screen._dirty_widgets
    )


def _widgets(node: Widget, shown: bool = True) -> Iterator[tuple[Widget, bool]]:
    """Every widget under node, and whether it and every container it is in are displayed."""
    for child in node.children:
        child_shown = shown and child.display
        yield child, child_shown
        yield from _widgets(child, child_shown)


def laid_out(widget: Widget) -> bool:
    """Whether the widget's size is the one the next frame draws it at: no layout is waiting
    for it or for a widget it is in (a view just shown, a new layout of the screen). False
    with a Textual this was not checked against: the caller waits for the frame instead."""
    if not supported() or not widget.size.height:
        return False
    node: object = widget
    while isinstance(node, Widget):  # up to the screen, which is a widget too
        if node._layout_required or not node.display:
            return False
        node = node.parent
    return True


class PartialCompositor(Compositor):
    """Textual's compositor, drawing a partial update from the widgets that show in its dirty
    regions, not from every widget in the rectangle around them all.

    Textual's own takes the smallest rectangle holding every region that changed and has every
    widget in it hand over all its lines; a live batch changes the chain at the top, the table
    in the middle and the steps below, so every widget on the screen (the panes behind them,
    the footer's keys, a detail pane that did not change) did, ~45% of a frame. Here each
    region takes the widgets over it, front to back, down to the first that covers it (the
    ones behind that cannot show there); the lines are put together as Textual does
    (tests/tui/test_perf.py checks the update is Textual's own, byte for byte)."""

    def render_partial_update(self) -> ChopsUpdate | None:
        regions = self._dirty_regions.copy()
        self._dirty_regions.clear()
        if not regions:
            return None
        spans = list(self._regions_to_spans(regions))
        is_rendered_line = {y for y, _, _ in spans}.__contains__
        cuts = self.cuts
        chops: list[dict[int, Strip | None]] = [dict.fromkeys(line[:-1]) for line in cuts]
        for region, clip, strips in self._renders_over(regions):
            render_region = region.intersection(clip)
            render_x = render_region.x
            first_cut, last_cut = render_region.column_span
            for y, strip in zip(render_region.line_range, strips, strict=False):
                if not is_rendered_line(y):
                    continue
                line = chops[y]
                final_cuts = [cut for cut in cuts[y] if last_cut >= cut >= first_cut]
                pieces = strip.divide([cut - render_x for cut in final_cuts[1:]])
                for cut, piece in zip(final_cuts, pieces, strict=False):
                    if line.get(cut) is None:  # front to back: the first piece of a cut wins
                        line[cut] = piece
        return ChopsUpdate(chops, spans, [line[1:] for line in cuts])

    def _renders_over(self, regions: set[Region]) -> list[tuple[Region, Region, list[Strip]]]:
        """(region, clip, lines) of each widget that shows in the regions, front to back (as
        Compositor._get_renders, for fewer widgets)."""
        visible = self.visible_widgets  # front to back
        shown: set[Widget] = set()
        for dirty in regions:
            for widget, (region, clip) in visible.items():
                seen = region.intersection(clip)
                if not seen.overlaps(dirty):
                    continue
                shown.add(widget)
                if seen.contains_region(dirty):
                    break  # nothing behind it shows here
        renders = []
        for widget, (region, clip) in visible.items():
            if widget not in shown:
                continue
            if clip.contains_region(region):
                lines = widget.render_lines(Region(0, 0, region.width, region.height))
            else:
                x, y, width, height = region.intersection(clip)
                if not (width and height):
                    continue
                lines = widget.render_lines(Region(x - region.x, y - region.y, width, height))
            renders.append((region, clip, lines))
        return renders


def draw_partially(screen: Screen[object]) -> None:
    """Have the screen's partial updates drawn by PartialCompositor (with a Textual this was
    checked against; Textual's own otherwise)."""
    if supported() and type(screen._compositor) is Compositor:
        screen._compositor.__class__ = PartialCompositor


def timer_running(timer: Timer) -> bool:
    """Whether a timer is counting (not paused): Timer has pause() and resume(), no getter."""
    return timer._active.is_set()


class Collector:
    """When the app lets Python's garbage collector run.

    Start-up makes tens of thousands of objects that live as long as the app (styles, widgets,
    the trace): collecting among them before the first frame is wasted work, and walking them
    again at every later full collection costs a frame. So no collection until the first
    frame, then they are frozen out of the collector's sight. And none while a live run is
    drawn: a full one, among all that the session made while starting, stops the screen for
    tens of ms; the run makes little garbage."""

    def __init__(self) -> None:
        self._paused_for_start = False

    def before_start(self) -> None:
        """The app is about to run: no collection until its first frame."""
        self._paused_for_start = gc.isenabled()
        gc.disable()

    def after_run(self) -> None:
        """The app's run is over (however it ended)."""
        if self._paused_for_start:
            self._paused_for_start = False
            gc.enable()

    def first_frame(self) -> None:
        """Frozen however the app runs (the benches and tests run it without App.run)."""
        gc.freeze()
        self.after_run()

    def live(self, drawing: bool) -> None:
        """A live run starts being drawn (no collection) or ends (collection again)."""
        if drawing:
            gc.disable()
        else:
            gc.enable()

    def unmounted(self) -> None:
        """Back to the collector: tests run many apps in one process; a live run cut short."""
        gc.unfreeze()
        gc.enable()
