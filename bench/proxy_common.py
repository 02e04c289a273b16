"""Shared pieces of the proxy benchmarks: socat, a recording proxy process, its peak RSS."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tracer.endpoint import DEFAULT_SOCKET, try_connect

ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds(pid: int, reaped_children: bool = False) -> float:
    """User + system CPU time of a process (and of its children it has waited for)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    ticks = utime + stime + (cutime + cstime if reaped_children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class SocatProcess:
    path: str
    pid: int

    def cpu(self) -> float:
        """socat forks one child per connection; their time counts once they are reaped."""
        time.sleep(0.2)
        return cpu_seconds(self.pid, reaped_children=True)


@contextlib.contextmanager
def socat_relay(directory: str) -> Iterator[SocatProcess]:
    """socat as the issue measures it (-t 30 keeps half-closed streams)."""
    path = os.path.join(directory, "socat.sock")
    socat = shutil.which("socat")
    if socat is None:
        raise SystemExit("socat is not installed")
    proc = subprocess.Popen(
        [socat, "-t", "30", f"UNIX-LISTEN:{path},fork", f"UNIX-CONNECT:{DEFAULT_SOCKET}"]
    )
    try:
        for _ in range(200):
            if os.path.exists(path):
                break
            time.sleep(0.01)
        yield SocatProcess(path, proc.pid)
    finally:
        proc.terminate()
        proc.wait()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


@dataclass
class ProxyProcess:
    """`dockertrace proxy --record FILE --quiet` in its own process, as a user runs it."""

    path: str
    pid: int
    recording: str

    def peak_rss_mb(self) -> float:
        """Peak resident set (VmHWM) of the proxy: the recording process plus its forwarding
        child."""
        with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
            pids = [self.pid, *map(int, f.read().split())]
        return sum(_hwm_mb(pid) for pid in pids)

    def cpu(self) -> tuple[float, float]:
        """(recorder, forwarding child) CPU seconds so far."""
        with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
            child = int(f.read().split()[0])
        return cpu_seconds(self.pid), cpu_seconds(child)

    def events(self) -> int:
        with open(self.recording) as f:
            return sum(1 for _ in f) - 1


@contextlib.contextmanager
def recording_proxy(directory: str) -> Iterator[ProxyProcess]:
    path = os.path.join(directory, "proxy", "docker.sock")
    recording = os.path.join(directory, "recording.jsonl")
    argv = [
        sys.executable,
        "-m",
        "tracer.cli.proxy",  # the proxy alone, without the app's other modules
        "--quiet",
        "--record",
        recording,
        "--listen",
        f"unix://{path}",
        "--upstream",
        f"unix://{DEFAULT_SOCKET}",
    ]
    proc = subprocess.Popen(argv, cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            if try_connect(path)[0] == "ok":
                break
            if proc.poll() is not None:
                raise SystemExit("dockertrace proxy did not start")
            time.sleep(0.01)
        yield ProxyProcess(path, proc.pid, recording)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


@contextlib.contextmanager
def workdir() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="dockertrace-bench-") as d:
        os.chmod(d, 0o700)
        yield d


def _hwm_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def demo_image() -> str:
    """alpine where it is here, otherwise the offline busybox image setup builds."""
    for image in ("alpine:latest", "dockertrace/busybox:latest"):
        if (
            subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode
            == 0
        ):
            return image
    raise SystemExit("no demo image: run `bash tracer/setup.sh env`")


def table(rows: list[tuple[str, str, str, str]]) -> str:
    head = ("path", "measured", "ratio", "target")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *rows]]
    return "\n".join(lines)


def dump(obj: object) -> str:
    return json.dumps(obj, indent=2)
