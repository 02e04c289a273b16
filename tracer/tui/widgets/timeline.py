"""Every event played so far, by layer and by search; the cursor follows the playhead."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Static

from tracer.chain.model import Trace
from tracer.events import Event
from tracer.text.describe import describe
from tracer.tui.widgets.event_table import Column, EventTable, Row

LAYER_ORDER: tuple[str, ...] = (
    "cli",
    "proxy",
    "dockerd",
    "containerd",
    "shim",
    "runc",
    "container",
    "kernel",
)


def layer_filters(events: Sequence[Event]) -> tuple[str, ...]:
    """ "all", then the layers these events have, in the chain's order."""
    present = {ev.layer for ev in events} | {"proxy" for ev in events if ev.source == "proxy"}
    return ("all", *[layer for layer in LAYER_ORDER if layer in present])


def matches(ev: Event, layer: str, search: str) -> bool:
    if layer == "proxy":  # what crossed the socket, whichever side the proxy saw it from
        if ev.source != "proxy" and ev.layer != "proxy":
            return False
    elif layer != "all" and ev.layer != layer:
        return False
    if not search:
        return True
    hay = f"{ev.kind} {ev.layer} {ev.comm} {ev.pid} {describe(ev)}".lower()
    return search.lower() in hay


SEARCH_HINT = "/ search events"


class SearchHint(Static):
    """Where the search box goes, until it is first wanted (a click here, or /)."""

    def on_click(self) -> None:
        self.query_ancestor(Timeline).open_search()


class Timeline(Vertical):
    """A table of events up to the playhead, with a layer filter and a search box above it."""

    DEFAULT_CSS = """
    Timeline {
        border: round $primary 50%;
        border-title-color: $text;
        height: 1fr;
    }
    Timeline > Horizontal { height: 1; }
    Timeline #filter { width: auto; padding: 0 1; color: $text-muted; }
    Timeline Input { border: none; height: 1; width: 1fr; padding: 0 1; background: $boost; }
    Timeline Input:focus { border: none; background: $accent 25%; }
    Timeline #search-hint { height: 1; width: 1fr; padding: 0 1; background: $boost;
                            color: $text-muted; }
    Timeline EventTable { height: 1fr; scrollbar-size-vertical: 1; overflow-x: hidden; }
    """

    @dataclass
    class Chosen(Message):
        """The user moved the cursor onto an event (its index in the trace)."""

        index: int

    @dataclass
    class Seek(Message):
        """The user picked an event (Enter or click): move the playhead there."""

        index: int

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Timeline"
        self.layer_filter = "all"
        self.search_text = ""
        self._trace: Trace | None = None
        self._played = -1  # the playhead position the rows were built up to

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Static(self._filter_text(), id="filter")
            # the search box is made when first wanted: an Input (its styles, its cursor)
            # cost the first frame ~25 ms, and most runs of the app never search
            yield SearchHint(SEARCH_HINT, id="search-hint")
        yield EventTable([Column("+ms", 6), Column("layer", 9), Column("what", None)])

    def open_search(self) -> None:
        """Focus the search box, made now if it is not yet."""
        found = self.query("#search")
        if found:
            found.first().focus()
            return
        box = Input(placeholder=SEARCH_HINT, id="search")
        hint = self.query_one("#search-hint")
        hint.parent.mount(box, after=hint)  # type: ignore[union-attr]
        hint.remove()
        box.focus()

    def _filter_text(self) -> str:
        return f"layer: {self.layer_filter} (l)"

    @property
    def table(self) -> EventTable:
        return self.query_one(EventTable)

    def show(self, trace: Trace, position: int) -> None:
        """Show the events up to `position`, adding rows when it only moved forward."""
        table = self.table
        if position < self._played:
            self._played = -1
            table.clear()
        elif trace is not self._trace:
            # a live run's trace grows at its end, but an event can arrive late and land
            # before others: keep the rows up to the first event that differs
            same = self._same_prefix(trace)
            if same <= self._played:
                table.truncate(same)
                self._played = same - 1
        self._trace = trace
        start = self._played + 1
        self._played = position
        table.add_rows(
            [
                self._row(trace, i, trace.events[i])
                for i in range(start, position + 1)
                if matches(trace.events[i], self.layer_filter, self.search_text)
            ]
        )
        # the cursor follows the playhead now, so the next frame shows the newest row
        table.move_cursor(table.row_of(position) if table.row_count else -1)

    def _same_prefix(self, trace: Trace) -> int:
        """How many of the events shown are the same, in the same places, in `trace`."""
        old = self._trace
        if old is None or old.start_ns != trace.start_ns:  # every row's +ms would change
            return 0
        n = min(self._played + 1, len(trace.events), len(old.events))
        for i in range(n):
            a, b = old.events[i], trace.events[i]
            if a is not b and (a.time_ns, a.kind, a.pid) != (b.time_ns, b.kind, b.pid):
                return i
        return n

    @staticmethod
    def _row(trace: Trace, i: int, ev: Event) -> Row:
        offset = (ev.time_ns - trace.start_ns) / 1e6
        return Row(i, (f"{offset:6.1f}", ev.layer, describe(ev, compact=True)))

    def refilter(self) -> None:
        trace, played = self._trace, self._played
        if trace is None:
            return
        self._played = -1
        self.table.clear()
        self.show(trace, played)
        self.query_one("#filter", Static).update(self._filter_text())

    def show_layer(self, layer: str) -> None:
        self.layer_filter = layer
        self.refilter()

    def cycle_layer(self) -> str:
        filters = layer_filters(self._trace.events if self._trace else ())
        i = filters.index(self.layer_filter) if self.layer_filter in filters else -1
        self.layer_filter = filters[(i + 1) % len(filters)]
        self.refilter()
        return self.layer_filter

    @on(Input.Changed, "#search")
    def _search_changed(self, message: Input.Changed) -> None:
        self.search_text = message.value.strip()
        self.refilter()

    @on(Input.Submitted, "#search")
    def _search_done(self) -> None:
        self.table.focus()

    @on(EventTable.Highlighted)
    def _highlighted(self, message: EventTable.Highlighted) -> None:
        message.stop()
        self.post_message(self.Chosen(message.index))

    @on(EventTable.Selected)
    def _selected(self, message: EventTable.Selected) -> None:
        message.stop()
        self.post_message(self.Seek(message.index))
