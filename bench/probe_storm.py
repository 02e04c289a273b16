"""Probes under an exec storm: chain events lost, storm leaks, storm rate, the tracer's CPU.

For each kernel backend, a traced `docker run --rm IMAGE echo hi` then --seconds of quiet, once
without and once with a storm of >= 2,000 unrelated execs/s. The tracer's CPU is over the whole
window; the storm's rate is over the quiet part, against its rate with no tracer at all (the cost
the probes put on unrelated execs). Started by bench/exec_storm.py.
"""

from __future__ import annotations

import os
import subprocess
import time
from typing import Any

from probe_common import IMAGE, Window, chain_evidence

from bench.exec_storm import MARK, ExecStorm
from tracer.events import Event
from tracer.probes.base import host_facts, judge
from tracer.sources.picker import make_source


def traced_run(backend: str, seconds: float, storm: ExecStorm | None) -> dict[str, Any]:
    source = make_source(backend)
    events: list[Event] = []
    source.start(events.append, seed_pids=[os.getpid()])
    with Window() as w:
        subprocess.run(["docker", "run", "--rm", IMAGE, "echo", "hi"], capture_output=True)
        if storm:  # the storm's rate with probes attached, docker run done
            storm.mark()
        time.sleep(seconds)
        rate = storm.rate() if storm else 0.0
    source.close()
    evidence = chain_evidence(events)
    pids = set(storm.pids) if storm else set()
    leaks = [
        e
        for e in events
        if e.pid in pids or MARK in str(e.detail.get("filename", "")) or MARK in e.comm
    ]
    lost = source.lost_events() if hasattr(source, "lost_events") else None
    return {
        "found": sum(evidence.values()),
        "of": len(evidence),
        "missing": [k for k, v in evidence.items() if not v],
        "events": len(events),
        "leaks": len(leaks),
        "kernel_lost": lost,
        "cpu": w.cpu_share,
        "storm_rate": rate,
    }


def run_storm_bench(seconds: float = 5.0, workers: int = 3) -> int:
    backends = [c.name for c in judge(host_facts()) if c.usable and c.name != "proc"]
    with ExecStorm(workers=workers) as storm:
        time.sleep(seconds)
        bare = storm.rate()
        print(f"storm alone: {bare:,.0f} execs/s ({workers} workers, {storm.program})")
        results = {}
        for backend in backends:
            results[backend, "storm"] = traced_run(backend, seconds, storm)
    for backend in backends:  # the quiet baseline, storm stopped
        results[backend, "quiet"] = traced_run(backend, seconds, None)
    print(f"{'backend':<8} {'storm':<6} {'chain':>6} {'leaks':>6} {'lost':>5} {'events':>7} "
          f"{'cpu':>6} {'storm/s':>8} {'rate vs alone':>14}")  # fmt: skip
    for (backend, mode), r in results.items():
        ratio = f"{r['storm_rate'] / bare:.2f}" if mode == "storm" and bare else "-"
        lost = "-" if r["kernel_lost"] is None else str(r["kernel_lost"])
        print(
            f"{backend:<8} {mode:<6} {r['found']:>3}/{r['of']:<2} {r['leaks']:>6} {lost:>5} "
            f"{r['events']:>7} {r['cpu']:>6.1%} {r['storm_rate']:>8,.0f} {ratio:>14}"
        )
        if r["missing"]:
            print(f"         missing: {', '.join(r['missing'])}")
    for backend in backends:
        quiet, busy = results[backend, "quiet"]["cpu"], results[backend, "storm"]["cpu"]
        print(f"{backend}: tracer CPU with storm / without: {busy:.1%} / {quiet:.1%}")
    print("targets: storm >= 2,000 execs/s; chain events lost 0; leaks 0; tracer CPU <= 10%")
    return 0
