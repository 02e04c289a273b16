"""The tracefs backend: a private trace instance that follows the engine's processes by itself.

No compiler, no headers: the same tracepoints as the bcc program, enabled in an instance of our
own. `set_event_pid` holds the threads of dockerd, containerd, the shims and the seeds, and
`options/event-fork` makes the kernel add every child they fork (and drop it at exit): the
process-tree filter happens in the kernel here too.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import itertools
import os
import re
import select
import threading
import time
from collections.abc import Iterable
from typing import Any

import psutil

from tracer.probes import procs
from tracer.probes.base import EventSource, exit_on_sigterm, tracefs_root
from tracer.probes.leftovers import INSTANCE_PREFIX
from tracer.probes.lineage import Lineage
from tracer.probes.tracefs.decode import SYSCALLS, HostView, Mount, TracefsDecoder
from tracer.probes.tracefs.parse import parse_line

# tracepoint -> filter ("" for none)
EVENTS: dict[str, str] = {
    "sched/sched_process_exec": "",
    "sched/sched_process_fork": "",
    "sched/sched_process_exit": "group_dead == 1",
    "signal/signal_deliver": "sa_handler == 0",
    "syscalls/sys_enter_exit_group": "",
    # runc making and joining the container's cgroup; strings printed in full. Not here:
    # openat/renameat/read/write, whose paths and bytes tracefs prints only as pointers, so
    # neither can it show them nor the kernel filter them to the engine's directories.
    "cgroup/cgroup_mkdir": "",
    "cgroup/cgroup_attach_task": "",
    **{f"syscalls/sys_{edge}_{call}": "" for call in SYSCALLS for edge in ("enter", "exit")},
}
BUFFER_KB = 4096  # per CPU
_instances = itertools.count()  # several sources in one process each get their own instance
LOST = re.compile(r"\[LOST (\d+) EVENTS\]")
POLL_MS = 100


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return None


def proc_cmdline(pid: int) -> list[str] | None:
    raw = _read(f"/proc/{pid}/cmdline")
    return raw.rstrip("\0").split("\0") if raw else None


def proc_comm(pid: int) -> str | None:
    raw = _read(f"/proc/{pid}/comm")
    return raw.strip() if raw else None


def proc_tgid(tid: int) -> int | None:
    raw = _read(f"/proc/{tid}/status")
    for line in (raw or "").splitlines():
        if line.startswith("Tgid:"):
            return int(line.split()[1])
    return None


def proc_mounts(pid: int) -> dict[str, Mount] | None:
    raw = _read(f"/proc/{pid}/mountinfo")
    if raw is None:
        return None
    table: dict[str, Mount] = {}
    for line in raw.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 2:
            table[fields[0]] = (tail[0], tail[1], fields[4])
    return table


def proc_mnt_ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def host_view() -> HostView:
    return HostView(proc_cmdline, proc_comm, proc_tgid, proc_mounts, proc_mnt_ns)


def threads_of(pid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def clean_stale_instances(root: str) -> list[str]:
    """Remove instances left by dead runs (a `kill -9`): their pid is gone or was reused."""
    removed = []
    base = os.path.join(root, "instances")
    for name in os.listdir(base) if os.path.isdir(base) else []:
        if not name.startswith(INSTANCE_PREFIX):
            continue
        path = os.path.join(base, name)
        try:  # dockertrace-PID, or dockertrace-PID-N for a process's later sources
            pid = int(name.removeprefix(INSTANCE_PREFIX).split("-")[0])
            alive = (
                psutil.pid_exists(pid)
                and psutil.Process(pid).create_time() <= os.stat(path).st_ctime + 1
            )
        except (ValueError, psutil.Error, OSError):
            alive = False
        if not alive and remove_instance(path):
            removed.append(path)
    return removed


def remove_instance(path: str, attempts: int = 20) -> bool:
    with contextlib.suppress(OSError), open(os.path.join(path, "events", "enable"), "w") as f:
        f.write("0")
    for _ in range(attempts):
        try:
            os.rmdir(path)
            return True
        except FileNotFoundError:
            return True
        except OSError as e:
            if e.errno != errno.EBUSY:
                return False
            time.sleep(0.05)
    return False


class TracefsSource(EventSource):
    """Tracepoints through a private tracefs instance, parsed from its trace_pipe."""

    name = "tracefs"

    def __init__(self) -> None:
        super().__init__()
        self.root = tracefs_root() or "/sys/kernel/tracing"
        n = next(_instances)
        suffix = f"{os.getpid()}" if n == 0 else f"{os.getpid()}-{n}"
        self.instance = os.path.join(self.root, "instances", INSTANCE_PREFIX + suffix)
        self.lineage = Lineage()
        self.decoder = TracefsDecoder(self.lineage, host_view(), self_pid=os.getpid())
        self._fd: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stale_removed: list[str] = []
        self.lines = 0
        self.unparsed = 0
        self.lost = 0

    def _write(self, rel: str, value: str, append: bool = False) -> None:
        # Without O_TRUNC, set_event_pid keeps what it holds (the kernel's own additions too).
        flags = os.O_WRONLY | (0 if append else os.O_TRUNC)
        fd = os.open(os.path.join(self.instance, rel), flags)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)

    def _start(self, seed_pids: list[int]) -> None:
        self.stale_removed = clean_stale_instances(self.root)
        if os.path.exists(self.instance):
            remove_instance(self.instance)
        os.mkdir(self.instance)
        atexit.register(self.close)
        exit_on_sigterm()
        try:
            self._write("trace_clock", "mono")  # CLOCK_MONOTONIC, like bpf_ktime_get_ns()
            self._write("buffer_size_kb", str(BUFFER_KB))
            self._write("options/record-tgid", "1")
            self._write("options/event-fork", "1")
            parts = procs.moving_parts(seed_pids)
            for part in parts:
                if part.role != "docker-proxy" or part.pid in seed_pids:
                    self.lineage.seed(part.pid, part.ppid, part.comm, part.cmdline, part.layer)
                    if part.role == "dockerd":
                        self.decoder.remember_mounts(part.pid)
            self._add_pids(p.pid for p in parts if p.role != "docker-proxy" or p.pid in seed_pids)
            self._add_pids(seed_pids)
            for event, flt in EVENTS.items():
                if flt:
                    self._write(f"events/{event}/filter", flt)
                self._write(f"events/{event}/enable", "1")
            self._fd = os.open(
                os.path.join(self.instance, "trace_pipe"), os.O_RDONLY | os.O_NONBLOCK
            )
        except BaseException:
            self.close()
            raise
        self._thread = threading.Thread(target=self._run, name="dockertrace-tracefs", daemon=True)
        self._thread.start()

    def _add_pids(self, pids: Iterable[int]) -> None:
        tids = [str(t) for pid in pids for t in threads_of(pid)]
        for i in range(0, len(tids), 200):
            self._write("set_event_pid", " ".join(tids[i : i + 200]), append=True)

    def track(self, pid: int) -> None:
        self._add_pids([pid])

    def _run(self) -> None:
        assert self._fd is not None
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        partial = b""
        while not self._stop.is_set():
            if not poller.poll(POLL_MS):
                continue
            try:
                chunk = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                continue
            except OSError:
                return
            lines = (partial + chunk).split(b"\n")
            partial = lines.pop()
            for raw in lines:
                self._line(raw.decode(errors="replace"))

    def _line(self, text: str) -> None:
        self.lines += 1
        rec = parse_line(text)
        if rec is None:
            lost = LOST.search(text)
            if lost:  # the kernel's buffer overflowed before we read it
                self.lost += int(lost[1])
            else:
                self.unparsed += 1
            return
        try:
            events = self.decoder.feed(rec)
        except Exception:  # one odd line must not stop the stream
            self.unparsed += 1
            return
        for event in events:
            self.emit(event)

    def _close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        remove_instance(self.instance)
        atexit.unregister(self.close)

    def lost_events(self) -> int:
        return self.lost

    def status(self) -> dict[str, Any]:
        return {"instance": self.instance, "lines": self.lines, "unparsed": self.unparsed}
