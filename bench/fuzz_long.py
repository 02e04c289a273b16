"""Long fuzzing of the proxy's HTTP core and of the recording reader and replay (the same
targets the test suite runs briefly): examples run, crashes, hangs.

    .venv/bin/python bench/fuzz_long.py [--seconds 300]

Runs batches of hypothesis examples, each batch with fresh randomness, until the time is up;
a failure is shrunk, printed, counted, and fuzzing goes on. A hang is an example the core does
not finish within 5 s. The baseline is the seed conversations fed unmutated: examples per
second on them against examples per second fuzzed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import fuzz_core as core_fuzz
from bench import fuzz_record as record_fuzz

BATCH = 300


def targets(tmp: Path) -> dict[str, tuple[Callable[..., None], dict[str, Any]]]:
    return {
        "core_mutated": (core_fuzz.check_conversation, {"steps": core_fuzz.conversations()}),
        "core_random": (
            core_fuzz.check_conversation,
            {
                "steps": st.lists(
                    st.tuples(st.sampled_from("cd"), st.binary(min_size=1, max_size=400)),
                    max_size=16,
                )
            },
        ),
        "core_secrets": (core_fuzz.check_secret_never_leaks, core_fuzz.SECRET_ARGS),
        "record_bytes": (
            lambda data: record_fuzz.check_file(tmp, data),
            {"data": st.binary(max_size=4000)},
        ),
        "record_events": (
            lambda events: record_fuzz.check_file(
                tmp,
                (record_fuzz.HEADER + "\n".join(map(record_fuzz.json.dumps, events))).encode(),
            ),
            {"events": st.lists(record_fuzz.hostile_events(), max_size=40)},
        ),
    }


def run_batch(check: Callable[..., None], strategies: dict[str, Any], counter: list[int]) -> None:
    @settings(max_examples=BATCH, deadline=None, database=None, phases=core_fuzz.PHASES,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(**strategies)
    def test(**kw: Any) -> None:
        counter[0] += 1
        check(**kw)

    test()


def seed_rate(seconds: float = 2.0) -> float:
    """Examples per second on the unmutated seeds: the baseline."""
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for client, daemon in core_fuzz.SEEDS:
            core_fuzz.check_conversation([("c", client), ("d", daemon)])
            n += 1
    return n / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    quick = bool(os.environ.get("DOCKERTRACE_BENCH_QUICK"))
    ap.add_argument("--seconds", type=float, default=60 if quick else 300)
    args = ap.parse_args()
    base = seed_rate()
    with tempfile.TemporaryDirectory() as d:
        found = targets(Path(d))
        per_target = args.seconds / len(found)
        rows = []
        total_crashes = total_hangs = total_examples = 0
        for name, (check, strategies) in found.items():
            counter, crashes, hangs = [0], 0, 0
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < per_target:
                try:
                    run_batch(check, strategies, counter)
                except core_fuzz.Hang:
                    hangs += 1
                    traceback.print_exc()
                except Exception:
                    crashes += 1
                    traceback.print_exc()
            took = time.perf_counter() - t0
            rows.append((name, counter[0], counter[0] / took, crashes, hangs))
            total_crashes += crashes
            total_hangs += hangs
            total_examples += counter[0]
    print(f"{'target':<16}{'examples':>10}{'per s':>10}{'crashes':>9}{'hangs':>7}")
    for name, n, rate, crashes, hangs in rows:
        print(f"{name:<16}{n:>10}{rate:>10.0f}{crashes:>9}{hangs:>7}")
        print(f"RESULT fuzz_{name}_examples_per_s {rate:.1f} {base:.1f} (throughput vs seeds)")
    print(f"seed conversations unmutated: {base:.0f} per s (baseline)")
    print(f"RESULT fuzz_examples {total_examples} - more is better")
    print(f"RESULT fuzz_crashes {total_crashes} - 0")
    print(f"RESULT fuzz_hangs {total_hangs} - 0")
    return 1 if total_crashes or total_hangs else 0


if __name__ == "__main__":
    raise SystemExit(main())
