"""Issue 5 targets: a traced `docker run` vs direct, the whole `dockertrace run`, and replay time.

Run as root: .venv/bin/python bench/chain_run.py [--rounds N]
Baselines are measured in the same run: the same `docker run` straight at the daemon.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracer.sources.session import LiveSession, demo_image

ROOT = Path(__file__).resolve().parents[1]


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, env=env)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {r.stderr.decode(errors='replace')}")
    return dt


def row(name: str, value: float, baseline: float, target: str) -> None:
    print(f"{name:<44}{value:>10.2f}{baseline:>10.2f}{value / baseline:>8.2f}  {target}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/chain_run.py needs root", file=sys.stderr)
        return 2
    image = demo_image()
    run = ["docker", "run", "--rm", image, "true"]
    direct: list[float] = []
    traced: list[float] = []
    with LiveSession() as s:
        env = dict(os.environ, DOCKER_HOST=s.docker_host)
        timed(run)  # warm up both paths
        timed(run, env)
        for _ in range(args.rounds):  # interleaved, so drift hits both alike
            direct.append(timed(run))
            traced.append(timed(run, env))
        backend = s.backend
    d, t = statistics.median(direct), statistics.median(traced)
    whole = [timed([sys.executable, "-m", "tracer", "run", "--brief"]) for _ in range(args.rounds)]
    rec = ROOT / "assets" / "run-echo-hi.jsonl"
    replay = (
        [timed([sys.executable, "-m", "tracer", "replay", str(rec), "--plain"]) for _ in range(5)]
        if rec.exists()
        else []
    )
    import_base = [timed([sys.executable, "-c", "import tracer"]) for _ in range(5)]
    print(f"backend {backend}, image {image}, {args.rounds} interleaved rounds (medians)")
    print(f"{'measure':<44}{'value':>10}{'baseline':>10}{'ratio':>8}  target")
    row("docker run traced vs direct (ms)", t * 1e3, d * 1e3, "≤ 1.10×")
    row("whole `dockertrace run` vs direct run (s)", statistics.median(whole), d, "≤ 2.0 s")
    print(f"  (whole run: min {min(whole):.2f} s, max {max(whole):.2f} s over {len(whole)} runs)")
    if replay:
        base = statistics.median(import_base)
        row("replay bundled recording, text (s)", statistics.median(replay), base, "≤ 0.5 s")
        print("  (replay baseline: `python -c 'import tracer'`)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
