"""Who is at the other end of a Unix socket: SO_PEERCRED, then /proc for the command."""

from __future__ import annotations

import socket
import struct

from tracer.proxy.core import Peer

_UCRED = struct.Struct("3i")  # pid, uid, gid


def peer_credentials(sock: socket.socket) -> tuple[int, int, int] | None:
    """The connecting process's (pid, uid, gid) as the kernel recorded it at connect()."""
    if sock.family != socket.AF_UNIX:
        return None
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    except OSError:
        return None
    pid, uid, gid = _UCRED.unpack(raw)
    return pid, uid, gid


def describe_peer(creds: tuple[int, int, int] | None) -> Peer:
    """The peer's command name and argv from /proc (empty if it has already exited)."""
    if creds is None:
        return Peer()
    pid, uid, gid = creds
    comm = ""
    argv: tuple[str, ...] = ()
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            comm = f.read().decode(errors="replace").rstrip("\n")
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = tuple(a.decode(errors="replace") for a in f.read().split(b"\0") if a)
    except OSError:
        pass
    return Peer(pid=pid, uid=uid, gid=gid, comm=comm, argv=argv)
