"""The seven steps with status and time since the start, the current one lit, and its story."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import ClassVar, NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.console import Group, RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from tracer.chain.claims import CLAIM_STEP, SAME_AS_CHECK
from tracer.chain.model import Check, Trace
from tracer.text import claims as claims_text
from tracer.text.describe import short_ids
from tracer.tui.rendered_lines import Block, RenderedLines
from tracer.tui.scene import Scene

# Short titles for a narrow column; the full title (tracer.chain.model.STEP_TITLES) shows below.
SHORT_TITLES: dict[int, str] = {
    1: "CLI builds requests",
    2: "HTTP on the socket",
    3: "dockerd prepares",
    4: "containerd → runc",
    5: "runc: namespaces",
    6: "kernel runs it",
    7: "output comes back",
}
STORY_EVERY_S = 0.25  # while a live run grows, the story under the steps is redrawn this often
TABLE, STORY = 0, 1  # the pane's two blocks
ICONS = {"observed": "✓", "skipped": "↷", "missing": "✗", "pending": "·"}


def check_text(check: Check) -> str:
    if check.agrees is None:
        return f"“{check.story}”: not enough evidence here to say."
    if check.agrees:
        return f"“{check.story}”: yes — {check.observed}"
    return f"“{check.story}” — here: {check.observed}"


class Cell(NamedTuple):
    text: str
    style: Style


class StepRow(NamedTuple):
    icon: Cell
    number: str
    title: str
    when: Cell
    style: Style | None  # the current step's row


def step_rows(rows: tuple[StepRow, ...], width: int, base: Style) -> list[Strip]:
    """The step table's lines: the icon, the number, the short title (cut with an ellipsis)
    and the time on the right, in columns of fixed width, each row one strip (a Rich table
    measured all of it again at every change; this draws the same cells)."""
    when_w = max(8, *(cell_len(row.when.text) for row in rows))
    title_w = max(1, width - when_w - 6)  # icon 2, number 1, a space after all but the time
    strips = []
    for row in rows:
        style = base + row.style if row.style else base
        title = row.title
        if cell_len(title) > title_w:
            title = set_cell_size(title, title_w - 1) + "…"
        segments = [
            Segment(set_cell_size(row.icon.text, 2), style + row.icon.style),
            Segment(f" {row.number} {set_cell_size(title, title_w)} ", style),
            Segment(row.when.text.rjust(when_w), style + row.when.style),
        ]
        strips.append(Strip(segments).crop_extend(0, width, base))
    return strips


def checks_shown(trace: Trace, scene: Scene) -> list[Check]:
    """The reality checks whose evidence the playhead has reached (all of them at the end)."""
    return [
        c
        for c in trace.checks
        if scene.finished or (c.evidence and c.evidence[0].time_ns <= scene.time_ns)
    ]


class StepList(RenderedLines):
    """The step table, then the current step's title, summary, facts and reality checks."""

    DEFAULT_CSS = """
    StepList {
        border: round $primary 50%;
        border-title-color: $text;
        padding: 0 1;
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    StepList .step-list--current { background: $accent 35%; text-style: bold; }
    StepList .step-list--observed { color: $text-success; }
    StepList .step-list--skipped { color: $text-warning; }
    StepList .step-list--missing { color: $text-error; text-style: bold; }
    StepList .step-list--pending { color: $text-disabled; }
    StepList .step-list--check { color: $text-warning; }
    StepList .step-list--dim { color: $text-muted; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "step-list--current",
        "step-list--observed",
        "step-list--skipped",
        "step-list--missing",
        "step-list--pending",
        "step-list--check",
        "step-list--dim",
    }

    def __init__(
        self,
        trace: Trace,
        *,
        id: str | None = None,
        get_time: Callable[[], float] = time.monotonic,  # the clock its timers run on
    ) -> None:
        super().__init__(2, id=id)
        self.get_time = get_time
        self.trace = trace
        self.scene: Scene | None = None
        self._drawn: object = None  # the step rows drawn
        self._story_drawn: object = None  # the story lines drawn, and when
        self._story_at = -STORY_EVERY_S  # the first story is drawn at once
        self._story_later = False  # a story draw is scheduled
        self.border_title = "Steps"

    def _style(self, name: str) -> Style:
        if name == "bold":
            return Style(bold=True)
        return self.get_component_rich_style(f"step-list--{name}")

    def show(self, trace: Trace, scene: Scene) -> None:
        # redraw only what changed: most events change no step and no story
        grown = trace is not self.trace  # a live run's new fold (or another trace)
        self.trace = trace
        self.scene = scene
        if not self.is_mounted:
            self._drawn = self._story_drawn = None
            return
        if scene.steps != self._drawn:
            self._drawn = scene.steps
            self.set_block(TABLE, self._table())
        if grown and self.get_time() < self._story_at + STORY_EVERY_S:
            # a live run grows: the story (the current step's facts, "seen in N events")
            # changes at every fold, and drawing it costs a fold twice over; it is drawn a
            # few times a second, the table above it at once
            if not self._story_later:
                self._story_later = True
                self.set_timer(STORY_EVERY_S, self._draw_story)
        else:
            self._draw_story()

    def _draw_story(self) -> None:
        self._story_later = False
        story = self._story_lines()
        if story == self._story_drawn:
            return
        self._story_drawn = story
        self._story_at = self.get_time()
        self.set_block(
            STORY,
            Group(*(Text(text, self._style(style) if style else "") for text, style in story)),
        )

    @property
    def story(self) -> RenderableType:
        """The story under the table, as drawn."""
        return self.renderable(STORY)

    def on_mount(self) -> None:
        if self.scene is not None:
            self.show(self.trace, self.scene)

    def _table(self) -> Block:
        if self.scene is None:
            return Text("\n" * 6)  # the table's seven rows, empty
        rows = []
        for st in self.scene.steps:
            status = self._style(st.shown)
            when = f"+{st.offset_ns / 1e9:.3f}s" if st.offset_ns is not None else st.shown
            when = "" if st.shown == "pending" else when
            rows.append(
                StepRow(
                    Cell(ICONS[st.shown] + " ", status),
                    str(st.number),
                    SHORT_TITLES[st.number],
                    Cell(when, status if st.offset_ns is None else self._style("dim")),
                    self._style("current") if st.current else None,
                )
            )
        return partial(step_rows, tuple(rows))

    def _claim_lines(self, number: int | None) -> list[tuple[str, str]]:
        """The article's claims about the current step, each as this run settled it."""
        lines = []
        for c in self.trace.claims:
            if CLAIM_STEP[c.number] != number:
                continue
            head = f"{claims_text.MARKS[c.status]} “{claims_text.story(c)}”"
            if c.status == "observed":  # the step's own lines above say what was seen
                lines.append((head, "dim"))
            else:
                style = "check" if c.status == "corrected" else "missing"
                lines.append((short_ids(f"{head}: {claims_text.says(c)}"), style))
        return lines

    def _story_lines(self) -> tuple[tuple[str, str], ...]:
        """The story under the table: (text, style) lines; a style is bold or a component's."""
        scene = self.scene
        if scene is None or self.trace is None:
            return ()
        lines: list[tuple[str, str]] = [("", "")]
        number = scene.current_step
        if number is not None:
            step = self.trace.step(number)
            lines.append((f"Step {number}: {step.title}", "bold"))
            lines += [(short_ids(line), "") for line in (step.summary, *step.facts) if line]
            if step.error:
                lines.append((f"failed: {step.error}", "missing"))
        elif scene.position < 0:
            lines.append(("Before the first event. space plays, n steps.", "dim"))
        for st in scene.steps:
            if st.shown in ("missing", "skipped"):
                reason = self.trace.step(st.number).reason or "no evidence"
                lines.append((f"Step {st.number} {st.shown}: {reason}", st.shown))
        lines += self._claim_lines(number)
        said = {  # checks that a claim of this step says again, with its evidence
            SAME_AS_CHECK[c.number]
            for c in self.trace.claims
            if c.number in SAME_AS_CHECK and CLAIM_STEP[c.number] == number
        }
        for check in checks_shown(self.trace, scene):
            if check.name not in said:
                lines.append((short_ids("Reality check: " + check_text(check)), "check"))
        if scene.finished and self.trace.container and self.trace.container.output:
            out = self.trace.container.output.rstrip("\n")
            lines.append((f"Output: {out}", "bold"))
        return tuple(lines)
