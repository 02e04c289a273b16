"""The chain as boxes and arrows: each box's pid and state, the active hop and what crosses it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Region
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from tracer.chain.model import BOXES, Box, Hop
from tracer.text.crossing import crossed
from tracer.text.describe import short_ids
from tracer.tui.rendered_lines import changed_span
from tracer.tui.scene import BoxState, Scene

NAMES: dict[Box, str] = {
    "cli": "docker",
    "socket": "socket",
    "dockerd": "dockerd",
    "containerd": "containerd",
    "shim": "shim",
    "runc": "runc",
    "kernel": "kernel",
}
ROLE: dict[Box, str] = {
    "cli": "CLI",
    "socket": "API",
    "dockerd": "daemon",
    "containerd": "runtime",
    "shim": "per task",
    "runc": "OCI",
    "kernel": "container",
}
MARK = {"idle": " ", "seen": "✓", "active": "▶", "exited": "■"}
LINES_KEPT = 200  # lines drawn kept for reuse (a run shows a few dozen different ones)


def box_geometry(width: int) -> tuple[int, int, int]:
    """(box width, gap, left margin) so that seven boxes and their gaps fit in `width`."""
    gap = 3 if width >= 7 * 12 + 6 * 3 else 1
    box = max(6, min(18, (width - 6 * gap) // 7))
    margin = max(0, (width - (7 * box + 6 * gap)) // 2)
    return box, gap, margin


def hop_label(label: str) -> str:
    """A hop's label as the arrow shows it: unshare(NEWNS|NEWPID), clone(PARENT), short ids."""
    return short_ids(label.replace("CLONE_", ""))


