"""Ready time of each probe backend against baselines measured in the same run.

bcc (our program) and tracefs: `source.start()` until the probes are live, in-process.
Baselines: a 4-tracepoint bcc program with a perf buffer (the peers' reference, 0.61-0.95 s)
and bpftrace attaching 3 tracepoints, from spawn to its BEGIN probe (peers: ~0.36 s).

    .venv/bin/python bench/probe_ready.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time

from probe_common import median

from tracer.probes.bcc_probe import BccSource
from tracer.probes.tracefs_probe import TracefsSource

SMALL_BCC = b"""
BPF_PERF_OUTPUT(events);
TRACEPOINT_PROBE(sched, sched_process_exec)
{ u32 p = args->pid; events.perf_submit(args, &p, 4); return 0; }
TRACEPOINT_PROBE(sched, sched_process_fork)
{ u32 p = args->child_pid; events.perf_submit(args, &p, 4); return 0; }
TRACEPOINT_PROBE(sched, sched_process_exit)
{ u32 p = args->pid; events.perf_submit(args, &p, 4); return 0; }
TRACEPOINT_PROBE(syscalls, sys_enter_unshare)
{ u32 p = 0; events.perf_submit(args, &p, 4); return 0; }
"""
BPFTRACE = (
    'BEGIN { printf("ready\\n"); exit(); } tracepoint:sched:sched_process_exec {} '
    "tracepoint:sched:sched_process_fork {} tracepoint:sched:sched_process_exit {}"
)


def small_bcc() -> float:
    from bcc import BPF

    t0 = time.perf_counter()
    b = BPF(text=SMALL_BCC)
    b["events"].open_perf_buffer(lambda *a: None)
    dt = time.perf_counter() - t0
    b.cleanup()
    return dt


def bpftrace() -> float | None:
    exe = shutil.which("bpftrace")
    if exe is None:
        return None
    t0 = time.perf_counter()
    p = subprocess.Popen([exe, "-e", BPFTRACE], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert p.stdout is not None
    for line in p.stdout:
        if b"ready" in line:
            break
    dt = time.perf_counter() - t0
    p.wait(timeout=10)
    return dt


def ours(cls: type) -> float:
    source = cls()
    source.start(None, seed_pids=[os.getpid()])
    dt = source.ready_seconds
    source.close()
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    times: dict[str, list[float]] = {"bcc": [], "tracefs": [], "bcc 4-tp": [], "bpftrace": []}
    for _ in range(args.rounds):  # interleaved, so machine noise hits all alike
        times["bcc"].append(ours(BccSource))
        times["tracefs"].append(ours(TracefsSource))
        times["bcc 4-tp"].append(small_bcc())
        bt = bpftrace()
        if bt is not None:
            times["bpftrace"].append(bt)
    med = {k: median(v) for k, v in times.items() if v}
    print(f"ready time, median of {args.rounds} interleaved rounds (s):")
    for k, v in med.items():
        print(f"  {k:<9} {v:6.3f}   (min {min(times[k]):.3f}, max {max(times[k]):.3f})")
    base = med.get("bpftrace")
    if base:
        print(f"ratios to bpftrace ({base:.3f} s):")
        for k in ("bcc", "tracefs", "bcc 4-tp"):
            print(f"  {k:<9} {med[k] / base:5.2f}x")
    print(f"bcc (ours) / bcc 4-tp baseline: {med['bcc'] / med['bcc 4-tp']:.2f}x")
    print("targets: bcc <= 1.0 s, tracefs <= 0.2 s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
