"""The live sequence diagram, extended batch by batch, equals the one folded from scratch."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tracer.chain.model import Trace
from tracer.chain.process_tree import process_tree
from tracer.chain.sequence import sequence
from tracer.chain.sequence_growing import GrowingSequence
from tracer.events import Event
from tracer.record.format import read_recording
from tracer.text.story import fold

ASSETS = Path(__file__).resolve().parents[2] / "assets"
RECORDINGS = ("run-echo-hi.jsonl", "run-pull.jsonl", "two-runs.jsonl", "run-missing-image.jsonl")
MS = 1_000_000


def in_time(ev: Event) -> int:
    return ev.time_ns


def proxy_late(ev: Event) -> int:
    # the proxy's recorder reports an exchange a moment after the kernel's events of it
    return ev.time_ns + (15 * MS if ev.source == "proxy" else 0)


def execs_late(ev: Event) -> int:
    # a fork's child's exec (and exits) in the batch after the fork: the fork first looks
    # like a clone, then folds into the exec's arrow
    return ev.time_ns + (4 * MS if ev.kind in ("proc.exec", "proc.exit") else 0)


def live_folds(name: str, batch: int, arrival: Callable[[Event], int]) -> Iterator[Trace]:
    """The traces a live run of the app folds: at each batch, every event come so far."""
    rec = read_recording(ASSETS / name)
    backend = str(rec.header.get("backend", ""))
    came = sorted(rec.events, key=arrival)
    for end in range(batch, len(came) + batch, batch):
        yield fold(sorted(came[:end], key=in_time), backend, claims=False)


CASES = [
    ("run-echo-hi.jsonl", 1, in_time),
    ("run-echo-hi.jsonl", 3, proxy_late),
    ("run-echo-hi.jsonl", 7, execs_late),
    ("run-echo-hi.jsonl", 25, in_time),
    *[(name, 10, order) for name in RECORDINGS for order in (in_time, proxy_late, execs_late)],
    *[(name, 100_000, in_time) for name in RECORDINGS],
]


@pytest.mark.parametrize(
    ("name", "batch", "arrival"),
    CASES,
    ids=[f"{n[:-6]}-{b}-{a.__name__}" for n, b, a in CASES],
)
def test_each_batch_draws_what_a_fold_from_scratch_draws(
    name: str, batch: int, arrival: Callable[[Event], int]
) -> None:
    growing = GrowingSequence()
    refolded = events = 0
    for trace in live_folds(name, batch, arrival):
        tree = process_tree(trace.events)
        assert growing.update(trace, tree) == sequence(trace, tree)
        refolded += growing.refolded
        events = len(trace.events)
    assert events > 0
    if batch < events:
        # extended, not folded again: most batches fold only their own events
        assert refolded < 3 * events, (refolded, events)


def test_arrows_that_did_not_change_are_the_same_objects() -> None:
    traces = list(live_folds("run-echo-hi.jsonl", 10, in_time))
    growing = GrowingSequence()
    before = growing.update(traces[-2])
    after = growing.update(traces[-1])
    kept = [a is b for a, b in zip(before.arrows, after.arrows, strict=False)]
    assert sum(kept) >= len(before.arrows) - 3  # all but the last few, which grew
    assert after == sequence(traces[-1])


def test_a_trace_of_another_run_is_folded_anew() -> None:
    growing = GrowingSequence()
    for name in ("run-pull.jsonl", "run-echo-hi.jsonl", "run-missing-image.jsonl"):
        trace = next(iter(live_folds(name, 100_000, in_time)))
        assert growing.update(trace) == sequence(trace)
        assert growing.refolded == len(trace.events)
    assert growing.update(trace) == sequence(trace) and growing.refolded == 0  # the same again
