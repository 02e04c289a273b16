"""The page's view of a run: what the Python chain folded, indexed so the page can replay it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tracer.chain.model import BOXES, STEP_TITLES, Box, Hop, Step, Trace
from tracer.chain.scene import LAYER_BOX, StepState, box_states, event_steps, step_states
from tracer.chain.sequence import sequence
from tracer.events import Event
from tracer.text.describe import describe
from tracer.text.narrate import to_json
from tracer.text.story import fold


def extras(trace: Trace, positions: Callable[[Sequence[Event]], list[int]]) -> dict[str, Any]:
    """What other folds of the chain add to the view: the sequence model (tracer/chain/
    sequence.py), each arrow with its lanes, label, kind, step and the position of its first
    event, so the page draws the arrows played so far. (The claims come with `to_json`.)"""
    arrows = [
        {
            "src": a.src,
            "dst": a.dst,
            "kind": a.kind,
            "label": a.label,
            "step": a.step,
            "pos": min(positions(a.events), default=-1),
            "evidence": positions(a.events),
        }
        for a in sequence(trace).arrows
    ]
    return {"sequence": {"messages": arrows}}


def _folded(events: list[Event], backend: str) -> Trace:
    """The fold of the run in the events, as the app's (tracer.tui.source.fold_events)."""
    if events:
        return fold(events, backend=backend)
    missing = tuple(Step(n, "missing", reason="nothing traced yet") for n in STEP_TITLES)
    return Trace(steps=missing, hops=(), events=(), backend=backend)


def make_view(events: Sequence[Event], backend: str = "") -> dict[str, Any]:
    """The fold of `events` (one run's, in the order they came) for the page: the steps, hops,
    checks and container as `dockertrace run --json` gives them, every event named by its index
    in `events`, and one frame per event of the trace (plus one before the first) saying what
    the app would show with its playhead there: the step, the active hop, the boxes, the steps'
    marks. Frames refer to interned box and step states: a run has few distinct ones."""
    trace = _folded(list(events), backend)
    index = {id(ev): i for i, ev in enumerate(events)}
    order = [index.get(id(ev), -1) for ev in trace.events]

    at = {id(ev): p for p, ev in enumerate(trace.events)}

    def positions(evs: Sequence[Event]) -> list[int]:
        return [at[id(ev)] for ev in evs if id(ev) in at]

    folded = to_json(trace)
    for step, s in zip(folded["steps"], trace.steps, strict=True):
        step["evidence"] = positions(s.evidence)
    hop_at = {id(h): i for i, h in enumerate(trace.hops)}
    for hop, h in zip(folded["hops"], trace.hops, strict=True):
        hop["pos"] = positions([h.event])[0] if positions([h.event]) else -1
    for claim, c in zip(folded["claims"], trace.claims, strict=True):
        claim["observed"] = claim.get("seen") or claim.get("how") or ""
        claim["evidence"] = positions(c.evidence)
    frames, boxes, marks = _frames(trace, hop_at)
    return {
        **folded,
        **extras(trace, positions),
        "boxes_order": list(BOXES),
        "titles": {str(n): t for n, t in STEP_TITLES.items()},
        "start_ns": trace.start_ns,
        "order": order,
        "lines": [describe(ev) for ev in trace.events],
        "frames": frames,
        "box_states": boxes,
        "step_states": marks,
        "failure": failure(trace),
    }


