"""dockertrace itself stopped at random moments of a `dockertrace run`: by Ctrl-C (SIGINT), by
SIGTERM, and by kill -9. After the first two, and after the next start following the third:
none of its containers, none of its BPF maps, no tracefs instance, no socket, no forwarding
process; and the terminal it ran on is as it was."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import termios
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from tracer.probes.leftovers import INSTANCE_PREFIX, held_maps, map_name
from tracer.run_sweep import LABEL

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[2]
SEED = int(os.environ.get("DOCKERTRACE_FAULT_SEED", time.time_ns() % 100_000))
MOMENTS = 2  # random moments per signal


@dataclass
class Seen:
    """What the run held while it lived, to look for after it is gone."""

    pid: int
    children: set[int] = field(default_factory=set)
    maps: set[int] = field(default_factory=set)
    containers: set[str] = field(default_factory=set)
    output: bytearray = field(default_factory=bytearray)


def containers_of(pid: int) -> set[str]:
    r = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={LABEL}={pid}"],
                       capture_output=True, text=True)  # fmt: skip
    return set(r.stdout.split())


def run_and_stop(image: str, sig: int, delay: float) -> tuple[Seen, list[int], list[int]]:
    """Start `dockertrace run` on a pseudo-terminal, watch it, send `sig` after `delay` s."""
    master, slave = os.openpty()
    before = termios.tcgetattr(slave)
    argv = [sys.executable, "-m", "tracer", "run", "--brief", "--image", image, "--", "sleep", "2"]
    proc = subprocess.Popen(argv, cwd=ROOT, stdin=slave, stdout=slave, stderr=slave)
    seen = Seen(proc.pid)

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            seen.output += data

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    t0 = time.monotonic()
    while time.monotonic() - t0 < delay and proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            seen.children |= {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
        seen.maps |= set(held_maps(proc.pid))
        seen.containers |= containers_of(proc.pid)
    if proc.poll() is None:
        proc.send_signal(sig)
    proc.wait(60)
    after = termios.tcgetattr(slave)
    os.close(slave)
    reader.join(5)
    os.close(master)
    return seen, before, after


def leftovers_of(seen: Seen) -> list[str]:
    found = [f"container {c}" for c in containers_of(seen.pid)]
    found += [f"BPF map {m}" for m in seen.maps if map_name(m) is not None]
    instance = f"/sys/kernel/tracing/instances/{INSTANCE_PREFIX}{seen.pid}"
    found += [f"tracefs instance {instance}"] if os.path.exists(instance) else []
    sock = f"/run/dockertrace/session-{seen.pid}.sock"
    found += [f"socket {sock}"] if os.path.exists(sock) else []
    found += [f"process {c}" for c in seen.children if psutil.pid_exists(c) and _not_zombie(c)]
    return found


def _not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait_clean(seen: Seen, timeout: float) -> list[str]:
    """Orphaned docker CLIs may take a moment to notice the proxy is gone."""
    deadline = time.monotonic() + timeout
    while (left := leftovers_of(seen)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stopped_by_a_signal_leaves_nothing(sig: int, demo_image: str) -> None:
    rng = random.Random(SEED + sig)
    for delay in sorted(rng.uniform(0.3, 5.0) for _ in range(MOMENTS)):
        seen, before, after = run_and_stop(demo_image, sig, delay)
        left = _wait_clean(seen, 5)
        name = signal.Signals(sig).name
        print(f"\n{name} after {delay:.2f} s (seed {SEED}): held {len(seen.maps)} maps, "
              f"containers {sorted(seen.containers)}; leftovers {left}")  # fmt: skip
        assert not left, (delay, left, seen.output.decode(errors="replace")[-2000:])
        assert before == after  # the terminal's modes (echo, canonical input) are unchanged
        assert b"Traceback" not in seen.output, seen.output.decode(errors="replace")[-3000:]


def test_killed_outright_is_cleaned_by_the_next_start(demo_image: str) -> None:
    rng = random.Random(SEED)
    for delay in sorted(rng.uniform(0.3, 5.0) for _ in range(MOMENTS)):
        seen, before, after = run_and_stop(demo_image, signal.SIGKILL, delay)
        time.sleep(3)  # the orphaned CLI and its container are done by now
        killed_left = leftovers_of(seen)
        nxt = subprocess.run([sys.executable, "-m", "tracer", "run", "--brief", "--image",
                              demo_image], cwd=ROOT, capture_output=True, timeout=120)  # fmt: skip
        assert nxt.returncode == 0, nxt.stderr.decode(errors="replace")
        left = _wait_clean(seen, 5)
        print(f"\nSIGKILL after {delay:.2f} s (seed {SEED}): held {len(seen.maps)} maps, "
              f"containers {sorted(seen.containers)}; left at exit {killed_left}; "
              f"after the next start {left}")  # fmt: skip
        assert not left, (delay, left)
        assert before == after
