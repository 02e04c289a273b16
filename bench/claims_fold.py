"""The claims' share of a fold: chain.runs() with them vs the same fold without, per recording.

Run: .venv/bin/python bench/claims_fold.py [--rounds N]   (no root: bundled recordings only)
The baseline is measured in the same run: the fold with the claims step skipped.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracer.chain import fold as chain
from tracer.record.format import read_recording

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = ["assets/run-echo-hi.jsonl", "assets/two-runs.jsonl"]
RECORDINGS += ["assets/lessons/03-the-full-chain.jsonl"]


def timed(events: list, inner: int = 10) -> float:
    t0 = time.perf_counter()
    for _ in range(inner):
        chain.runs(events)
    return (time.perf_counter() - t0) / inner


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    print(f"{'recording':<42} {'events':>6} {'without':>9} {'with':>9} {'ratio':>6}")
    # the baseline: the same fold with its claims step replaced by nothing (bench only);
    # the two alternate round by round, so that a busy moment of the machine hits both
    no_claims = mock.patch.object(chain, "fold_claims", lambda trace, session: ())
    for name in RECORDINGS:
        events = read_recording(ROOT / name).events
        with_claims, without = [], []
        for _ in range(args.rounds):
            with_claims.append(timed(events))
            with no_claims:
                without.append(timed(events))
        w, wo = min(with_claims), min(without)
        print(f"{name:<42} {len(events):>6} {wo * 1e3:>7.2f}ms {w * 1e3:>7.2f}ms {w / wo:>5.2f}×")


if __name__ == "__main__":
    main()
