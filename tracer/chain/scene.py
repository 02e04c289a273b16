"""What the screen shows at a playhead: a pure function of a Trace and an event index."""

from __future__ import annotations

from dataclasses import dataclass

from tracer.chain.model import BOXES, Box, Hop, Trace
from tracer.events import Event

# Which event layers speak for which box of the chain.
BOX_LAYERS: dict[Box, tuple[str, ...]] = {
    "cli": ("cli",),
    "socket": ("proxy",),
    "dockerd": ("dockerd",),
    "containerd": ("containerd",),
    "shim": ("shim",),
    "runc": ("runc",),
    "kernel": ("container", "kernel"),
}
LAYER_BOX: dict[str, Box] = {layer: box for box, layers in BOX_LAYERS.items() for layer in layers}


@dataclass(frozen=True)
class BoxState:
    """One box of the chain at the playhead."""

    box: Box
    pid: int | None = None  # the latest pid seen in this box's layers
    state: str = "idle"  # idle | seen | active | exited
    note: str = ""  # e.g. "3 req" for the socket, "exit 0" after proc.exit


@dataclass(frozen=True)
class StepState:
    """One step as it stands at the playhead."""

    number: int
    shown: str  # observed | skipped | missing | pending (not reached yet)
    offset_ns: int | None  # since the start of the trace, when observed by now
    current: bool


@dataclass(frozen=True)
class Scene:
    """Everything the widgets draw for one playhead position."""

    position: int  # index into trace.events; -1 before the first event
    time_ns: int  # the playhead's time (the current event's)
    boxes: tuple[BoxState, ...]
    steps: tuple[StepState, ...]
    hop: Hop | None  # the active hop: the latest one crossed by now
    hops_done: int  # how many hops have been crossed by now
    event: Event | None  # the current event
    finished: bool  # the playhead is on the last event

    def box(self, name: Box) -> BoxState:
        return next(b for b in self.boxes if b.box == name)

    @property
    def current_step(self) -> int | None:
        return next((s.number for s in self.steps if s.current), None)

    @property
    def active_boxes(self) -> tuple[Box, ...]:
        return tuple(b.box for b in self.boxes if b.state == "active")


def _box_states(trace: Trace, upto: int, hop: Hop | None) -> tuple[BoxState, ...]:
    # per box: its pids in order of last activity, and how those that ended did
    pids: dict[Box, dict[int, None]] = {b: {} for b in BOXES}
    ended: dict[int, str] = {}
    seen: set[Box] = set()
    requests = 0
    for ev in trace.events[: upto + 1]:
        box = LAYER_BOX.get(ev.layer)
        if box is None:
            continue
        seen.add(box)
        if ev.kind == "http.request":
            requests += 1
        # the proxy's events carry the client's pid whichever side they describe
        if ev.pid and box != "socket" and ev.source != "proxy":
            pids[box].pop(ev.pid, None)
            pids[box][ev.pid] = None
            if ev.kind == "proc.exit":
                code = ev.detail.get("exit_code")
                ended[ev.pid] = f"exit {code}" if code is not None else "exited"
    for h in trace.hops:
        if upto >= 0 and h.time_ns <= trace.events[upto].time_ns:
            seen.update((h.src, h.dst))
    return box_states(pids, ended, seen, requests, hop)


def box_states(
    pids: dict[Box, dict[int, None]],
    ended: dict[int, str],
    seen: set[Box],
    requests: int,
    hop: Hop | None,
) -> tuple[BoxState, ...]:
    """Each box's pid, state and note from what came so far: its pids in order of last
    activity, how those that ended did, the boxes seen, the requests, the hop in flight."""
    active = {hop.src, hop.dst} if hop else set()
    states = []
    for box in BOXES:
        order = list(pids[box])
        alive = [p for p in order if p not in ended]
        # a helper that came and went (dockerd's libnetwork-setkey hook) does not hide the
        # daemon that is still there; the box shows an exit only when all its processes ended
        pid = alive[-1] if alive else (order[-1] if order else None)
        note = ended.get(pid, "") if pid is not None and not alive else ""
        if box in active:
            state = "active"
        elif note:
            state = "exited"
        elif box in seen:
            state = "seen"
        else:
            state = "idle"
        if box == "socket" and requests:
            note = f"{requests} req"
        states.append(BoxState(box, pid, state, note))
    return tuple(states)


def step_states(
    trace: Trace, time_ns: int, finished: bool, current: int | None
) -> tuple[StepState, ...]:
    reached = [s.number for s in trace.steps if s.start_ns is not None and s.start_ns <= time_ns]
    last_reached = max(reached, default=0)
    out = []
    for s in trace.steps:
        if s.start_ns is not None and s.start_ns <= time_ns:
            shown = "observed"
        elif s.status != "observed" and (finished or s.number < last_reached):
            shown = s.status
        else:
            shown = "pending"
        offset = s.start_ns - trace.start_ns if shown == "observed" and s.start_ns else None
        if shown == "observed" and s.start_ns == trace.start_ns:
            offset = 0
        out.append(StepState(s.number, shown, offset, s.number == current))
    return tuple(out)


def scene_at(trace: Trace, position: int, steps: list[int | None] | None = None) -> Scene:
    """The scene with the playhead on event `position` (clamped; -1 means before the start).
    `steps` is event_steps(trace), passed in by callers that draw many scenes of one trace."""
    position = max(-1, min(position, len(trace.events) - 1))
    if steps is None:
        steps = event_steps(trace)
    current = steps[position] if position >= 0 else None
    event = trace.events[position] if position >= 0 else None
    time_ns = event.time_ns if event else 0
    finished = position == len(trace.events) - 1
    # hops come grouped by kind, not in time order; the active one is the latest crossed
    crossed = sorted(
        (h for h in trace.hops if event is not None and h.time_ns <= time_ns),
        key=lambda h: h.time_ns,
    )
    hop = crossed[-1] if crossed else None
    return Scene(
        position=position,
        time_ns=time_ns,
        boxes=_box_states(trace, position, hop) if event else _box_states(trace, -1, None),
        steps=step_states(trace, time_ns, finished, current),
        hop=hop,
        hops_done=len(crossed),
        event=event,
        finished=finished,
    )


def event_steps(trace: Trace) -> list[int | None]:
    """The step shown at each event. Evidence interleaves (the CLI's later requests belong to
    step 1, the attach stream of step 7 opens before step 4), but the story on screen moves
    forward one step at a time: to step k once steps before it have begun, at an event of k's
    own evidence (or at once, when k has none left)."""

    def key(ev: Event) -> tuple[int, str, int, int]:
        return (ev.time_ns, ev.kind, ev.pid, ev.tid)

    index: dict[tuple[int, str, int, int], int] = {}
    for i, ev in enumerate(trace.events):
        index.setdefault(key(ev), i)
    claims: dict[int, set[int]] = {}  # step -> indexes of its evidence
    for s in trace.steps:
        found = {index[key(ev)] for ev in s.evidence if key(ev) in index}
        if found:
            claims[s.number] = found
    order = sorted(claims)
    if not order:
        return [None] * len(trace.events)
    out: list[int | None] = []
    shown: int | None = None
    for i in range(len(trace.events)):
        while True:
            nxt = order[0] if shown is None else next((n for n in order if n > shown), None)
            if nxt is None or min(claims[nxt]) > i:
                break
            if i not in claims[nxt] and max(claims[nxt]) > i:
                break  # wait for an event of its own
            shown = nxt
            if i in claims[nxt]:
                break
        out.append(shown)
    return out
