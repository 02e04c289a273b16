"""Backend choice with each reason, forcing, and the source interface's sink and close."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import replace

import pytest

from tracer.events import Event
from tracer.probes.base import (
    BackendChoice,
    BackendUnavailable,
    EventSource,
    HostFacts,
    exit_on_sigterm,
    judge,
    signals_held,
)
from tracer.sources.picker import choose_backend, describe, start_best

ROOT_HOST = HostFacts(
    euid=0,
    bpf_caps=True,
    bcc_error=None,
    headers="/lib/modules/6.18/build",
    tracefs_root="/sys/kernel/tracing",
    instances_writable=True,
    missing_tracepoints=(),
)


def verdict(facts: HostFacts) -> dict[str, tuple[bool, str]]:
    return {c.name: (c.usable, c.reason) for c in judge(facts)}


def test_all_usable_best_first() -> None:
    choices = judge(ROOT_HOST)
    assert [c.name for c in choices] == ["bcc", "tracefs", "proc"]
    assert all(c.usable for c in choices)
    source, _ = choose_backend(facts=ROOT_HOST)
    assert source.name == "bcc"


def test_no_root() -> None:
    v = verdict(replace(ROOT_HOST, euid=1000, bpf_caps=False, instances_writable=False))
    assert v["bcc"] == (False, "no root (uid 1000, no CAP_BPF/CAP_PERFMON)")
    assert not v["tracefs"][0] and "no root" in v["tracefs"][1]
    assert v["proc"][0]
    source, choices = choose_backend(facts=replace(ROOT_HOST, euid=1000, bpf_caps=False))
    assert source.name == "proc"
    assert "✗ bcc" in describe(choices, source.name)


def test_no_bcc() -> None:
    v = verdict(replace(ROOT_HOST, bcc_error="No module named 'bcc'"))
    assert not v["bcc"][0] and v["bcc"][1].startswith("no bcc: No module named 'bcc'")
    assert choose_backend(facts=replace(ROOT_HOST, bcc_error="x"))[0].name == "tracefs"


def test_no_headers() -> None:
    v = verdict(replace(ROOT_HOST, headers=None))
    assert not v["bcc"][0] and v["bcc"][1].startswith("no kernel headers")
    assert v["tracefs"][0]


def test_no_tracefs() -> None:
    v = verdict(replace(ROOT_HOST, tracefs_root=None, instances_writable=False))
    assert v["bcc"] == (False, "no tracefs: the tracepoints cannot be found")
    assert not v["tracefs"][0] and v["tracefs"][1].startswith("no tracefs mounted")


def test_missing_tracepoints() -> None:
    v = verdict(replace(ROOT_HOST, missing_tracepoints=("syscalls/sys_enter_unshare",)))
    assert not v["bcc"][0] and "sys_enter_unshare" in v["bcc"][1]
    assert not v["tracefs"][0]


def test_forcing_one_that_cannot_run_says_why() -> None:
    with pytest.raises(BackendUnavailable, match="no kernel headers") as info:
        choose_backend(forced="bcc", facts=replace(ROOT_HOST, headers=None))
    assert isinstance(info.value, RuntimeError)
    with pytest.raises(ValueError, match="unknown backend"):
        choose_backend(forced="dtrace", facts=ROOT_HOST)
    assert choose_backend(forced="tracefs", facts=ROOT_HOST)[0].name == "tracefs"


class ListSource(EventSource):
    """Emits given events from a worker thread, like a real poll loop."""

    name = "proc"

    def __init__(self, events: list[Event]) -> None:
        super().__init__()
        self._events = events
        self.closed = 0

    def _start(self, seed_pids: list[int]) -> None:
        self.seeds = seed_pids

    def run_worker(self) -> None:
        worker = threading.Thread(target=lambda: [self.emit(e) for e in self._events])
        worker.start()
        worker.join()

    def track(self, pid: int) -> None:
        pass

    def _close(self) -> None:
        self.closed += 1


def event(n: int) -> Event:
    return Event(time_ns=n, source="proc", layer="kernel", kind="proc.seen", pid=n)


def test_events_reach_the_sink_and_close_is_idempotent() -> None:
    got: list[int] = []
    src = ListSource([event(1), event(2), event(3)])
    src.start(lambda e: got.append(e.pid), seed_pids=[42])
    assert src.seeds == [42] and src.ready_seconds >= 0
    src.run_worker()
    src.close()
    src.close()
    assert got == [1, 2, 3]
    assert src.closed == 1


def test_a_failing_sink_does_not_stop_the_stream() -> None:
    got: list[int] = []

    def sink(e: Event) -> None:
        if e.pid == 2:
            raise ValueError("consumer bug")
        got.append(e.pid)

    src = ListSource([event(1), event(2), event(3)])
    src.start(sink)
    src.run_worker()
    src.close()
    assert got == [1, 3] and src.sink_errors == 1
    assert isinstance(src.first_sink_error, ValueError)


class Refusing(ListSource):
    def _start(self, seed_pids: list[int]) -> None:
        raise BackendUnavailable("bcc could not load or attach sched:sched_process_exec: EPERM")


def test_start_best_falls_back_and_says_why() -> None:
    made: list[str] = []

    def fake_make(name: str) -> EventSource:
        made.append(name)
        return Refusing([]) if name == "bcc" else ListSource([])

    source, choices = start_best(facts=ROOT_HOST, make=fake_make)
    assert made == ["bcc", "tracefs"] and isinstance(source, ListSource)
    assert choices[0] == BackendChoice("bcc", False, "bcc could not load or attach "
                                       "sched:sched_process_exec: EPERM")  # fmt: skip
    with pytest.raises(BackendUnavailable):
        start_best(forced="bcc", facts=replace(ROOT_HOST, headers=None))


class SlowCloseSource(ListSource):
    """A close that takes several steps, each of which a signal could land between."""

    def _close(self) -> None:
        for _ in range(3):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.01)  # Python runs signal handlers between bytecodes: here, unless held
            self.closed += 1


def test_a_signal_during_close_waits_for_it_to_finish() -> None:
    """SIGTERM (as exit_on_sigterm turns it into SystemExit) in the middle of close() used to
    leave bcc half detached, and its atexit clean-up then failed with a traceback."""
    before = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        exit_on_sigterm()
        src = SlowCloseSource([])
        src.start(None, seed_pids=[])
        with pytest.raises(SystemExit) as stopped:
            src.close()
        assert src.closed == 3  # every step ran, then the signal counted, once
        assert stopped.value.code == 128 + signal.SIGTERM
        with signals_held():
            pass  # nothing held: nothing raised
    finally:
        signal.signal(signal.SIGTERM, before)
