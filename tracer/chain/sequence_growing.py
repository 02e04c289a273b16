"""A live run's sequence diagram, extended at each batch instead of folded again (pure).

A live run folds its events again at every batch (a few ms apart); the trace it gives grows at
its end, and now and then changes behind it: a fork folds into its child's exec once the exec
has come, a step's start moves when its evidence is claimed, an exit's receiver is known only
once its parent's end is. So the arrows are not simply appended to: the folder's state is kept
after each batch, with what each event's fold read from outside it (the step begun by then,
the child's first act, the exit's receiver), and a new trace is folded on from the last kept
state that all of that still holds for. The result is always `sequence(trace, tree)`'s
(tests/unit/test_sequence_growing.py checks it on the bundled recordings in batches of several
sizes and orders); the arrows that did not change are the very objects of the last diagram,
so a view can tell what to draw again by identity.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field

from tracer.chain.labels import label
from tracer.chain.messages import KINDS_DRAWN, Classifier, Message, lane
from tracer.chain.model import Box, Trace
from tracer.chain.process_tree import ProcessTree, process_tree
from tracer.chain.sequence import (
    KNOWN_SILENT,
    NOTES,
    Arrow,
    Folder,
    SequenceDiagram,
    phase_of,
    spawns,
    step_of,
)
from tracer.events import Event

CLONES = ("sys.clone", "sys.clone3", "proc.fork")
KEPT = 16  # states kept besides the first (the empty one)


@dataclass
class _State:
    """Everything the fold carries from one event to the next (copied at each batch's end)."""

    groups: list[tuple[Message, list[Event]]] = field(default_factory=list)
    arrived: Counter[Box] = field(default_factory=Counter)
    epochs: list[int] = field(default_factory=list)
    open: dict[object, list[int]] = field(default_factory=dict)
    lanes: dict[int, Box] = field(default_factory=dict)
    upgraded: set[object] = field(default_factory=set)
    unknown: Counter[str] = field(default_factory=Counter)

    def copy(self) -> _State:
        # the folder appends to a group's event list in place, and replaces the rest
        return _State(
            [(m, list(evs)) for m, evs in self.groups],
            Counter(self.arrived),
            list(self.epochs),
            dict(self.open),
            dict(self.lanes),
            set(self.upgraded),
            Counter(self.unknown),
        )


# what one event's fold read from outside the folder: (event index, what, its value then)
Fact = tuple[int, str, object]


class GrowingSequence:
    """The sequence diagram of a trace that grows: `update(trace)` equals `sequence(trace)`."""

    def __init__(self) -> None:
        self._events: list[Event] = []  # folded so far, in the trace's order
        self._facts: list[Fact] = []  # in event order
        self._starts: tuple[tuple[int, int], ...] = ()  # each step's start, as last folded
        self._kept: list[tuple[int, _State]] = [(0, _State())]  # (events folded, state then)
        self._state = _State()  # the last batch's
        self._by_time: dict[int, int] = {}  # id(event) -> the step begun by then
        self._held: dict[int, Event] = {}  # the events those ids are of (no id reused)
        self._labels: list[tuple[str, tuple[Event, ...], str]] = []  # per group, last made
        self._arrows: list[Arrow] = []  # the last diagram's, by group
        self._claimed: dict[int, int] = {}  # id(event) -> the step it is evidence of, last time
        self._steps_kept = False  # the steps' starts are those of the last update
        self.refolded = 0  # how many events the last update folded (for tests and benches)

    def update(self, trace: Trace, tree: ProcessTree | None = None) -> SequenceDiagram:
        events = trace.events
        tree = tree if tree is not None else process_tree(events)
        starts = tuple((s.number, t) for s in trace.steps if (t := s.start_ns) is not None)
        self._steps_kept = starts == self._starts
        self._know_steps(events, starts)
        claimed: dict[int, int] = {}
        for s in trace.steps:
            for ev in s.evidence:
                claimed.setdefault(id(ev), s.number)
        spawned = spawns(events)
        parents = {p.parent for p in tree.procs.values()}
        classify = Classifier(tree, spawned)
        since = self._first_changed(events, starts, classify, spawned, parents)
        self._resume(since)
        self._fold(events, classify, parents)
        self._starts = starts
        return self._diagram(trace, tree, (claimed, self._by_time))

    # -- where to fold on from -----------------------------------------------------------------
    def _know_steps(self, events: Seq[Event], starts: tuple[tuple[int, int], ...]) -> None:
        """The step begun by each event's time (sequence._steps_of), worked out once an event
        while the steps' starts stay as they were."""
        if starts != self._starts:
            self._by_time, self._held = {}, {}
        by_time, held = self._by_time, self._held
        for ev in events:
            if held.get(id(ev)) is not ev:
                held[id(ev)] = ev
                begun = [n for n, start in starts if start <= ev.time_ns]
                if begun:
                    by_time[id(ev)] = begun[-1]
                else:
                    by_time.pop(id(ev), None)

    def _first_changed(
        self,
        events: Seq[Event],
        starts: tuple[tuple[int, int], ...],
        classify: Classifier,
        spawned: Mapping[int, Event],
        parents: set[int | None],
    ) -> int:
        """The first event folded before whose fold would now go otherwise."""
        done = self._events
        first = next(
            (i for i, (a, b) in enumerate(zip(done, events, strict=False)) if a is not b),
            min(len(done), len(events)),
        )
        if starts != self._starts:
            # a step's start moved: the events from the earliest start that changed on
            moved = min(t for _, t in set(starts) ^ set(self._starts))
            first = min(first, next((i for i, e in enumerate(done) if e.time_ns >= moved), first))
        for i, what, value in self._facts:
            if i >= first:
                break
            if self._fact(done[i], what, classify, spawned, parents) != value:
                first = i
                break
        return first

    @staticmethod
    def _fact(
        ev: Event,
        what: str,
        classify: Classifier,
        spawned: Mapping[int, Event],
        parents: set[int | None],
    ) -> object:
        if what == "spawn":  # an exec: whether its process's first own act is it
            return spawned.get(ev.pid) is not None
        if what == "child":  # a fork or clone: the exec its child's first act is, if any
            child = ev.detail.get("child_pid") if ev.kind == "proc.fork" else ev.detail.get("ret")
            spawn = spawned.get(child) if isinstance(child, int) else None
            return lane(spawn) if spawn is not None and spawn.time_ns >= ev.time_ns else None
        if what == "exit":  # who receives it, and whether it made a process
            return (classify.exit(ev), ev.pid in parents)
        raise ValueError(what)

    def _resume(self, since: int) -> None:
        """Go back to the last state kept at or before event `since`."""
        while self._kept[-1][0] > since:
            self._kept.pop()
        at = self._kept[-1][0]
        del self._events[at:]
        self._facts = [f for f in self._facts if f[0] < at]

    # -- folding on ----------------------------------------------------------------------------
    def _fold(self, events: Seq[Event], classify: Classifier, parents: set[int | None]) -> None:
        start = len(self._events)
        self.refolded = len(events) - start
        if start == len(events):  # nothing new: the kept state is the diagram's
            self._state = self._kept[-1][1]
            return
        state = self._state = self._kept[-1][1].copy()
        classify.lanes, classify.upgraded = state.lanes, state.upgraded
        folder = Folder(self._by_time, parents)
        folder.groups, folder.arrived, folder.epochs, folder.open = (
            state.groups,
            state.arrived,
            state.epochs,
            state.open,
        )
        facts, spawned = self._facts, classify.spawned
        for i in range(start, len(events)):
            ev = events[i]
            msg = classify(ev)
            what = _reads(ev, msg)
            if what:
                facts.append((i, what, self._fact(ev, what, classify, spawned, parents)))
            if msg is not None:
                folder.add(msg, ev)
            elif ev.kind not in KINDS_DRAWN and ev.kind not in KNOWN_SILENT:
                state.unknown[ev.kind] += 1
        self._events.extend(events[start:])
        # kept as it is now (the next batch folds on from a copy); the first always, and the
        # last few: what changes behind a live run's end is within its last batches
        self._kept.append((len(self._events), state))
        if len(self._kept) > KEPT + 1:
            del self._kept[1]

    # -- the diagram ---------------------------------------------------------------------------
    def _diagram(
        self, trace: Trace, tree: ProcessTree, steps: tuple[dict[int, int], dict[int, int]]
    ) -> SequenceDiagram:
        events = trace.events
        names = {pid: p.names for pid, p in tree.procs.items()}
        groups = self._state.groups
        last = self._arrows
        # an arrow's step and phase come from the steps' evidence and starts: while those stay
        # as they were, an arrow of the same events is the same arrow
        same_steps = steps[0] == self._claimed and self._steps_kept
        self._claimed = steps[0]
        arrows: list[Arrow] = []
        for n, (m, evs) in enumerate(groups):
            folded = tuple(evs)
            old = last[n] if n < len(last) else None
            if (
                same_steps
                and old is not None
                and m.kind != "clone"  # its label names the child, whose names can change
                and old.events == folded
                and (old.kind, old.src, old.dst) == (m.kind, m.src, m.dst)
            ):
                arrows.append(old)
                continue
            text = self._label(n, m, folded, names)
            step, phase = step_of(evs, steps), phase_of(evs, steps)
            arrow = Arrow(m.src, m.dst, m.kind, text, folded, step, phase)
            arrows.append(old if old is not None and old == arrow else arrow)
        self._arrows = arrows
        return SequenceDiagram(
            arrows=tuple(arrows),
            unknown=tuple(sorted(self._state.unknown.items())),
            has_run=any(ev.kind == "http.request" for ev in events),
            has_kernel=any(ev.source in ("bpf", "tracefs") for ev in events),
            missing_steps=tuple(
                (s.number, s.reason or s.why) for s in trace.steps if s.status == "missing"
            ),
            names=names,
        )

    def _label(
        self, n: int, m: Message, folded: tuple[Event, ...], names: dict[int, list[str]]
    ) -> str:
        """An arrow's label, made again only when its events changed (a clone's names the
        child, whose names can change: made every time)."""
        if m.kind != "clone" and n < len(self._labels):
            kind, evs, text = self._labels[n]
            if kind == m.kind and evs == folded:
                return text
        text = label(m.kind, folded, names)
        entry = (m.kind, folded, text)
        if n < len(self._labels):
            self._labels[n] = entry
        else:
            self._labels.append(entry)
        return text


def _reads(ev: Event, msg: Message | None) -> str:
    """What of the trace beyond the folder the fold of this event read (GrowingSequence._fact)."""
    if ev.kind == "proc.exec":
        return "spawn"
    if ev.kind in CLONES and msg is not None and msg.kind not in NOTES:
        return "child"
    if ev.kind == "proc.exit":
        return "exit"
    return ""
