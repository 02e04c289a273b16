"""The selected event in full: HTTP with pretty JSON, decoded flags, argv, host and inner pids."""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tracer.chain.model import Trace
from tracer.events import Event
from tracer.text.describe import describe
from tracer.tui.rendered_lines import RenderedLines


def argv_text(argv: object) -> str:
    return shlex.join(str(a) for a in argv) if isinstance(argv, list | tuple) else ""


def excerpt_text(excerpt: object) -> str:
    """A stream excerpt as a quoted string with visible escapes: "hi\\n"."""
    s = str(excerpt or "")
    return '"' + s.encode("unicode_escape").decode("ascii", "replace").replace('"', '\\"') + '"'


# A burst of events (playing fast, a live run) draws the pane once, with the last one: it waits
# until no new event came for DRAW_DELAY_S, or DRAW_AT_MOST_S after the first of the burst.
# Drawing it (pretty JSON through Rich) costs a good part of a frame.
DRAW_DELAY_S = 0.08
DRAW_AT_MOST_S = 1.0
NO_EVENT = Text("No event selected yet.", "dim")
# detail keys shown in their own rows; the rest are listed under "more"
SHOWN = {
    "flags",
    "method",
    "target",
    "status",
    "reason",
    "body_json",
    "argv",
    "filename",
    "flag_names",
    "excerpt",
    "stream",
    "direction",
    "headers",
}


def _json(value: Any) -> RenderableType:
    from rich.syntax import Syntax  # pygments is slow to import: not before the first body

    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return Syntax(text, "json", theme="ansi_dark", background_color="default", word_wrap=True)


def pids_line(ev: Event, trace: Trace | None) -> str:
    parts = [f"pid {ev.pid}" if ev.pid else "pid —"]
    if ev.tid and ev.tid != ev.pid:
        parts.append(f"tid {ev.tid}")
    if ev.ppid:
        parts.append(f"ppid {ev.ppid}")
    if ev.comm:
        parts.append(f"({ev.comm})")
    box = trace.container if trace else None
    if box and box.host_pid and ev.pid == box.host_pid and box.ns_pid is not None:
        how = f"; {box.ns_pid_how}" if box.ns_pid_how else ""
        parts.append(f"= pid {box.ns_pid} inside the container{how}")
    return " ".join(parts)


def event_view(ev: Event, trace: Trace | None) -> RenderableType:
    d = ev.detail
    start = trace.start_ns if trace else ev.time_ns
    head = Text()
    head.append(ev.kind, "bold")
    head.append(f" · {ev.layer} · {ev.source} · +{(ev.time_ns - start) / 1e6:.3f} ms")
    rows = Table.grid(padding=(0, 1))
    rows.add_column(style="bold", no_wrap=True)
    rows.add_column(ratio=1)
    rows.add_row("what", describe(ev))
    rows.add_row("pids", pids_line(ev, trace))
    if "argv" in d:
        rows.add_row("argv", argv_text(d["argv"]))
    if "filename" in d:
        rows.add_row("file", str(d["filename"]))
    if d.get("flag_names"):
        value = d.get("flags")
        as_hex = f"{value:#x} =\n" if isinstance(value, int) else ""
        rows.add_row("flags", as_hex + "\n".join(map(str, d["flag_names"])))
    if "excerpt" in d:
        rows.add_row("bytes", f"{d.get('stream', 'raw')} {excerpt_text(d['excerpt'])}")
    if "status" in d:
        rows.add_row("status", f"{d['status']} {d.get('reason', '')}")
    more = {k: v for k, v in d.items() if k not in SHOWN}
    parts: list[RenderableType] = [head, rows]
    if "body_json" in d and d["body_json"] is not None:
        parts += [Text("body", "bold"), _json(d["body_json"])]
    if isinstance(d.get("headers"), dict | list) and d["headers"]:
        parts += [Text("headers", "bold"), _json(d["headers"])]
    if more:
        parts += [Text("more", "bold"), _json(more)]
    return Group(*parts)


class DetailPane(RenderedLines):
    """Everything known about one event."""

    DEFAULT_CSS = """
    DetailPane {
        border: round $primary 50%;
        border-title-color: $text;
        padding: 0 1;
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(
        self,
        *,
        id: str | None = None,
        get_time: Callable[[], float] = time.monotonic,  # the clock its timers run on
    ) -> None:
        super().__init__(1, id=id)
        self.get_time = get_time
        self.set_block(0, NO_EVENT)
        self.border_title = "Event"
        self.event: Event | None = None
        self._trace: Trace | None = None
        self._scheduled = False
        self._shown_at = self._burst_began = 0.0

    @property
    def body(self) -> RenderableType:
        """What the pane shows."""
        return self.renderable(0)

    def show(self, ev: Event | None, trace: Trace | None) -> None:
        """Show `ev` soon: while events stream past, only the last of a burst is drawn."""
        if ev is self.event:
            return
        self.event = ev
        self._trace = trace
        self._shown_at = self.get_time()
        if not self._scheduled:
            self._scheduled = True
            self._burst_began = self._shown_at
            self.set_timer(DRAW_DELAY_S, self._draw_when_quiet)

    def _draw_when_quiet(self) -> None:
        now = self.get_time()
        quiet_in = self._shown_at + DRAW_DELAY_S - now
        if quiet_in > 0 and now - self._burst_began < DRAW_AT_MOST_S:
            self.set_timer(quiet_in, self._draw_when_quiet)
            return
        self._draw()

    def _draw(self) -> None:
        self._scheduled = False
        ev = self.event
        self.set_block(0, event_view(ev, self._trace) if ev else NO_EVENT)
        self.scroll_to(y=0, animate=False, immediate=True)

    def show_group(self, title: str, events: Sequence[Event], trace: Trace | None) -> None:
        """An arrow of the sequence view: every event folded into it, the first one in full."""
        if not events:
            return
        self.event, self._trace = events[0], trace
        start = trace.start_ns if trace else events[0].time_ns
        listed = Text()
        for ev in events[:40]:
            listed.append(f"+{(ev.time_ns - start) / 1e6:8.3f} ms  {ev.pid:>6}  {describe(ev)}\n")
        if len(events) > 40:
            listed.append(f"… and {len(events) - 40} more\n", "dim")
        head = Text(f"{title} ({len(events)} event{'s' if len(events) > 1 else ''})", "bold")
        self.set_block(0, Group(head, listed, event_view(events[0], trace)))
        self.scroll_to(y=0, animate=False, immediate=True)
