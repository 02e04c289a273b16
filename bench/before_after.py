"""`dockertrace run` now against the code before a change, interleaved in the same run.

The code before is a plain export of a commit (no git worktree needed):

    git archive BASE | tar -x -C /tmp/dockertrace-before
    .venv/bin/python bench/before_after.py --before /tmp/dockertrace-before [--rounds 7]

Both run with this venv's Python (`python -m tracer` from each tree's directory imports that
tree's package first); rounds alternate which goes first, so drift hits both alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ["-m", "tracer", "run", "--brief"]


def timed(tree: Path) -> float:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, *COMMAND], cwd=tree, capture_output=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{tree}: {r.stderr.decode(errors='replace')[-500:]}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", type=Path, required=True, help="a checkout of the code before")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/before_after.py needs root", file=sys.stderr)
        return 2
    before: list[float] = []
    after: list[float] = []
    timed(args.before)  # warm caches for both
    timed(ROOT)
    for i in range(args.rounds):
        pair = [(args.before, before), (ROOT, after)]
        for tree, out in pair if i % 2 == 0 else reversed(pair):
            out.append(timed(tree))
    b, a = statistics.median(before), statistics.median(after)
    print(f"`dockertrace run --brief`, {args.rounds} interleaved rounds (medians, s)")
    print(f"{'measure':<36}{'now':>8}{'before':>8}{'ratio':>8}  target")
    print(f"{'whole dockertrace run':<36}{a:>8.2f}{b:>8.2f}{a / b:>8.2f}  ≤ 1.20×")
    print(f"  now: min {min(after):.2f} max {max(after):.2f}; "
          f"before: min {min(before):.2f} max {max(before):.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
