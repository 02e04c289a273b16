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

from tracer.probes.bcc.probe import BccSource
from tracer.probes.tracefs.probe import TracefsSource

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


def cpu() -> float:
    """CPU seconds of this process and its waited-for children (less noisy than wall time on
    a shared machine)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def small_bcc() -> tuple[float, float]:
    from bcc import BPF

    t0, c0 = time.perf_counter(), cpu()
    b = BPF(text=SMALL_BCC)
    b["events"].open_perf_buffer(lambda *a: None)
    dt, dc = time.perf_counter() - t0, cpu() - c0
    b.cleanup()
    return dt, dc


def bpftrace() -> tuple[float, float] | None:
    exe = shutil.which("bpftrace")
    if exe is None:
        return None
    t0, c0 = time.perf_counter(), cpu()
    p = subprocess.Popen([exe, "-e", BPFTRACE], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert p.stdout is not None
    for line in p.stdout:
        if b"ready" in line:
            break
    dt = time.perf_counter() - t0
    p.wait(timeout=10)
    return dt, cpu() - c0  # bpftrace's CPU includes its exit, a little more than attaching


def ours(cls: type) -> tuple[float, float]:
    source = cls()
    c0 = cpu()
    source.start(None, seed_pids=[os.getpid()])
    dt, dc = source.ready_seconds, cpu() - c0
    source.close()
    return dt, dc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    names = ("bcc", "tracefs", "bcc 4-tp", "bpftrace")
    wall: dict[str, list[float]] = {k: [] for k in names}
    cpus: dict[str, list[float]] = {k: [] for k in names}
    for _ in range(args.rounds):  # interleaved, so machine noise hits all alike
        measured = {
            "bcc": ours(BccSource),
            "tracefs": ours(TracefsSource),
            "bcc 4-tp": small_bcc(),
            "bpftrace": bpftrace(),
        }
        for k, m in measured.items():
            if m is not None:
                wall[k].append(m[0])
                cpus[k].append(m[1])
    med = {k: median(v) for k, v in wall.items() if v}
    cmed = {k: median(v) for k, v in cpus.items() if v}
    print(f"ready time, median of {args.rounds} interleaved rounds (wall s / CPU s):")
    for k in med:
        print(f"  {k:<9} {med[k]:6.3f} / {cmed[k]:6.3f}   (wall min {min(wall[k]):.3f})")
    for base in ("bpftrace", "bcc 4-tp"):
        if base in med:
            print(f"ratios to {base} (wall / CPU):")
            for k in med:
                if k != base:
                    print(f"  {k:<9} {med[k] / med[base]:5.2f}x / {cmed[k] / cmed[base]:5.2f}x")
    print("targets: bcc <= 1.0 s, tracefs <= 0.2 s")
    small = f"{med['bcc 4-tp']:.3f}" if "bcc 4-tp" in med else "-"
    print(f"RESULT bcc_ready_s {med['bcc']:.3f} {small} <=1.0 s (baseline: a 4-tracepoint bcc)")
    trace = f"{med['bpftrace']:.3f}" if "bpftrace" in med else "-"
    print(f"RESULT tracefs_ready_s {med['tracefs']:.3f} {trace} <=0.2 s (baseline: bpftrace)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
