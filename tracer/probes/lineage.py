"""Who is who among traced processes: parent, layer and comm, kept up to date by fork/exec/exit."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psutil

from tracer.events import Layer
from tracer.probes.decode import CLONE_PARENT, layer_of_comm, layer_of_exec

PROC_EXE = re.compile(r"/proc/(\d+)/exe")


Lookup = Callable[[int], tuple[int, list[str], str] | None]  # pid -> (ppid, cmdline, comm)


def psutil_lookup(pid: int) -> tuple[int, list[str], str] | None:
    try:
        p = psutil.Process(pid)
        return p.ppid(), p.cmdline(), p.name()
    except (psutil.Error, OSError):
        return None


@dataclass
class Known:
    """What is known of one process (a thread group)."""

    ppid: int
    layer: Layer
    comm: str
    runc_sibling: bool = False  # made by a runc process with CLONE_PARENT: one of runc's stages


class Lineage:
    """A pid -> (parent, layer, comm) map fed by the kernel's fork, exec and exit events.

    The layer of a process depends on its lineage (the container's process is whatever runc's
    last stage exec'd, and its children stay in the container), so it cannot be read off one
    event; this map carries it from one event to the next.
    """

    def __init__(self, lookup: Lookup | None = None) -> None:
        self._known: dict[int, Known] = {}
        self._lookup = lookup or psutil_lookup

    def __len__(self) -> int:
        return len(self._known)

    def seed(
        self,
        pid: int,
        ppid: int,
        comm: str,
        cmdline: Sequence[str] = (),
        layer: Layer | None = None,
    ) -> None:
        self._known[pid] = Known(ppid, layer or layer_of_comm(comm, cmdline), comm)

    def get(self, pid: int, comm: str = "") -> Known:
        """The process as known, or as psutil sees it now (once, then remembered)."""
        known = self._known.get(pid)
        if known is None:
            ppid, cmdline = 0, list[str]()
            found = self._lookup(pid)
            if found is not None:
                ppid, cmdline, name = found
                comm = comm or name
            known = Known(ppid, layer_of_comm(comm, cmdline), comm)
            self._known[pid] = known
        elif comm and comm != known.comm:
            known.comm = comm  # prctl(PR_SET_NAME): runc names its stages this way
        return known

    def on_fork(self, parent: int, child: int, clone_flags: int, child_comm: str) -> Known:
        """A new process; with CLONE_PARENT it is a sibling of the caller, not its child."""
        p = self.get(parent)
        sibling = bool(clone_flags & CLONE_PARENT)
        known = Known(
            p.ppid if sibling else parent,
            p.layer,
            child_comm or p.comm,
            runc_sibling=sibling and p.layer == "runc",
        )
        self._known[child] = known
        return known

    def on_exec(
        self, pid: int, filename: str, argv: Sequence[str], old_comm: str, comm: str
    ) -> Known:
        known = self.get(pid)
        before = old_comm or known.comm
        known.layer = layer_of_exec(filename, argv, known.layer, before, known.runc_sibling)
        known.runc_sibling = False
        owner = PROC_EXE.fullmatch(filename)
        if known.layer == "kernel" and owner and int(owner[1]) in self._known:
            # /proc/N/exe: N's program run again (runc runs dockerd's libnetwork-setkey hook so)
            known.layer = self._known[int(owner[1])].layer
        known.comm = comm
        return known

    def on_exit(self, pid: int) -> Known:
        known = self._known.pop(pid, None)
        return known if known is not None else Known(0, "kernel", "")
