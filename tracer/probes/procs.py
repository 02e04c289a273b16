"""The moving parts as psutil sees them: dockerd, containerd, shims, runc, sockets and pids."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import psutil

from tracer.events import Event, Layer, monotonic_ns
from tracer.probes.base import EventSource
from tracer.probes.decode import layer_of_comm

DAEMONS = ("dockerd", "containerd")
SO_ACCEPTCON = 0x00010000  # /proc/net/unix Flags of a listening socket
REFRESH_SECONDS = 0.5


@dataclass(frozen=True)
class MovingPart:
    """One process of the engine, as seen at one moment."""

    pid: int
    ppid: int
    role: str
    comm: str
    cmdline: list[str]
    create_time: float  # seconds since the epoch, as psutil reports it
    listens: list[str] = field(default_factory=list)
    nspid: list[int] = field(default_factory=list)
    in_container: bool = False  # below a shim and not runc: the container's processes

    @property
    def layer(self) -> Layer:
        return "container" if self.in_container else layer_of_comm(self.comm, self.cmdline)

    def to_event(self) -> Event:
        detail: dict[str, Any] = {
            "role": self.role,
            "cmdline": self.cmdline,
            "create_time": self.create_time,
            "listens": self.listens,
        }
        if self.nspid:  # only where /proc/PID/status could be read
            detail["nspid"] = self.nspid
        return Event(
            time_ns=monotonic_ns(),
            source="proc",
            layer=self.layer,
            kind="proc.seen",
            pid=self.pid,
            ppid=self.ppid,
            comm=self.comm,
            detail=detail,
        )


def role_of(comm: str, cmdline: Sequence[str]) -> str:
    """What part a process plays: dockerd, containerd, shim, runc, cli, or its own name."""
    base = os.path.basename(cmdline[0]) if cmdline else comm
    if comm.startswith("runc:[") or base == "runc" or (cmdline[1:2] == ["init"] and "runc" in base):
        return "runc"
    if comm.startswith("containerd-shim") or base.startswith("containerd-shim"):
        return "shim"
    if base in ("dockerd", "containerd", "docker-proxy", "docker-init"):
        return base
    if base == "docker":
        return "cli"
    return comm or base


def listening_unix_sockets(pid: int) -> list[str]:
    """Paths of the Unix sockets `pid` listens on (its fds matched against /proc/PID/net/unix)."""
    try:
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        with open(f"/proc/{pid}/net/unix") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return []
    paths = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 8 and int(parts[3], 16) & SO_ACCEPTCON and parts[6] in inodes:
            paths.append(parts[7])
    return sorted(set(paths))


def nspid(pid: int) -> list[int]:
    """NSpid from /proc/PID/status: the pid in each nested pid namespace, outermost first."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return [int(x) for x in line.split()[1:]]
    except (OSError, ValueError):
        pass
    return []


def describe(p: psutil.Process) -> MovingPart | None:
    try:
        with p.oneshot():
            comm, cmdline = p.name(), p.cmdline()
            return MovingPart(
                pid=p.pid,
                ppid=p.ppid(),
                role=role_of(comm, cmdline),
                comm=comm,
                cmdline=cmdline,
                create_time=p.create_time(),
                listens=listening_unix_sockets(p.pid),
                nspid=nspid(p.pid),
            )
    except (psutil.Error, OSError):
        return None


def _is_shim(p: psutil.Process) -> bool:
    try:
        return p.name().startswith("containerd-shim")
    except psutil.Error:
        return False


def _is_engine(p: psutil.Process) -> bool:
    try:
        name = p.name()
    except psutil.Error:
        return False
    return name in DAEMONS or name.startswith("containerd-shim")


def moving_parts(extra: Iterable[int] = (), extra_children: bool = False) -> list[MovingPart]:
    """dockerd, containerd, every shim and their descendants; plus the `extra` pids (and their
    descendants when `extra_children`)."""
    roots = [p for p in psutil.process_iter() if _is_engine(p)]
    seen: dict[int, MovingPart] = {}
    families: list[list[psutil.Process]] = []
    for root in roots:
        try:
            families.append([root, *root.children(recursive=True)])
        except psutil.Error:
            continue
    for pid in extra:
        try:
            p = psutil.Process(pid)
            families.append([p, *p.children(recursive=True)] if extra_children else [p])
        except psutil.Error:
            continue
    for family in families:
        under_shim = bool(family) and _is_shim(family[0])
        for i, p in enumerate(family):
            if p.pid not in seen and (part := describe(p)) is not None:
                if under_shim and i > 0 and part.role not in ("runc", "shim"):
                    part = replace(part, in_container=True, role="container")
                seen[p.pid] = part
    return sorted(seen.values(), key=lambda m: m.create_time)


class ProcSource(EventSource):
    """The last resort: no kernel events, only `proc.seen` for each moving part, re-scanned."""

    name = "proc"
    reports_exits = False

    def __init__(self, refresh_seconds: float = REFRESH_SECONDS) -> None:
        super().__init__()
        self._refresh = refresh_seconds
        self._roots: set[int] = set()
        self._reported: set[tuple[int, float, str]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _start(self, seed_pids: list[int]) -> None:
        self._roots.update(seed_pids)
        self.scan()
        self._thread = threading.Thread(target=self._run, name="dockertrace-procs", daemon=True)
        self._thread.start()

    def scan(self) -> None:
        """Report each process not reported yet (or whose comm changed since)."""
        for part in moving_parts(self._roots, extra_children=True):
            key = (part.pid, part.create_time, part.comm)
            if key not in self._reported:
                self._reported.add(key)
                self.emit(part.to_event())

    def _run(self) -> None:
        while not self._stop.wait(self._refresh):
            self.scan()

    def track(self, pid: int) -> None:
        self._roots.add(pid)

    def _close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def snapshot(self) -> list[dict[str, Any]]:
        parts = moving_parts(self._roots, extra_children=True)
        return [part.to_event().to_dict() for part in parts]
