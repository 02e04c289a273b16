"""Exec storm: unrelated processes exec'ing as fast as they can; none must reach the tracer.

Run alone it measures, in the same run: the storm's rate with no tracer, then with the bcc and
the tracefs backend attached, the events lost on a traced `docker run` (chain events seen with
and without the storm) and the tracer's own CPU while the storm runs.

    .venv/bin/python bench/exec_storm.py [--seconds 5] [--workers 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

MARK = "dockertrace-storm"  # argv[0] of every storm exec, to find any that leak through


def _worker(counter: Any, stop: Any, program: str) -> None:
    env: dict[str, str] = {}
    while not stop.is_set():
        for _ in range(50):
            pid = os.posix_spawn(program, [MARK], env)
            os.waitpid(pid, 0)
        with counter.get_lock():
            counter.value += 50


def static_true(directory: str) -> str | None:
    """A statically linked `true` (no dynamic loader: about twice the execs per second)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    src, exe = os.path.join(directory, "true.c"), os.path.join(directory, MARK)
    with open(src, "w") as f:
        f.write("int main(void) { return 0; }\n")
    done = subprocess.run([cc, "-static", "-O2", "-o", exe, src], capture_output=True)
    return exe if done.returncode == 0 else None


class ExecStorm:
    """`workers` processes, each exec'ing /bin/true in a loop; started as children of a
    launcher that exits at once, so they are no descendants of whoever starts the storm."""

    def __init__(self, workers: int = 3, program: str | None = None) -> None:
        self.workers = workers
        self._tmp = tempfile.TemporaryDirectory(prefix="dockertrace-storm-")
        self.program = program or static_true(self._tmp.name) or shutil.which("true") or "/bin/true"
        ctx = mp.get_context("fork")
        self._counter = ctx.Value("Q", 0)
        self._stop = ctx.Event()
        self._ctx = ctx
        self._procs: list[Any] = []
        self.pids: list[int] = []
        self._t0 = 0.0
        self._n0 = 0

    def start(self) -> ExecStorm:
        for _ in range(self.workers):
            p = self._ctx.Process(
                target=_worker, args=(self._counter, self._stop, self.program), daemon=True
            )
            p.start()
            self._procs.append(p)
            self.pids.append(p.pid or 0)
        time.sleep(0.2)
        self.mark()
        return self

    def mark(self) -> None:
        """Start a new measuring window for `rate()`."""
        self._t0, self._n0 = time.perf_counter(), self.count

    @property
    def count(self) -> int:
        return int(self._counter.value)

    def rate(self) -> float:
        """Execs per second since the last `mark()`."""
        return (self.count - self._n0) / max(1e-9, time.perf_counter() - self._t0)

    def stop(self) -> None:
        self._stop.set()
        for p in self._procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join()
        self._tmp.cleanup()

    def __enter__(self) -> ExecStorm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from probe_storm import run_storm_bench

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--workers", type=int, default=3)
    args = ap.parse_args(argv)
    return run_storm_bench(seconds=args.seconds, workers=args.workers)


if __name__ == "__main__":
    raise SystemExit(main())
