"""trace_pipe records to Events: merges sys_enter with sys_exit and says what tracefs cannot read.

tracefs prints a syscall's pointer arguments as numbers, never what they point to; so mount
paths, clone3's flags, pivot_root's paths and connect's address are reported as `None` and listed
under `unreadable`. Where /proc can tell something after the fact (a process's argv, new entries in
a mount table) it is added under its own key that says so, never passed off as the syscall's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tracer.chain.paths import container_id_of_cgroup
from tracer.events import Event
from tracer.probes.decode import (
    CLONE_THREAD,
    SIGNALS,
    clone_flag_names,
    mount_flag_names,
    namespace_flag_names,
    nstype_name,
)
from tracer.probes.lineage import Lineage
from tracer.probes.tracefs.parse import (
    CGROUP_ATTACH,
    CGROUP_MKDIR,
    EXEC,
    EXIT,
    FORK,
    SIGNAL,
    TraceLine,
    syscall_args,
    syscall_ret,
)

FATAL_SIGNALS = frozenset(range(1, 32)) - {17, 18, 19, 20, 21, 22, 23, 28}
SYSCALLS = ("clone", "clone3", "unshare", "setns", "mount", "pivot_root", "connect")
Mount = tuple[str, str, str]  # fstype, source, target


@dataclass
class HostView:
    """What /proc can tell where tracefs is blind; replaced by fakes in unit tests."""

    cmdline: Callable[[int], list[str] | None]
    comm: Callable[[int], str | None]
    tgid: Callable[[int], int | None]
    mounts: Callable[[int], dict[str, Mount] | None]  # mount id -> entry, of pid's namespace
    mnt_ns: Callable[[int], str | None]


@dataclass
class Pending:
    line: TraceLine
    args: dict[str, int]


@dataclass
class TracefsDecoder:
    """Feed records in trace order; get Events back (sometimes none, sometimes later)."""

    lineage: Lineage
    view: HostView
    self_pid: int = 0  # the tracer: its syscalls are dropped (its forks are kept), as bcc does
    _pending: dict[int, Pending] = field(default_factory=dict)
    _tgid: dict[int, int] = field(default_factory=dict)
    _exits: dict[int, tuple[str, int]] = field(default_factory=dict)
    _forks: dict[int, tuple[TraceLine, int, int]] = field(default_factory=dict)
    _mount_tables: dict[str, dict[str, Mount]] = field(default_factory=dict)

    def remember_mounts(self, pid: int) -> None:
        """Take the mount table of pid's namespace as the baseline later mounts are diffed with."""
        ns, table = self.view.mnt_ns(pid), self.view.mounts(pid)
        if ns is not None and table is not None:
            self._mount_tables[ns] = table

    def _pid_of(self, rec: TraceLine) -> int:
        if rec.tgid is not None:
            self._tgid[rec.tid] = rec.tgid
            return rec.tgid
        known = self._tgid.get(rec.tid) or self.view.tgid(rec.tid)
        return known or rec.tid

    def feed(self, rec: TraceLine) -> list[Event]:
        out: list[Event] = []
        if rec.tid in self._forks and rec.tgid is not None:
            # The child's first line says whether it is a thread (its tgid is its parent's).
            fork_rec, parent, flags = self._forks.pop(rec.tid)
            if rec.tgid == rec.tid:
                out.append(self._fork_event(fork_rec, parent, rec.tid, flags))
        pid = self._pid_of(rec)
        name = rec.event
        if name.startswith("sys_"):
            out += self._syscall(rec, pid, name[4:])
        elif name == "sched_process_exec":
            out += self._exec(rec)
        elif name == "sched_process_fork":
            out += self._fork(rec, pid)
        elif name == "sched_process_exit":
            out += self._exit(rec, pid)
        elif name in ("cgroup_mkdir", "cgroup_attach_task"):
            out += self._cgroup(rec, pid, name)
        elif name == "signal_deliver":
            m = SIGNAL.match(rec.body)
            if m and int(m["handler"], 0) == 0 and int(m["sig"]) in FATAL_SIGNALS:
                self._exits.setdefault(pid, ("signaled", int(m["sig"])))
        return out

    def _event(self, rec: TraceLine, pid: int, kind: str, detail: dict[str, Any]) -> Event:
        known = self.lineage.get(pid, rec.comm or "")
        return Event(
            time_ns=rec.time_ns,
            source="tracefs",
            layer=known.layer,
            kind=kind,
            pid=pid,
            tid=rec.tid,
            ppid=known.ppid,
            comm=rec.comm or known.comm,
            detail=detail,
        )

    def _syscall(self, rec: TraceLine, pid: int, call: str) -> list[Event]:
        if call == "exit_group" and not rec.is_sys_exit:
            code = syscall_args(rec.body).get("error_code", 0) & 0xFF
            self._exits.setdefault(pid, ("called", code))
            return []
        if call not in SYSCALLS:
            return []
        if not rec.is_sys_exit:
            self._pending[rec.tid] = Pending(rec, syscall_args(rec.body))
            return []
        enter = self._pending.pop(rec.tid, None)
        ret = syscall_ret(rec.body)
        if enter is None or ret is None or pid == self.self_pid:
            return []  # a clone's child returning 0, a call begun before tracing, or ours
        a, first = enter.args, enter.line
        detail: dict[str, Any]
        if call == "clone":
            flags = a.get("clone_flags", 0)
            detail = {"flags": flags, "flag_names": clone_flag_names(flags), "ret": ret}
        elif call == "clone3":
            detail = {"flags": None, "flag_names": [], "ret": ret, "unreadable": ["flags"]}
        elif call == "unshare":
            flags = a.get("unshare_flags", 0)
            detail = {"flags": flags, "flag_names": namespace_flag_names(flags), "ret": ret}
        elif call == "setns":
            nstype = a.get("flags", 0)
            detail = {"fd": a.get("fd"), "nstype": nstype, "nstype_name": nstype_name(nstype)}
            detail["ret"] = ret
        elif call == "mount":
            flags = a.get("flags", 0)
            detail = {
                "source": None,
                "target": None,
                "fstype": None,
                "flags": flags,
                "flag_names": mount_flag_names(flags),
                "ret": ret,
                "data": None,  # the option string (overlay's layers) is behind a pointer too
                "unreadable": ["source", "target", "fstype", "data"],
            }
            if ret == 0:
                new = self._new_mounts(pid)
                if new is not None:
                    detail["new_in_mount_table"] = new
        elif call == "pivot_root":
            detail = {"new_root": None, "put_old": None, "ret": ret}
            detail["unreadable"] = ["new_root", "put_old"]
        else:  # connect: the address is behind a pointer; any family shows up here
            detail = {"path": None, "family": None, "fd": a.get("fd"), "ret": ret}
            detail.update(addrlen=a.get("addrlen"), unreadable=["path", "family"])
        return [self._event(first, pid, f"sys.{call}", detail)]

    def _cgroup(self, rec: TraceLine, pid: int, name: str) -> list[Event]:
        """cgroup records print their strings in full: nothing here is unreadable."""
        m = (CGROUP_MKDIR if name == "cgroup_mkdir" else CGROUP_ATTACH).match(rec.body)
        if m is None or pid == self.self_pid:
            return []
        path = m["path"]
        detail: dict[str, Any] = {
            "path": path,
            "root": int(m["root"]),
            "level": int(m["level"]),
            "id": int(m["id"]),
            "container_id": container_id_of_cgroup(path),
        }
        if name == "cgroup_mkdir":
            return [self._event(rec, pid, "cgroup.mkdir", detail)]
        detail.update(pid=int(m["pid"]), attached_comm=m["comm"])
        return [self._event(rec, pid, "cgroup.attach", detail)]

    def _new_mounts(self, pid: int) -> list[dict[str, str]] | None:
        """Mounts that appeared in pid's namespace since the last look (only where a baseline
        exists): what /proc/PID/mountinfo shows, which may include other processes' mounts."""
        ns = self.view.mnt_ns(pid)
        if ns is None or ns not in self._mount_tables:
            return None
        table = self.view.mounts(pid)
        if table is None:
            return None
        before = self._mount_tables[ns]
        self._mount_tables[ns] = table
        return [
            {"fstype": t[0], "source": t[1], "target": t[2]}
            for mid, t in table.items()
            if mid not in before
        ]

    def _exec(self, rec: TraceLine) -> list[Event]:
        m = EXEC.match(rec.body)
        if m is None:
            return []
        pid, filename = int(m["pid"]), m["filename"]
        self._tgid[pid] = pid
        self._exits.pop(pid, None)  # exec kills the other threads; the process goes on
        old_comm = self.lineage.get(pid, "").comm
        comm = self.view.comm(pid) or os.path.basename(filename)[:15]
        argv = self.view.cmdline(pid)
        known = self.lineage.on_exec(pid, filename, argv or [], old_comm, comm)
        detail: dict[str, Any] = {"filename": filename, "argv": argv, "old_comm": old_comm}
        if argv is None:
            detail["unreadable"] = ["argv"]
        else:
            detail["argv_from"] = "/proc/PID/cmdline, read after the exec"
        return [
            Event(
                time_ns=rec.time_ns,
                source="tracefs",
                layer=known.layer,
                kind="proc.exec",
                pid=pid,
                tid=int(m["old_pid"]),
                ppid=known.ppid,
                comm=comm,
                detail=detail,
            )
        ]

    def _fork(self, rec: TraceLine, pid: int) -> list[Event]:
        m = FORK.match(rec.body)
        if m is None:
            return []
        child = int(m["child_pid"])
        call = self._pending.get(rec.tid)
        flags: int | None = 0  # fork()/vfork(): a process
        if call is not None and call.line.event == "sys_clone":
            flags = call.args.get("clone_flags", 0)
        elif call is not None and call.line.event == "sys_clone3":
            flags = None  # behind a pointer: the child's tgid will tell
        if flags is None:
            child_tgid = self.view.tgid(child)
            if child_tgid is None:
                self._forks[child] = (rec, pid, 0)
                return []
            flags = CLONE_THREAD if child_tgid != child else 0
        if flags & CLONE_THREAD:
            self._tgid[child] = pid
            return []
        return [self._fork_event(rec, pid, child, flags)]

    def _fork_event(self, rec: TraceLine, parent: int, child: int, flags: int) -> Event:
        m = FORK.match(rec.body)
        child_comm = m["child_comm"] if m else ""
        self._tgid[child] = child
        event = self._event(
            rec, parent, "proc.fork", {"child_pid": child, "child_comm": child_comm}
        )
        self.lineage.on_fork(parent, child, flags, child_comm)
        return event

    def _exit(self, rec: TraceLine, pid: int) -> list[Event]:
        m = EXIT.match(rec.body)
        if m is None or m["dead"] not in ("true", "1"):
            return []
        how = self._exits.pop(pid, None)
        detail: dict[str, Any] = {"exit_code": None, "signal": None}
        if how and how[0] == "called":
            detail["exit_code"] = how[1]
        elif how:
            detail["signal"] = how[1]
            detail["signal_name"] = SIGNALS.get(how[1], f"signal {how[1]}")
        event = self._event(rec, pid, "proc.exit", detail)
        self.lineage.on_exit(pid)
        return [event]
