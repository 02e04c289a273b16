"""`setup.sh remove` stops only the processes set-up started: same pid, name and start time."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.setup.chroot import REPO


def start_ticks(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]


def test_stops_what_it_started_and_not_a_reused_pid(tmp_path: Path) -> None:
    mine = subprocess.Popen(["sleep", "60"])
    other = subprocess.Popen(["sleep", "60"])
    try:
        # `other` stands for a process that got a pid set-up once recorded: its start time differs.
        (tmp_path / "started-daemons").write_text(
            f"sleep {mine.pid} {start_ticks(mine.pid)}\nsleep {other.pid} 1\n"
        )
        setup = REPO / "tracer/setup"
        r = subprocess.run(
            ["bash", "-c", f". {setup}/common.sh; . {setup}/remove.sh; stop_started"],
            env={**os.environ, "DOCKERTRACE_STATE_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert r.returncode == 0, r.stderr
        assert mine.wait(timeout=10) == -15
        assert other.poll() is None, "a process set-up did not start was stopped"
        assert f"stopping sleep pid {mine.pid}" in r.stderr
        assert not (tmp_path / "started-daemons").exists()
    finally:
        for p in (mine, other):
            if p.poll() is None:
                p.kill()
                p.wait()
