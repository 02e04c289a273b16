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
# runtime's thread clones, runc's mounts, dockerd's setns calls), or nothing but messages of
# its family while nothing reaches its lane (runc's cgroup mkdirs and attaches, dockerd's
# mounts and metadata writes for one request). A note (thread clones, a connect that reached
# no one) interrupts no fold, not being a message: a lane's notes in one step are one, that
# grows as the run is played; those a program makes before it sends anything are its start.
ADJACENT = ("exit", "close")
NOTES = ("threads", "tried")  # drawn as a note over a lane, not an arrow
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
        """The arrow that holds this event, if one does (one at most: each event is folded
        into one arrow), looked for from the end, where a live run's newest event is."""
        for i in range(len(self.arrows) - 1, -1, -1):
            if any(e is ev for e in self.arrows[i].events):
                return i
        return None


def sequence(trace: Trace, tree: ProcessTree | None = None) -> SequenceDiagram:
    """The trace's events as folded arrows; each arrow keeps the step of its first event."""
    events = trace.events
    tree = tree if tree is not None else process_tree(events)
    steps = _steps_of(trace)
    classify = Classifier(tree, spawns(events))
    names = {pid: p.names for pid, p in tree.procs.items()}
    folder = Folder(steps[1], {p.parent for p in tree.procs.values()})
    unknown: Counter[str] = Counter()
    for ev in events:
        msg = classify(ev)
        if msg is not None:
            folder.add(msg, ev)
        elif ev.kind not in KINDS_DRAWN and ev.kind not in KNOWN_SILENT:
            unknown[ev.kind] += 1
    arrows = tuple(
        Arrow(
            m.src,
            m.dst,
            m.kind,
            label(m.kind, evs, names),
            tuple(evs),
            step_of(evs, steps),
            phase_of(evs, steps),
        )
        for m, evs in folder.groups
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


class Folder:
    """The groups so far, and which of them each actor's next message may fold into."""

    def __init__(self, by_time: Mapping[int, int], parents: set[int | None]) -> None:
        self.by_time = by_time  # id(event) -> the step begun by then
        self.parents = parents  # pids that made a process
        self.groups: list[tuple[Message, list[Event]]] = []
        # a family folds while nothing new reaches its lane (a request, an event, an exit)
        self.arrived: Counter[Box] = Counter()  # lane -> messages that reached it so far
        self.epochs: list[int] = []  # each group's lane's arrivals when it began
        self.open: dict[object, list[int]] = {}  # actor (or a lane's notes) -> its open groups

    def add(self, msg: Message, ev: Event) -> None:
        phase = self.by_time.get(id(ev))
        # a lane's thread clones in one step are one note, whoever made them
        slot = ("note", msg.src, phase) if msg.kind in NOTES else msg.actor
        if msg.dst != msg.src:
            self.arrived[msg.dst] += 1
        at = self._fold_into(msg, self.open.get(slot, []))
        if ev.pid not in self.open and self._starting(msg, ev.pid):
            # what a program does by itself before it sends anything (its Go runtime's
            # threads, a lookup of nscd, absent) is part of its start; and a helper that did
            # nothing else before it ended (runc start, runc delete) is one arrow, its call
            # and its end
            at = next(iter(self.open.get(("spawn", ev.pid), ())), at)
        if at is not None:
            self.groups[at][1].append(ev)
            if at not in self.open.get(slot, ()):  # an exit, a close: just before
                self.open[slot] = [at]
            return
        opened = self.open.get(slot, [])
        # still open: the actor's others of its family, while nothing reached its lane
        same = [i for i in opened if msg.family is not None and self._alike(i, msg)]
        self.open[slot] = [*same, len(self.groups)]
        self.groups.append((msg, [ev]))
        self.epochs.append(self.arrived[msg.src])

    def _starting(self, msg: Message, pid: int) -> bool:
        return msg.kind in NOTES or (msg.kind == "exit" and pid not in self.parents)

    def _fold_into(self, msg: Message, opened: list[int]) -> int | None:
        if msg.key is None or not self.groups:
            return None
        if msg.kind in ADJACENT:
            last = len(self.groups) - 1
            return last if self.groups[last][0].key == msg.key else None
        # the actor's last group, or one of its family begun since its lane was last reached
        fits = [i for i in opened if i == opened[-1] or self._alike(i, msg)]
        return next((i for i in fits if self.groups[i][0].key == msg.key), None)

    def _alike(self, i: int, msg: Message) -> bool:
        same = self.groups[i][0].family == msg.family
        return same and self.epochs[i] == self.arrived[msg.src]


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


def phase_of(events: Seq[Event], steps: tuple[dict[int, int], dict[int, int]]) -> int | None:
    """The step the run was in at the arrow's evidence (the shim's exec, not the fork before
    it, which comes a moment before step 4 begins), else at its first event."""
    claimed, by_time = steps
    ev = next((e for e in events if id(e) in claimed), events[0])
    return by_time.get(id(ev))


def step_of(events: Seq[Event], steps: tuple[dict[int, int], dict[int, int]]) -> int | None:
    """An arrow's step: that of the first of its events some step claims as evidence (the
    fork before the shim's exec is not evidence, the exec is), else the step begun by then."""
    claimed, by_time = steps
    return next((claimed[id(ev)] for ev in events if id(ev) in claimed), by_time.get(id(events[0])))


def spawns(events: Seq[Event]) -> dict[int, Event]:
    """child pid -> its exec, for children whose first own act is an exec: the fork (and vfork
    clone) that made them fold into that exec's arrow."""
    first: dict[int, Event] = {}
    for ev in events:
        if ev.source != "proxy" and ev.pid and ev.pid not in first:
            first[ev.pid] = ev
    return {pid: ev for pid, ev in first.items() if ev.kind == "proc.exec"}
