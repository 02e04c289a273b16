"""The sequence diagram's lines: lifelines, arrows and their labels, drawn into strips (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from tracer.chain.labels import label
from tracer.chain.sequence import Arrow, SequenceDiagram

MARGIN = 4  # columns left and right of the outer lanes
# groups whose label counts their events: while played, the count is of those seen so far
COUNTED = ("threads", "mount", "setns", "frame", "file", "cgroup", "exit", "close", "exec")


def lane_xs(width: int, lanes: int) -> list[int]:
    """The column of each lane's lifeline, spread evenly across `width`."""
    span = max(lanes - 1, 1)
    return [MARGIN + round(i * (width - 1 - 2 * MARGIN) / span) for i in range(lanes)]


def arrow_label(diagram: SequenceDiagram, arrow: Arrow, time_ns: int) -> str:
    """Its label as far as it has been played: a group counts only the events seen so far."""
    if time_ns >= arrow.end_ns:  # all seen (a live run's arrows, but for the newest)
        return arrow.label
    seen = arrow.seen_by(time_ns)
    if arrow.kind == "exec":  # name the program from the start (the fork comes before its exec)
        execs = [i for i, e in enumerate(arrow.events) if e.kind == "proc.exec"]
        seen = max(seen, execs[0] + 1) if execs else seen
    if arrow.kind in COUNTED and 0 < seen < arrow.count:
        return label(arrow.kind, arrow.events[:seen], diagram.names)
    return arrow.label


@dataclass(frozen=True)
class Look:
    """The styles a drawing uses (the widget's component styles, once per theme)."""

    base: Style
    life: Style
    arrow: Style
    label: Style
    note: Style
    step: Style
    current: Style
    selected: Style


def lifelines(width: int, xs: list[int], look: Look) -> tuple[list[str], list[Style]]:
    chars = [" "] * width
    styles = [look.base] * width
    for x in xs:
        if 0 <= x < width:
            chars[x], styles[x] = "│", look.life
    return chars, styles


def put(chars: list[str], styles: list[Style], at: int, text: str, style: Style) -> None:
    for i, c in enumerate(text):
        if 0 <= at + i < len(chars):
            chars[at + i], styles[at + i] = c, style


def to_strip(chars: list[str], styles: list[Style], over: Style | None = None) -> Strip:
    """The characters as segments, one a run of the same style (not one a character, then
    merged: a line is 120 of them, and a live run draws a few new lines at every batch)."""
    segments = []
    start = 0
    for i in range(1, len(chars) + 1):
        if i == len(chars) or (styles[i] is not styles[start] and styles[i] != styles[start]):
            style = styles[start]
            segments.append(Segment("".join(chars[start:i]), style + over if over else style))
            start = i
    return Strip(segments)


def arrow_strip(
    diagram: SequenceDiagram,
    i: int,
    time_ns: int,
    xs: list[int],
    width: int,
    look: Look,
    over: Style | None = None,
) -> Strip:
    """One arrow on the lifelines, its label beside it where there is room."""
    a = diagram.arrows[i]
    chars, styles = lifelines(width, xs, look)
    x1, x2 = xs[diagram.lanes.index(a.src)], xs[diagram.lanes.index(a.dst)]
    text = arrow_label(diagram, a, time_ns)
    if a.note or x1 == x2:
        mark = "┊" if a.note else "↺"
        put(chars, styles, x1, mark, look.note if a.note else look.arrow)
        lo = hi = x1
    else:
        lo, hi = min(x1, x2), max(x1, x2)
        put(chars, styles, lo, "─" * (hi - lo + 1), look.arrow)
        put(chars, styles, x1, "├" if x2 > x1 else "┤", look.arrow)
        put(chars, styles, x2, "▶" if x2 > x1 else "◀", look.arrow)
    right, left = width - hi - 2, lo - 2
    style = look.note if a.note else look.label
    # right of the arrow if it fits there, else left if it fits there, else the roomier side
    if len(text) <= right or (len(text) > left and right >= left):
        put(chars, styles, hi + 2, fit(text, right), style)
    else:
        shown = fit(text, left)
        put(chars, styles, lo - 1 - len(shown), shown, style)
    return to_strip(chars, styles, over)


def fit(text: str, room: int) -> str:
    if room <= 0:
        return ""
    return text if len(text) <= room else text[: max(room - 1, 0)] + "…"


@dataclass(frozen=True)
class Row:
    """A line of the diagram: an arrow (its index) or a step's heading (its number)."""

    arrow: int | None = None
    step: int | None = None


def rows_of(diagram: SequenceDiagram) -> list[Row]:
    """Arrows in order, with a heading where the run enters a new step."""
    rows: list[Row] = []
    shown = 0
    for i, a in enumerate(diagram.arrows):
        if a.phase is not None and a.phase > shown:
            shown = a.phase
            rows.append(Row(step=shown))
        rows.append(Row(arrow=i))
    return rows