def _frames(
    trace: Trace, hop_at: dict[int, int]
) -> tuple[list[list[int]], list[list[Any]], list[list[Any]]]:
    """[step, hop, boxes, marks] for the playhead before the first event, then at each."""
    steps = event_steps(trace)
    box_ids: dict[tuple[Any, ...], int] = {}
    mark_ids: dict[tuple[Any, ...], int] = {}
    frames = []
    started = _Steps(
        tuple(_Started(s.number, s.status, s.start_ns) for s in trace.steps), trace.start_ns
    )
    for position, (boxes, hop) in enumerate(_boxes_all(trace), start=-1):
        m = tuple((s.shown, s.offset_ns) for s in _marks(trace, started, position, steps))
        frames.append(
            [
                (steps[position] if position >= 0 else None) or 0,
                hop_at.get(id(hop), -1) if hop is not None else -1,
                box_ids.setdefault(boxes, len(box_ids)),
                mark_ids.setdefault(m, len(mark_ids)),
            ]
        )
    return frames, [list(map(list, b)) for b in box_ids], [list(map(list, m)) for m in mark_ids]


@dataclass(frozen=True)
class _Started:
    """A step with its start worked out once: Step.start_ns walks its evidence at each call,
    and the marks of every position ask it 7 times each (seconds for a long run)."""

    number: int
    status: str
    start_ns: int | None


@dataclass(frozen=True)
class _Steps:
    """What scene's step marks read of a trace: its steps and its start."""

    steps: tuple[_Started, ...]
    start_ns: int


def _marks(
    trace: Trace, started: _Steps, position: int, steps: list[int | None]
) -> tuple[StepState, ...]:
    event = trace.events[position] if position >= 0 else None
    finished = position == len(trace.events) - 1
    current = steps[position] if position >= 0 else None
    time_ns = event.time_ns if event else 0
    return step_states(started, time_ns, finished, current)  # type: ignore[arg-type]


BoxRow = tuple[tuple[int | None, str, str], ...]  # each box's (pid, state, note)


def _boxes_all(trace: Trace) -> list[tuple[BoxRow, Hop | None]]:
    """The boxes and the active hop at every playhead (-1 first), as scene_at gives them, in
    one pass: scene_at walks the events up to its position each time, n² for a whole run
    (seconds for a few thousand events). tests/web/test_view.py holds the two equal at every
    position of every bundled recording."""
    pids: dict[Box, dict[int, None]] = {b: {} for b in BOXES}
    ended: dict[int, str] = {}
    seen: set[Box] = set()
    requests = 0
    hops = sorted(trace.hops, key=lambda h: h.time_ns)
    crossed = 0
    out: list[tuple[BoxRow, Hop | None]] = [(_row(pids, ended, set(), 0, None), None)]
    for ev in trace.events:
        box = LAYER_BOX.get(ev.layer)
        if box is not None:
            seen.add(box)
            requests += ev.kind == "http.request"
            if ev.pid and box != "socket" and ev.source != "proxy":
                pids[box].pop(ev.pid, None)
                pids[box][ev.pid] = None
                if ev.kind == "proc.exit":
                    code = ev.detail.get("exit_code")
                    ended[ev.pid] = f"exit {code}" if code is not None else "exited"
        while crossed < len(hops) and hops[crossed].time_ns <= ev.time_ns:
            seen.update((hops[crossed].src, hops[crossed].dst))
            crossed += 1
        hop = hops[crossed - 1] if crossed else None
        out.append((_row(pids, ended, seen, requests, hop), hop))
    return out


def _row(
    pids: dict[Box, dict[int, None]],
    ended: dict[int, str],
    seen: set[Box],
    requests: int,
    hop: Hop | None,
) -> BoxRow:
    """Each box's (pid, state, note), as the app's scene has them."""
    return tuple((b.pid, b.state, b.note) for b in box_states(pids, ended, seen, requests, hop))


def failure(trace: Trace) -> dict[str, Any] | None:
    """Where the run failed, as the step list says it, with the layer that said so: the first
    step with an error, else the proxy's word that the daemon could not be reached."""
    for s in trace.steps:
        if s.error:
            layer = s.evidence[-1].layer if s.evidence else ""
            return {"step": s.number, "layer": layer, "error": s.error}
    for ev in trace.events:
        if ev.kind in ("upstream.unreachable", "proxy.error"):
            return {"step": 2, "layer": ev.layer, "error": describe(ev)}
    return None
