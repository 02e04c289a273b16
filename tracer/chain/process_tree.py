"""Who started whom: the processes of a run as a tree, with pids, lifetimes and exits (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tracer.events import Event

# CLONE_PARENT makes the new process a sibling of its caller: runc's stages are all children of
# `runc create`. A shim is a child subreaper (PR_SET_CHILD_SUBREAPER): a process whose parent
# exits is handed to the nearest living shim above it, else to init.
SUBREAPER_LAYERS = ("shim",)
INIT_PID = 1


@dataclass
class Proc:
    """One process of the run as the events show it (threads are counted, not listed)."""

    pid: int
    parent: int | None = None  # who made it (the caller's parent, for CLONE_PARENT)
    names: list[str] = field(default_factory=list)  # comm as it changed: runc, exe, runc:[0:PARENT]
    named_ns: list[int] = field(default_factory=list)  # when it took each of those names
    layer: str = ""  # the latest layer its events had
    argv: tuple[str, ...] = ()  # of its latest exec
    start_ns: int | None = None  # its fork, when seen
    end_ns: int | None = None  # its exit, when seen
    exit_code: int | None = None
    signal: str = ""
    ns_pid: int | None = None
    ns_pid_how: str = ""  # "NSpid" (read from /proc) or "first after CLONE_NEWPID" (derived)
    via: str = ""  # how it was made: fork, clone, clone(CLONE_PARENT); "" when not seen
    reaper: int | None = None  # who it was handed to when its parent exited first
    threads: int = 0
    first_ns: int | None = None  # the first event that shows it (its fork, or anything it did)
    events: list[Event] = field(default_factory=list)  # its fork, execs, exit, and its clones

    @property
    def name(self) -> str:
        return self.names[-1] if self.names else "?"

    def names_by(self, time_ns: int) -> list[str]:
        """The names it had taken by time_ns."""
        return [n for n, t in zip(self.names, self.named_ns, strict=True) if t <= time_ns]

    @property
    def holder(self) -> int | None:
        """Its parent now: the reaper it was handed to, else who made it."""
        return self.reaper if self.reaper is not None else self.parent

    @property
    def lifetime_ns(self) -> int | None:
        if self.start_ns is None or self.end_ns is None:
            return None
        return self.end_ns - self.start_ns


@dataclass(frozen=True)
class ProcessTree:
    """The run's processes by pid, in order of first sight, and the tree they make."""

    procs: dict[int, Proc]

    def children(self, pid: int) -> list[Proc]:
        """The processes it made, and those handed to it (a subreaper's adopted ones) last."""
        kids = [p for p in self.procs.values() if p.parent == pid and p.reaper is None]
        return kids + [p for p in self.procs.values() if p.reaper == pid]

    @property
    def roots(self) -> list[Proc]:
        return [p for p in self.procs.values() if p.holder not in self.procs or p.holder == p.pid]

    def alive_at(self, pid: int, time_ns: int) -> bool:
        p = self.procs.get(pid)
        return p is not None and (p.end_ns is None or p.end_ns > time_ns)


def _is_thread(ev: Event) -> bool:
    return "CLONE_THREAD" in (ev.detail.get("flag_names") or [])


def _child_of(ev: Event) -> int | None:
    if ev.kind == "proc.fork":
        child = ev.detail.get("child_pid")
    elif ev.kind in ("sys.clone", "sys.clone3") and not _is_thread(ev):
        child = ev.detail.get("ret")
    else:
        return None
    return child if isinstance(child, int) and child > 0 else None


def process_tree(events: Iterable[Event]) -> ProcessTree:
    """The tree the kernel's events draw (proxy events carry no process of their own)."""
    procs: dict[int, Proc] = {}
    newpid_callers: set[int] = set()

    now = 0

    def proc(pid: int) -> Proc:
        if pid not in procs:
            procs[pid] = Proc(pid, first_ns=now)
        return procs[pid]

    for ev in sorted(events, key=lambda e: e.time_ns):
        if ev.source == "proxy" or not ev.pid:
            continue
        now = ev.time_ns
        p = proc(ev.pid)
        _name(p, ev.comm, ev.time_ns)
        p.layer = ev.layer
        if p.parent is None and ev.ppid and ev.ppid != ev.pid:
            p.parent = ev.ppid
        _one(ev, p, proc, newpid_callers)
    _reparent(procs)
    return ProcessTree(procs)


def _one(ev: Event, p: Proc, proc: Callable[[int], Proc], newpid_callers: set[int]) -> None:
    kind, d = ev.kind, ev.detail
    if kind in ("sys.clone", "sys.clone3") and _is_thread(ev):
        p.threads += 1
        return
    child = _child_of(ev)
    if child is not None and child != p.pid:
        c = proc(child)
        flags = d.get("flag_names") or []
        by_clone = kind != "proc.fork"
        if c.start_ns is None or by_clone:
            c.start_ns = min(ev.time_ns, c.start_ns or ev.time_ns)
            sibling = by_clone and "CLONE_PARENT" in flags
            c.parent = (p.parent or p.pid) if sibling else p.pid
            c.via = "clone(CLONE_PARENT)" if sibling else ("clone" if by_clone else "fork")
            if p.pid in newpid_callers and c.ns_pid is None:
                newpid_callers.discard(p.pid)
                c.ns_pid, c.ns_pid_how = 1, "first after CLONE_NEWPID"
        if kind == "proc.fork" and d.get("child_comm"):
            _name(c, str(d["child_comm"]), ev.time_ns)
        p.events.append(ev)
    elif kind == "sys.unshare" and "CLONE_NEWPID" in (d.get("flag_names") or []):
        newpid_callers.add(p.pid)
        p.events.append(ev)
    elif kind == "proc.exec":
        argv = d.get("argv") or [d.get("filename", "")]
        p.argv = tuple(str(a) for a in argv)
        p.events.append(ev)
    elif kind == "proc.exit":
        p.end_ns = ev.time_ns
        code = d.get("exit_code")
        p.exit_code = code if isinstance(code, int) else None
        sig = d.get("signal_name") or d.get("signal")
        p.signal = str(sig) if sig else ""
        p.events.append(ev)
    elif kind == "proc.seen":
        nspid = d.get("nspid")
        if isinstance(nspid, list) and nspid and isinstance(nspid[-1], int):
            p.ns_pid, p.ns_pid_how = nspid[-1], "NSpid"


def _name(p: Proc, comm: str, time_ns: int) -> None:
    if comm and (not p.names or p.names[-1] != comm):
        p.names.append(comm)
        p.named_ns.append(time_ns)


def _reparent(procs: dict[int, Proc]) -> None:
    """Hand each process that outlived its parent to the nearest living subreaper above it."""
    for p in procs.values():
        parent = procs.get(p.parent) if p.parent is not None else None
        if parent is None or parent.end_ns is None:
            continue
        if p.end_ns is not None and p.end_ns <= parent.end_ns:
            continue
        up = procs.get(parent.parent) if parent.parent is not None else None
        while up is not None and not (up.layer in SUBREAPER_LAYERS and _alive(up, parent.end_ns)):
            up = procs.get(up.parent) if up.parent not in (None, up.pid) else None
        p.reaper = up.pid if up is not None else INIT_PID


def _alive(p: Proc, at_ns: int) -> bool:
    return p.end_ns is None or p.end_ns > at_ns
