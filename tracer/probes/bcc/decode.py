"""Records from exec.bpf.c's ring buffer to Events: a ctypes mirror of `struct event`, decoded."""

from __future__ import annotations

import ctypes
from typing import Any

from tracer.events import Event
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

    def decode(self, ev: Any, raw_args: bytes = b"") -> Event | None:
        kind, pid, comm = ev.kind, ev.pid, _s(ev.comm)
        detail: dict[str, Any]
        if kind == EV_EXEC:
            argv = [a.decode(errors="replace") for a in raw_args.split(b"\0")[: ev.argc]]
            filename, old_comm = _s(ev.s0), _s(ev.comm2)
            known = self.lineage.on_exec(pid, filename, argv, old_comm, comm)
            detail = {"filename": filename, "argv": argv, "old_comm": old_comm}
            if ev.how:
                detail["argv_truncated"] = True
            return self._event(ev, "proc.exec", known.layer, known.ppid, comm, detail)
        known = self.lineage.get(pid, comm)
        layer, ppid = known.layer, known.ppid
        if kind == EV_FORK:
            child_comm = _s(ev.comm2)
            self.lineage.on_fork(pid, int(ev.a0), int(ev.a1), child_comm)
            detail = {"child_pid": int(ev.a0), "child_comm": child_comm}
            return self._event(ev, "proc.fork", layer, ppid, comm, detail)
        if kind == EV_EXIT:
            self.lineage.on_exit(pid)
            code = int(ev.a0) if ev.how == EXIT_CALLED else None
            sig = int(ev.a1) if ev.how == EXIT_SIGNALED else None
            detail = {"exit_code": code, "signal": sig}
            if sig is not None:
                detail["signal_name"] = SIGNALS.get(sig, f"signal {sig}")
            return self._event(ev, "proc.exit", layer, ppid, comm, detail)
        ret = int(ev.ret)
        if kind in (EV_CLONE, EV_CLONE3):
            flags = int(ev.a0)
            detail = {"flags": flags, "flag_names": clone_flag_names(flags), "ret": ret}
            name = "sys.clone" if kind == EV_CLONE else "sys.clone3"
            return self._event(ev, name, layer, ppid, comm, detail)
        if kind == EV_UNSHARE:
            flags = int(ev.a0)
            detail = {"flags": flags, "flag_names": namespace_flag_names(flags), "ret": ret}
            return self._event(ev, "sys.unshare", layer, ppid, comm, detail)
        if kind == EV_SETNS:
            nstype = int(ev.a1)
            fd = ctypes.c_int32(ev.a0 & 0xFFFFFFFF).value
            detail = {"fd": fd, "nstype": nstype, "nstype_name": nstype_name(nstype), "ret": ret}
            return self._event(ev, "sys.setns", layer, ppid, comm, detail)
        if kind == EV_MOUNT:
            flags = int(ev.a0)
            detail = {
                "source": _s(ev.s0),
                "target": _s(ev.s1),
                "fstype": _s(ev.s2),
                "flags": flags,
                "flag_names": mount_flag_names(flags),
                "ret": ret,
            }
            return self._event(ev, "sys.mount", layer, ppid, comm, detail)
        if kind == EV_PIVOT_ROOT:
            detail = {"new_root": _s(ev.s0), "put_old": _s(ev.s1), "ret": ret}
            return self._event(ev, "sys.pivot_root", layer, ppid, comm, detail)
        if kind == EV_CONNECT:
            addrlen = int(ev.a1)
            # ev.s0 would stop at the first NUL: an abstract name starts with one
            raw = ctypes.string_at(ctypes.addressof(ev) + type(ev).s0.offset, 108)
            path = unix_path(raw, addrlen)
            detail = {"path": path, "family": "AF_UNIX" if ev.a0 == AF_UNIX else int(ev.a0)}
            detail["ret"] = ret
            return self._event(ev, "sys.connect", layer, ppid, comm, detail)
        return None

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
