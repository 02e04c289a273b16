"""Delivery latency from the kernel to the Python consumer, per backend, against a floor.

A tracked child forks and execs /bin/true --count times; for each proc.fork/proc.exit event the
latency is (monotonic_ns() when the sink receives it) - (its kernel timestamp). Fork and exit are
stamped when they are sent (exec and syscalls are stamped at sys_enter). The floor: a one-probe
bcc program that sends sched_process_fork's timestamp through a ring buffer polled the same way.

    .venv/bin/python bench/probe_latency.py [--count 300]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import subprocess
import threading
import time

from probe_common import percentile

from tracer.events import Event, monotonic_ns
from tracer.probes.base import host_facts, judge
from tracer.sources.picker import make_source

FLOOR = b"""
BPF_RINGBUF_OUTPUT(out, 64);
TRACEPOINT_PROBE(sched, sched_process_fork) {
    if (args->parent_pid != TARGET) return 0;
    u64 ts = bpf_ktime_get_ns();
    out.ringbuf_output(&ts, sizeof(ts), 0);
    return 0;
}
"""
SCRIPT = "for i in $(seq {n}); do /bin/true; sleep 0.005; done"


def load(n: int) -> subprocess.Popen[bytes]:
    """The forking child; a tracked process (our child) once the source runs."""
    return subprocess.Popen(["sh", "-c", SCRIPT.format(n=n)])


def backend_latency(backend: str, n: int) -> list[float]:
    lat: list[float] = []

    def sink(e: Event) -> None:
        if e.kind in ("proc.fork", "proc.exit"):
            lat.append((monotonic_ns() - e.time_ns) / 1e6)

    source = make_source(backend)
    source.start(sink, seed_pids=[os.getpid()])
    load(n).wait()
    time.sleep(0.5)
    source.close()
    return lat


def floor_latency(n: int) -> list[float]:
    """The same load, seen by a one-probe program: sched_process_fork of the load's shell."""
    from bcc import BPF

    lat: list[float] = []
    proc = subprocess.Popen(["sh", "-c", "read x; " + SCRIPT.format(n=n)], stdin=subprocess.PIPE)
    b = BPF(text=FLOOR.replace(b"TARGET", str(proc.pid).encode()))

    def got(_ctx: object, data: int, _size: int) -> None:
        ts = ctypes.c_uint64.from_address(data).value
        lat.append((monotonic_ns() - ts) / 1e6)

    b["out"].open_ring_buffer(got)
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            b.ring_buffer_poll(50)

    t = threading.Thread(target=poll)
    t.start()
    assert proc.stdin is not None
    proc.stdin.write(b"go\n")
    proc.stdin.close()
    proc.wait()
    time.sleep(0.3)
    stop.set()
    t.join()
    b.cleanup()
    return lat


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=300)
    args = ap.parse_args()
    results = {}
    for c in judge(host_facts()):
        if c.usable and c.name != "proc":
            results[c.name] = backend_latency(c.name, args.count)
    results["floor (1-probe bcc)"] = floor_latency(args.count)
    print("delivery latency kernel -> Python sink (ms):")
    for name, lat in results.items():
        print(
            f"  {name:<20} n={len(lat):<4} p50 {percentile(lat, 50):6.2f}  "
            f"p99 {percentile(lat, 99):6.2f}  max {max(lat, default=float('nan')):6.2f}"
        )
    floor = percentile(results["floor (1-probe bcc)"], 99)
    for name in results:
        print(f"  p99 ratio {name} / floor: {percentile(results[name], 99) / floor:.2f}x")
    print("target: p99 <= 20 ms")
    for name in results:
        if not name.startswith("floor"):
            p99 = percentile(results[name], 99)
            print(f"RESULT {name}_delivery_p99_ms {p99:.2f} {floor:.2f} <=20 ms (baseline: floor)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
