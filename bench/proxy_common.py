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
def recording_proxy(
    directory: str, root: Path = ROOT, name: str = "proxy", priority: str = ""
) -> Iterator[ProxyProcess]:
    """The recording proxy of the checkout at `root` (default: this one; bench --also runs
    another checkout's beside it, e.g. main's, as a baseline in the same run), its recorder
    at `priority` (default: the command's own default)."""
    path = os.path.join(directory, name, "docker.sock")
    recording = os.path.join(directory, f"{name}.jsonl")
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
        *(["--recorder-priority", priority] if priority else []),
    ]
    proc = subprocess.Popen(argv, cwd=root, stderr=subprocess.DEVNULL)
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
def relays(
    also: Path | None = None, priorities: str = ""
) -> Iterator[tuple[SocatProcess, dict[str, ProxyProcess]]]:
    """socat and the recording proxies a run compares: this checkout's ("dockertrace"),
    another checkout's ("also"), one per recorder priority asked for."""
    with contextlib.ExitStack() as stack:
        d = stack.enter_context(workdir())
        socat = stack.enter_context(socat_relay(d))
        proxies = {"dockertrace": stack.enter_context(recording_proxy(d))}
        if also:
            proxies["also"] = stack.enter_context(recording_proxy(d, also, "also"))
        for prio in filter(None, priorities.split(",")):
            proxies[prio] = stack.enter_context(recording_proxy(d, name=prio, priority=prio))
        yield socat, proxies


def label(name: str, also: Path | None) -> str:
    """A path's name in the tables."""
    if name == "also":
        return f"{also} (recording)"
    if name in ("idle", "low", "normal"):
        return f"dockertrace, recorder {name}"
    return {"direct": "direct", "socat": "socat -t 30"}.get(name, f"{name} (recording)")


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


def load() -> str:
    """The load average now, for every printed measurement (the machine is shared)."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (5 min {five:.2f}) on {os.cpu_count()} CPUs"


def table(rows: list[tuple[str, ...]], head: tuple[str, ...] = ()) -> str:
    head = head or ("path", "measured", "ratio", "target")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *rows]]
    return "\n".join(lines)


def dump(obj: object) -> str:
    return json.dumps(obj, indent=2)
