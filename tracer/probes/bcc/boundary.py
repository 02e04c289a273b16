"""exec.bpf.c's boundary records (cgroups, engine files, the output's bytes) as event details."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any

from tracer.chain.paths import container_id_of_cgroup, container_id_of_path
from tracer.probes.decode import open_flag_names

EV_CGROUP_MKDIR, EV_CGROUP_ATTACH, EV_OPENAT, EV_RENAME, EV_WRITE, EV_READ = 11, 12, 13, 14, 15, 16
PURPOSE_META, PURPOSE_FIFO = 1, 2
PROC_FD = "/proc/self/fd/"
KIND_NAMES = {
    EV_CGROUP_MKDIR: "cgroup.mkdir",
    EV_CGROUP_ATTACH: "cgroup.attach",
    EV_OPENAT: "sys.openat",
    EV_RENAME: "sys.rename",
    EV_WRITE: "sys.write",
    EV_READ: "sys.read",
}


METADATA_FILES = ("config.v2.json", "hostconfig.json")  # dockerd's record of a container
O_ACCMODE, O_RDONLY = 0o3, 0


def is_metadata_write(path: str, flags: int) -> bool:
    """An open for writing of dockerd's container record, or of the temporary file it renames
    onto it (.tmp-config.v2.json123...)."""
    name = path.rsplit("/", 1)[-1]
    return (flags & O_ACCMODE) != O_RDONLY and any(f in name for f in METADATA_FILES)


def _s(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode(errors="replace")


def text_excerpt(raw: bytes) -> str:
    """A buffer's first bytes as text (bytes that are not UTF-8 shown as U+FFFD)."""
    return raw.decode(errors="replace")


def s32(value: int) -> int:
    return ctypes.c_int32(value & 0xFFFFFFFF).value


@dataclass
class FifoFds:
    """Which (pid, fd) names which stdio FIFO: from the opens the program reports, following
    Go's O_PATH open and its reopen through /proc/self/fd/N."""

    paths: dict[tuple[int, int], str] = field(default_factory=dict)

    def opened(self, pid: int, path: str, fd: int) -> str | None:
        """The FIFO `fd` now names (None: not one we know, a /proc/self/fd reopen of another)."""
        fifo: str | None = path
        if path.startswith(PROC_FD):
            tail = path[len(PROC_FD) :]
            fifo = self.paths.get((pid, int(tail))) if tail.isdigit() else None
        if fifo is not None and fd >= 0:
            self.paths[(pid, fd)] = fifo
        return fifo

    def path(self, pid: int, fd: int) -> str | None:
        return self.paths.get((pid, fd))


def boundary_detail(ev: Any, fifos: FifoFds, excerpt_raw: bytes) -> dict[str, Any] | None:
    """The detail of a boundary record; None for one that is not shown (a reopen through
    /proc/self/fd of something that is not a FIFO, a read or write of an unknown fd)."""
    kind, pid = int(ev.kind), int(ev.pid)
    if kind in (EV_CGROUP_MKDIR, EV_CGROUP_ATTACH):
        path = _s(ev.s0)
        detail: dict[str, Any] = {
            "path": path,
            "root": s32(int(ev.a0)),
            "level": s32(int(ev.a1)),
            "id": int(ev.ret) & 0xFFFFFFFFFFFFFFFF,
            "container_id": container_id_of_cgroup(path),
        }
        if kind == EV_CGROUP_ATTACH:
            detail["pid"] = int(ev.how)
            detail["attached_comm"] = _s(ev.comm2)
        return detail
    if kind == EV_OPENAT:
        path, ret, flags = _s(ev.s0), int(ev.ret), s32(int(ev.a0))
        if int(ev.how) == PURPOSE_FIFO:
            fifo = fifos.opened(pid, path, ret)
            if fifo is None:
                return None
            detail = {"path": fifo, "purpose": "fifo"}
            if fifo != path:
                detail["opened_as"] = path
        elif not is_metadata_write(path, flags):
            return None  # hosts, resolv.conf, reads: the kernel's prefix test lets them by
        else:
            detail = {"path": path, "purpose": "metadata"}
        detail.update(flags=flags, flag_names=open_flag_names(flags), ret=ret)
        detail["container_id"] = container_id_of_path(detail["path"])
        return detail
    if kind == EV_RENAME:
        path = _s(ev.s0)
        if not any(path.endswith("/" + f) for f in METADATA_FILES):
            return None
        return {
            "path": path,
            "old_path": _s(ev.s1),
            "ret": None,  # sent at the call's entry: not known yet
            "container_id": container_id_of_path(path),
        }
    if kind in (EV_WRITE, EV_READ):
        fd = s32(int(ev.a0))
        to_fifo = kind == EV_READ or bool(ev.how)
        fifo = fifos.path(pid, fd) if to_fifo else None
        if to_fifo and fifo is None:
            return None
        detail = {"fd": fd, "size": int(ev.a1), "excerpt": text_excerpt(excerpt_raw)}
        detail["path"] = fifo
        if kind == EV_WRITE:
            detail["ret"] = None  # sent at entry
        return detail
    return None
