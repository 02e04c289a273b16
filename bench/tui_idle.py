"""The app's own CPU while idle (paused on a replay) and while playing, as % of one core.

Run: .venv/bin/python bench/tui_idle.py [--seconds S]   (target: idle ≤ 5% of a core)
Baseline in the same run: an idle `python -c "import textual.app; sleep"` process.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import psutil
from tui_common import child_source, recording


def cpu_percent(source: str, seconds: float) -> float:
    """CPU of a child running `source`, measured over `seconds` after it prints READY."""
    proc = subprocess.Popen(
        [sys.executable, "-c", source], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == "READY":
                break
        time.sleep(0.5)  # let start-up work settle
        p = psutil.Process(proc.pid)
        before = p.cpu_times()
        time.sleep(seconds)
        after = p.cpu_times()
        used = (after.user - before.user) + (after.system - before.system)
        return 100.0 * used / seconds
    finally:
        proc.kill()
        proc.wait()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    path = recording()
    baseline = "import sys, textual.app; print('READY', flush=True); import time; time.sleep(3600)"
    b = cpu_percent(baseline, args.seconds)
    idle = cpu_percent(child_source(path, quit_at_ready=False), args.seconds)
    playing = cpu_percent(child_source(path, quit_at_ready=False, autoplay=True), args.seconds)
    print(f"recording: {path}; over {args.seconds:g} s each")
    print(f"{'':<36}{'% of a core':>12}")
    print(f"{'baseline: idle python + textual':<36}{b:>12.2f}")
    print(f"{'app paused (idle)':<36}{idle:>12.2f}  target ≤ 5%")
    print(f"{'app playing at 0.1x (animating)':<36}{playing:>12.2f}")
    print(f"RESULT tui_idle_cpu_pct {idle:.2f} {b:.2f} <=5% of a core")
    print(f"RESULT tui_playing_cpu_pct {playing:.2f} {b:.2f} informative (0.1x, animating)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
