"""The run as a sequence diagram: lanes per component, one arrow per message, folded (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field

from tracer.chain.labels import label
from tracer.chain.messages import KINDS_DRAWN, Classifier, Message
from tracer.chain.model import BOXES, Box, Trace
from tracer.chain.process_tree import ProcessTree, process_tree
from tracer.events import Event

# Messages that fold only into the arrow just before them (an exit, a connection's closes);
# the rest fold into the last arrow of the same process while it sends nothing else (a Go
# runtime's thread clones, runc's mounts, dockerd's setns calls).
ADJACENT = ("exit", "close", "fifo")
NOTES = ("threads",)  # drawn as a note over a lane, not an arrow
KNOWN_SILENT = ("proc.seen", "source.unavailable")  # state, not messages: not drawn, not unknown


@dataclass(frozen=True)
class Arrow:
    """One message, or a group of alike messages, between two lanes."""

    src: Box
    dst: Box
    kind: str  # request, response, frame, connect, exec, clone, threads, namespace, mount, ...
    label: str  # short: "POST /containers/create", "unshare(NEWNS|NEWPID)", "+12 threads"
    events: tuple[Event, ...]  # the evidence: every event folded into it, in time order
    step: int | None = None  # the step its evidence proves (the first claimed by one)
    phase: int | None = None  # the step the run was in when it crossed (the latest begun)

    @property
    def time_ns(self) -> int:
        return self.events[0].time_ns

    @property
    def end_ns(self) -> int:
        return self.events[-1].time_ns

    @property
    def count(self) -> int:
        return len(self.events)

    @property
    def note(self) -> bool:
        return self.kind in NOTES

    def seen_by(self, time_ns: int) -> int:
        """How many of its events had happened by time_ns (a group grows as it is played)."""
        return sum(1 for ev in self.events if ev.time_ns <= time_ns)


@dataclass(frozen=True)
class SequenceDiagram:
    """The arrows of one run in time order, and what the diagram cannot show."""

    arrows: tuple[Arrow, ...]
    lanes: tuple[Box, ...] = BOXES
    unknown: tuple[tuple[str, int], ...] = ()  # kinds not drawn, with their counts
    has_run: bool = True  # an API call was seen
    has_kernel: bool = True  # a kernel probe's events are in it
    missing_steps: tuple[tuple[int, str], ...] = ()  # steps not observed, and why
    names: Mapping[int, Seq[str]] = field(default_factory=dict)  # each pid's names, for labels

    def index_at(self, time_ns: int) -> int:
        """The latest arrow begun by time_ns (-1: none yet)."""
        current = -1
        for i, a in enumerate(self.arrows):
            if a.time_ns > time_ns:
                break
            current = i
        return current

    def of_event(self, ev: Event) -> int | None:
        """The arrow that holds this event, if one does."""
        for i, a in enumerate(self.arrows):
            if any(e is ev for e in a.events):
                return i
        return None


def sequence(trace: Trace, tree: ProcessTree | None = None) -> SequenceDiagram:
    """The trace's events as folded arrows; each arrow keeps the step of its first event."""
    events = trace.events
    tree = tree if tree is not None else process_tree(events)
    steps = _steps_of(trace)
    classify = Classifier(tree, _spawns(events))
    names = {pid: p.names for pid, p in tree.procs.items()}
    groups: list[tuple[Message, list[Event]]] = []
    open_by_actor: dict[object, int] = {}  # actor -> index of its last group
    unknown: Counter[str] = Counter()
    for ev in events:
        msg = classify(ev)
        if msg is None:
            if ev.kind not in KINDS_DRAWN and ev.kind not in KNOWN_SILENT:
                unknown[ev.kind] += 1
            continue
        at = _fold_into(groups, open_by_actor, msg)
        if at is None:
            groups.append((msg, [ev]))
            at = len(groups) - 1
        else:
            groups[at][1].append(ev)
        open_by_actor[msg.actor] = at
    arrows = tuple(
        Arrow(
            m.src,
            m.dst,
            m.kind,
            label(m.kind, evs, names),
            tuple(evs),
            _step(evs, steps),
            _phase(evs, steps),
        )
        for m, evs in groups
    )
    has_kernel = any(ev.source in ("bpf", "tracefs") for ev in events)
    return SequenceDiagram(
        arrows=arrows,
        unknown=tuple(sorted(unknown.items())),
        has_run=any(ev.kind == "http.request" for ev in events),
        has_kernel=has_kernel,
        # the trace's own words for why, when it was worded (tracer.text.story), else its code
        missing_steps=tuple(
            (s.number, s.reason or s.why) for s in trace.steps if s.status == "missing"
        ),
        names=names,
    )


def _fold_into(
    groups: list[tuple[Message, list[Event]]], open_by_actor: dict[object, int], msg: Message
) -> int | None:
    if msg.key is None or not groups:
        return None
    if msg.kind in ADJACENT:
        last = len(groups) - 1
        return last if groups[last][0].key == msg.key else None
    at = open_by_actor.get(msg.actor)
    if at is not None and groups[at][0].key == msg.key:
        return at
    return None


def _steps_of(trace: Trace) -> tuple[dict[int, int], dict[int, int]]:
    """id(event) -> the first step whose evidence holds it; and -> the step begun by then."""
    claimed: dict[int, int] = {}
    for s in trace.steps:
        for ev in s.evidence:
            claimed.setdefault(id(ev), s.number)
    # Trace.step_at for each event, with each step's start found once, not once an event
    starts = [(s.number, start) for s in trace.steps if (start := s.start_ns) is not None]
    by_time: dict[int, int] = {}
    for ev in trace.events:
        begun = [n for n, start in starts if start <= ev.time_ns]
        if begun:
            by_time[id(ev)] = begun[-1]
    return claimed, by_time


def _phase(events: Seq[Event], steps: tuple[dict[int, int], dict[int, int]]) -> int | None:
    """The step the run was in at the arrow's evidence (the shim's exec, not the fork before
    it, which comes a moment before step 4 begins), else at its first event."""
    claimed, by_time = steps
    ev = next((e for e in events if id(e) in claimed), events[0])
    return by_time.get(id(ev))


def _step(events: Seq[Event], steps: tuple[dict[int, int], dict[int, int]]) -> int | None:
    """An arrow's step: that of the first of its events some step claims as evidence (the
    fork before the shim's exec is not evidence, the exec is), else the step begun by then."""
    claimed, by_time = steps
    return next((claimed[id(ev)] for ev in events if id(ev) in claimed), by_time.get(id(events[0])))


def _spawns(events: Seq[Event]) -> dict[int, Event]:
    """child pid -> its exec, for children whose first own act is an exec: the fork (and vfork
    clone) that made them fold into that exec's arrow."""
    first: dict[int, Event] = {}
    for ev in events:
        if ev.source != "proxy" and ev.pid and ev.pid not in first:
            first[ev.pid] = ev
    return {pid: ev for pid, ev in first.items() if ev.kind == "proc.exec"}
