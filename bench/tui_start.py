"""Replay start: from a new process to the app's first full frame, against `import textual.app`.

Run: .venv/bin/python bench/tui_start.py [--rounds N]   (target: ≤ 0.5 s to the first frame)
Two ways in: `dockertrace tui --replay FILE` (the app on a recording), and `dockertrace` with no
command, as a user starts it (tracer.cli.tui: the bundled recording, with the doctor's
checks of whether live tracing works asked after the first frame).
All are fresh interpreters started the same way in the same run; the ratio is what matters.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from tui_common import child_source, default_child_source, recording

# Installed, the app's modules are compiled once (pip does it; so does a first run), as
# textual's are: a PYTHONDONTWRITEBYTECODE from the shell would have every round compile them
# again, which no user's start does and the baseline (textual, compiled) never pays.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def until_ready(source: str) -> float:
    """Seconds from spawning `python -c source` until it prints READY."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", source], stdout=subprocess.PIPE, text=True, env=CHILD_ENV
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "READY":
            break
    dt = time.perf_counter() - t0
    proc.wait(timeout=30)
    if proc.returncode != 0:
        raise SystemExit(f"child failed with {proc.returncode}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    path = recording()
    baseline_src = "import textual.app; print('READY', flush=True)"
    app_src = child_source(path, quit_at_ready=True)
    default_src = default_child_source()
    until_ready(app_src)  # warm the page cache and __pycache__ once (see CHILD_ENV)
    until_ready(default_src)
    base, app, default = [], [], []
    for _ in range(args.rounds):
        base.append(until_ready(baseline_src))
        app.append(until_ready(app_src))
        default.append(until_ready(default_src))
    b, a = statistics.median(base), statistics.median(app)
    d = statistics.median(default)
    print(f"recording: {path}")
    print(f"{'':<40}{'median s':>10}{'ratio':>8}")
    print(f"{'python -c import textual.app':<40}{b:>10.3f}{1.0:>8.2f}")
    print(f"{'replay: start to first full frame':<40}{a:>10.3f}{a / b:>8.2f}  target ≤ 0.5 s")
    print(f"{'dockertrace (bundled, doctor after)':<40}{d:>10.3f}{d / b:>8.2f}  target ≤ 0.5 s")
    print(f"RESULT tui_start_s {a:.3f} {b:.3f} <=0.5 s (baseline: import textual.app)")
    print(f"RESULT tui_start_default_s {d:.3f} {b:.3f} <=0.5 s (as `dockertrace` starts)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
