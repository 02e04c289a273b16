"""Nothing of ours stays in the kernel: after a normal stop, Ctrl-C, SIGTERM, and after kill -9
(the next start cleans what the killed run left)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.conftest import need
from tests.live.probes_scenario import wait_clean
from tracer.probes.base import host_facts, judge
from tracer.probes.leftovers import INSTANCE_PREFIX, held_maps
from tracer.probes.tracefs.probe import TracefsSource

BACKENDS = ("bcc", "tracefs")


def usable(name: str) -> None:
    choice = next(c for c in judge(host_facts()) if c.name == name)
    need(choice.usable, f"{name} backend: {choice.reason}")


class ProbeProcess:
    """`dockertrace probe --backend NAME` in a child process, started and waited for."""

    def __init__(self, backend: str, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tracer", "probe", "--backend", backend, *extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stderr is not None
        fd = self.proc.stderr.fileno()  # raw reads: a buffered reader would hide lines from select
        self.stderr = ""
        deadline = time.monotonic() + 60
        while "ready in" not in self.stderr:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.kill()
                pytest.fail(f"probe did not get ready: {self.stderr}")
            if select.select([fd], [], [], 0.5)[0]:
                self.stderr += os.read(fd, 4096).decode(errors="replace")
        self.maps = list(held_maps(self.proc.pid))
        root = host_facts().tracefs_root or "/sys/kernel/tracing"
        self.instance = os.path.join(root, "instances", f"{INSTANCE_PREFIX}{self.proc.pid}")

    def stop(self, sig: int) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)

    def kill(self) -> None:
        """Whatever happened in the test, leave no probe running."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


@pytest.fixture
def probes() -> Iterator[list[ProbeProcess]]:
    started: list[ProbeProcess] = []
    yield started
    for p in started:
        p.kill()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("how", ["seconds", "SIGINT", "SIGTERM"])
def test_stops_cleanly(root: None, probes: list[ProbeProcess], backend: str, how: str) -> None:
    usable(backend)
    p = ProbeProcess(backend, *(["--seconds", "4"] if how == "seconds" else []))
    probes.append(p)
    if backend == "bcc":
        assert len(p.maps) == 11  # the eleven BPF_* maps of exec.bpf.c
    else:
        assert os.path.isdir(p.instance)
    code = p.proc.wait(timeout=30) if how == "seconds" else p.stop(getattr(signal, how))
    # Ctrl-C may land before the probe's own handler is in place: then the CLI's catch-all
    # answers 130, the shell's code for "ended by SIGINT". Either way nothing may be left.
    assert code in (0, 130, 128 + signal.SIGTERM), p.stderr
    assert wait_clean(p.maps, p.instance) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_kill_9_then_next_start_cleans(
    root: None, probes: list[ProbeProcess], backend: str
) -> None:
    usable(backend)
    p = ProbeProcess(backend)
    probes.append(p)
    p.stop(signal.SIGKILL)
    if backend == "bcc":  # nothing pinned: the kernel drops all with the last fd
        assert wait_clean(p.maps) == []
        return
    assert os.path.isdir(p.instance)  # a killed run cannot clean up after itself...
    source = TracefsSource()
    source.start(None, seed_pids=[])
    try:
        assert p.instance in source.stale_removed  # ...the next one does
        assert not os.path.exists(p.instance)
    finally:
        source.close()
    assert wait_clean(instance=source.instance) == []


def test_two_tracefs_sources_in_one_process_keep_their_own_instances(root: None) -> None:
    usable("tracefs")
    first, second = TracefsSource(), TracefsSource()
    first.start(None, seed_pids=[])
    second.start(None, seed_pids=[])
    try:
        assert first.instance != second.instance
        assert os.path.isdir(first.instance) and os.path.isdir(second.instance)
        first.close()
        assert not os.path.exists(first.instance) and os.path.isdir(second.instance)
    finally:
        first.close()
        second.close()
    assert wait_clean(instance=second.instance) == []
