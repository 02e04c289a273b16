"""Records from exec.bpf.c's ring buffer to Events: a ctypes mirror of `struct event`, decoded."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

from tracer.chain.paths import overlay_layers
from tracer.events import Event
from tracer.probes.bcc.boundary import KIND_NAMES, FifoFds, boundary_detail
from tracer.probes.decode import (
    AF_UNIX,
    SIGNALS,
    clone_flag_names,
    mount_flag_names,
    namespace_flag_names,
    nstype_name,
    unix_path,
)
from tracer.probes.lineage import Lineage

# enum kind in exec.bpf.c
EV_EXEC, EV_FORK, EV_EXIT, EV_CLONE, EV_CLONE3 = 1, 2, 3, 4, 5
EV_UNSHARE, EV_SETNS, EV_MOUNT, EV_PIVOT_ROOT, EV_CONNECT = 6, 7, 8, 9, 10
EXIT_CALLED, EXIT_SIGNALED = 1, 2


def event_struct(str_len: int, argc_max: int, arg_len: int) -> type[ctypes.Structure]:
    """ctypes mirror of `struct event` (same field order, natural alignment like C's)."""

    class RawEvent(ctypes.Structure):
        _fields_ = [
            ("ts_ns", ctypes.c_uint64),
            ("kind", ctypes.c_uint32),
            ("pid", ctypes.c_uint32),
            ("tid", ctypes.c_uint32),
            ("argc", ctypes.c_uint32),
            ("ret", ctypes.c_int64),
            ("a0", ctypes.c_uint64),
            ("a1", ctypes.c_uint64),
            ("how", ctypes.c_uint32),
            ("args_size", ctypes.c_uint32),
            ("comm", ctypes.c_char * 16),
            ("comm2", ctypes.c_char * 16),
            ("s0", ctypes.c_char * str_len),
            ("s1", ctypes.c_char * str_len),
            ("s2", ctypes.c_char * 32),
            ("args", ctypes.c_char * (argc_max * arg_len)),
        ]

    return RawEvent


def packed_argv(slots: bytes, arg_len: int) -> bytes:
    """The program's fixed argv slots (entry i at i * arg_len) as NUL-separated entries."""
    return b"\0".join(
        slots[i : i + arg_len].split(b"\0", 1)[0] for i in range(0, len(slots), arg_len)
    )


def _s(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode(errors="replace")


class Decoder:
    """Raw `struct event`s to Events, with parents and layers from the lineage."""

    def __init__(self, lineage: Lineage) -> None:
        self.lineage = lineage
        self.fifos = FifoFds()

    def decode(self, ev: Any, raw_args: bytes = b"") -> Event | None:
        """One record; `raw_args` holds exec's argv (NUL-separated), a mount's data, or a
        write's or read's excerpt."""
        kind, pid, comm = ev.kind, ev.pid, _s(ev.comm)
        if kind in KIND_NAMES:
            found = boundary_detail(ev, self.fifos, raw_args)
            if found is None:
                return None
            known = self.lineage.get(pid, comm)
            return self._event(ev, KIND_NAMES[kind], known.layer, known.ppid, comm, found)
        if kind == EV_EXEC:
            return self._exec(ev, comm, raw_args)
        known = self.lineage.get(pid, comm)
        if kind == EV_FORK:
            name, detail = "proc.fork", self._fork(ev)
        elif kind == EV_EXIT:
            name, detail = "proc.exit", self._exit(ev)
        elif kind in SYSCALLS:
            name, details = SYSCALLS[kind]
            detail = details(ev)
            detail["ret"] = int(ev.ret)
            if kind == EV_MOUNT:
                detail.update(mount_data(ev, raw_args, detail["fstype"]))
        else:
            return None
        return self._event(ev, name, known.layer, known.ppid, comm, detail)

    def _exec(self, ev: Any, comm: str, raw_args: bytes) -> Event:
        argv = [a.decode(errors="replace") for a in raw_args.split(b"\0")[: ev.argc]]
        filename, old_comm = _s(ev.s0), _s(ev.comm2)
        known = self.lineage.on_exec(ev.pid, filename, argv, old_comm, comm)
        detail: dict[str, Any] = {"filename": filename, "argv": argv, "old_comm": old_comm}
        if ev.how:
            detail["argv_truncated"] = True
        return self._event(ev, "proc.exec", known.layer, known.ppid, comm, detail)

    def _fork(self, ev: Any) -> dict[str, Any]:
        child_comm = _s(ev.comm2)
        self.lineage.on_fork(ev.pid, int(ev.a0), int(ev.a1), child_comm)
        return {"child_pid": int(ev.a0), "child_comm": child_comm}

    def _exit(self, ev: Any) -> dict[str, Any]:
        self.lineage.on_exit(ev.pid)
        code = int(ev.a0) if ev.how == EXIT_CALLED else None
        sig = int(ev.a1) if ev.how == EXIT_SIGNALED else None
        detail: dict[str, Any] = {"exit_code": code, "signal": sig}
        if sig is not None:
            detail["signal_name"] = SIGNALS.get(sig, f"signal {sig}")
        return detail

    @staticmethod
    def _event(
        ev: Any, kind: str, layer: Any, ppid: int, comm: str, detail: dict[str, Any]
    ) -> Event:
        return Event(
            time_ns=int(ev.ts_ns),
            source="bpf",
            layer=layer,
            kind=kind,
            pid=int(ev.pid),
            tid=int(ev.tid),
            ppid=ppid,
            comm=comm,
            detail=detail,
        )


def _clone(ev: Any) -> dict[str, Any]:
    flags = int(ev.a0)
    return {"flags": flags, "flag_names": clone_flag_names(flags)}


def _unshare(ev: Any) -> dict[str, Any]:
    flags = int(ev.a0)
    return {"flags": flags, "flag_names": namespace_flag_names(flags)}


def _setns(ev: Any) -> dict[str, Any]:
    nstype = int(ev.a1)
    fd = ctypes.c_int32(ev.a0 & 0xFFFFFFFF).value
    return {"fd": fd, "nstype": nstype, "nstype_name": nstype_name(nstype)}


def _mount(ev: Any) -> dict[str, Any]:
    flags = int(ev.a0)
    return {
        "source": _s(ev.s0),
        "target": _s(ev.s1),
        "fstype": _s(ev.s2),
        "flags": flags,
        "flag_names": mount_flag_names(flags),
    }


def mount_data(ev: Any, raw: bytes, fstype: str) -> dict[str, Any]:
    """A mount's option string (overlay: its layers), read from the caller's memory."""
    data = raw.split(b"\0", 1)[0].decode(errors="replace") or None
    out: dict[str, Any] = {"data": data}
    if ev.how:
        out["data_truncated"] = True
    layers = overlay_layers(data) if fstype == "overlay" else None
    if layers is not None:
        out["layers"] = {"lower": len(layers.lower), "upper": layers.upper}
    return out


def _pivot_root(ev: Any) -> dict[str, Any]:
    return {"new_root": _s(ev.s0), "put_old": _s(ev.s1)}


def _connect(ev: Any) -> dict[str, Any]:
    # ev.s0 would stop at the first NUL: an abstract name starts with one
    raw = ctypes.string_at(ctypes.addressof(ev) + type(ev).s0.offset, 108)
    path = unix_path(raw, int(ev.a1))
    return {"path": path, "family": "AF_UNIX" if ev.a0 == AF_UNIX else int(ev.a0)}


# the syscalls' kinds: the Event's kind and its detail (each gets the call's "ret" last)
SYSCALLS: dict[int, tuple[str, Callable[[Any], dict[str, Any]]]] = {
    EV_CLONE: ("sys.clone", _clone),
    EV_CLONE3: ("sys.clone3", _clone),
    EV_UNSHARE: ("sys.unshare", _unshare),
    EV_SETNS: ("sys.setns", _setns),
    EV_MOUNT: ("sys.mount", _mount),
    EV_PIVOT_ROOT: ("sys.pivot_root", _pivot_root),
    EV_CONNECT: ("sys.connect", _connect),
}