class ChainView(Widget):
    """Seven boxes from the docker CLI to the kernel, lit as the playhead crosses each hop."""

    DEFAULT_CSS = """
    ChainView {
        height: 6;
        padding: 0 0;
    }
    ChainView .chain-view--idle { background: $panel; color: $text-disabled; }
    ChainView .chain-view--seen { background: $primary 25%; color: $text; }
    ChainView .chain-view--exited { background: $primary 12%; color: $text-muted; }
    ChainView .chain-view--active { background: $accent; color: $background; text-style: bold; }
    ChainView .chain-view--arrow { color: $accent; text-style: bold; }
    ChainView .chain-view--link { color: $text-disabled; }
    ChainView .chain-view--token { color: $warning; text-style: bold; }
    ChainView .chain-view--label { color: $text; text-style: bold; }
    ChainView .chain-view--dim { color: $text-muted; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "chain-view--idle",
        "chain-view--seen",
        "chain-view--exited",
        "chain-view--active",
        "chain-view--arrow",
        "chain-view--link",
        "chain-view--token",
        "chain-view--label",
        "chain-view--dim",
    }

    @dataclass
    class BoxClicked(Message):
        """The user clicked a box: show that box's events."""

        box: Box

    # Where the token is along the active hop: 0 at its source, 1 at its destination.
    phase: reactive[float] = reactive(0.5, repaint=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._scene: Scene | None = None
        self._drawn: object = None  # what the boxes and the hop line showed when last drawn
        self._styles: dict[str, Style] = {}  # component styles by name
        self._strips: list[Strip] | None = None  # the drawing, line by line, at _strips_width
        self._strips_width = 0
        self._lines: dict[object, Strip] = {}  # lines drawn, by what they show, in one look
        self._lines_look: object = None  # (width, base style) of those

    @property
    def scene(self) -> Scene | None:
        return self._scene

    @scene.setter
    def scene(self, scene: Scene | None) -> None:
        # most events change no box and no hop (a live run's list grows by hundreds of them):
        # those do not cost a repaint
        self._scene = scene
        drawn = None if scene is None else (scene.boxes, scene.hop, scene.position < 0)
        if drawn != self._drawn:
            self._drawn = drawn
            self._redraw()

    def show(self, scene: Scene | None, phase: float) -> None:
        """The scene, with the token at `phase` along its hop: drawn once for both (set one
        after the other, each drew the chain again)."""
        moved = phase != self.phase
        self.set_reactive(ChainView.phase, phase)
        self._scene = scene
        drawn = None if scene is None else (scene.boxes, scene.hop, scene.position < 0)
        if drawn != self._drawn or moved:
            self._drawn = drawn
            self._redraw()

    def watch_phase(self) -> None:
        self._redraw()  # the token moved: its line only

    def _redraw(self) -> None:
        """Draw the chain again, repainting only the lines that changed (a box's state changes
        three lines of six, the token one)."""
        width = self.size.width
        old = self._strips if self._strips_width == width else None
        if old is None or not self.is_mounted:
            self.refresh()
            return
        self._strips = new = self._draw(width)
        span = changed_span(old, new)
        if span is not None:
            super().refresh(Region(0, span[0], width, span[1]))

    def box_at(self, x: int) -> Box | None:
        """The box drawn at column x, if any."""
        box_w, gap, margin = box_geometry(self.size.width or 80)
        if x < margin:
            return None
        i, within = divmod(x - margin, box_w + gap)
        return BOXES[i] if i < len(BOXES) and within < box_w else None

    def on_click(self, event: events.Click) -> None:
        box = self.box_at(event.x)
        if box is not None and 1 <= event.y <= 3:
            self.post_message(self.BoxClicked(box))

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:  # once per look (theme): asking walks up the DOM, a dozen per frame
            style = self._styles[name] = self.get_component_rich_style(f"chain-view--{name}")
        return style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._lines.clear()  # their spans' styles are the old look's
        self.refresh()

    def refresh(
        self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False
    ) -> Self:
        if not regions:
            self._strips = None  # drawn again whole (a resize, a new look)
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def render_line(self, y: int) -> Strip:
        # the drawing's lines made into strips straight from Rich's segments, once per change:
        # Textual's way from a Text (through its Content, line by line) costs several times more
        width = self.size.width
        if self._strips is None or self._strips_width != width:
            self._strips = self._draw(width)
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(width, self.rich_style)

    def _draw(self, width: int) -> list[Strip]:
        base = self.rich_style
        console = self.app.console
        self._strips_width = width
        if self._lines_look != (width, base) or len(self._lines) > LINES_KEPT:
            self._lines, self._lines_look = {}, (width, base)
        strips = []
        # a line is made into a strip once for what it shows: a live batch changes a box's
        # three lines or the hop's two, seldom all six (Rich renders each ~0.2 ms)
        for line in self.render().split("\n", allow_blank=True):
            key = (line.plain, tuple(line.spans), line.style)
            strip = self._lines.get(key)
            if strip is None:
                rendered = Segment.apply_style(line.render(console), base)
                strip = self._lines[key] = Strip(rendered).crop_extend(0, width, base)
            strips.append(strip)
        return strips

    def _box_lines(self, state: BoxState, width: int) -> list[str]:
        name = NAMES[state.box]
        if len(name) > width:
            name = name[:width]
        pid = f"pid {state.pid}" if state.pid else ROLE[state.box]
        if state.box == "socket":
            pid = state.note or ROLE["socket"]
        status = state.note if state.note and state.box != "socket" else state.state
        if state.state == "idle":
            status = "·"
        return [
            name.center(width),
            pid[:width].center(width),
            f"{MARK[state.state]} {status}"[:width].center(width),
        ]

    def render(self) -> Text:
        scene = self.scene
        box_w, gap, margin = box_geometry(self.size.width or 80)
        centers = {b: margin + i * (box_w + gap) + box_w // 2 for i, b in enumerate(BOXES)}
        states = scene.boxes if scene else tuple(BoxState(b) for b in BOXES)
        hop = scene.hop if scene else None
        rows = [Text(" " * margin) for _ in range(3)]
        for i, state in enumerate(states):
            style = self._style(state.state)
            for row, content in zip(rows, self._box_lines(state, box_w), strict=True):
                row.append(content, style)
            if i < len(states) - 1:
                rows[0].append(" " * gap)
                link = self._link(state.box, states[i + 1].box, hop, gap)
                rows[1].append_text(link)
                rows[2].append(" " * gap)
        lines = [Text(""), *rows]
        lines.extend(self._hop_lines(hop, centers, scene))
        return Text("\n").join(lines)

    def _link(self, left: Box, right: Box, hop: Hop | None, gap: int) -> Text:
        if hop and {hop.src, hop.dst} == {left, right}:
            arrow = "▶" if hop.dst == right else "◀"
            return Text(arrow.center(gap, "━"), self._style("arrow"))
        return Text("─" * gap, self._style("link"))

    def _hop_lines(
        self, hop: Hop | None, centers: dict[Box, int], scene: Scene | None
    ) -> list[Text]:
        width = self.size.width or 80
        if hop is None:
            waiting = "press space to play" if scene is None or scene.position < 0 else ""
            pad = " " * max(0, (width - len(waiting)) // 2)
            return [Text(""), Text(pad + waiting, self._style("dim"))]
        a, b = centers[hop.src], centers[hop.dst]
        line = Text(" " * min(a, b))
        if a == b:  # within one box (dockerd mounting, the kernel exec'ing): a loop under it
            line = Text(" " * max(0, a - 1))
            line.append("↻●", self._style("arrow"))
            line.stylize(self._style("token"), len(line) - 1, len(line))
            token_at = -1
        else:
            lo, hi = min(a, b), max(a, b)
            body = ["━"] * (hi - lo + 1)
            body[0], body[-1] = ("┗", "▶") if b > a else ("◀", "┛")
            line.append("".join(body), self._style("arrow"))
            token_at = round(a + (b - a) * max(0.0, min(1.0, self.phase)))
        line.stylize(self._style("token"), token_at, token_at + 1)
        chars = list(line.plain)
        if 0 <= token_at < len(chars):
            chars[token_at] = "●"
        token_line = Text("".join(chars))
        for span in line.spans:
            token_line.stylize(span.style, span.start, span.end)
        label = Text(no_wrap=True, overflow="ellipsis")
        what = crossed(hop)
        said = hop_label(hop.label).startswith(what)  # `exec echo hi` says it is an exec
        label.append(f"step {hop.step} · " + ("" if said else f"{what} · "), self._style("dim"))
        label.append(hop_label(hop.label), self._style("label"))
        mid = (a + b) // 2
        start = max(0, min(mid - label.cell_len // 2, width - label.cell_len))
        label_line = Text(" " * start)
        label_line.append_text(label)
        label_line.truncate(width, overflow="ellipsis")
        return [token_line, label_line]
