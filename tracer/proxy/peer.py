"""Who is at the other end of a Unix socket: SO_PEERCRED's pid, then /proc for the command."""

from __future__ import annotations

from dataclasses import dataclass

from tracer import redact


@dataclass(frozen=True)
class Peer:
    """The process at the client end of the socket (SO_PEERCRED and /proc)."""

    pid: int = 0
    uid: int | None = None
    gid: int | None = None
    comm: str = ""
    argv: tuple[str, ...] = ()


def describe_peer(creds: tuple[int, int, int] | None, proc: bytes | None = None) -> Peer:
    """The peer's command name and argv: from `proc` (b"comm\\n" + raw cmdline, read by the
    relay at accept time) or else from /proc now (empty if it has already exited)."""
    if creds is None:
        return Peer()
    pid, uid, gid = creds
    comm = ""
    argv: tuple[str, ...] = ()
    if proc:
        head, _, cmdline = proc.partition(b"\n")
        comm = head.decode(errors="replace")
        argv = tuple(a.decode(errors="replace") for a in cmdline.split(b"\0") if a)
        return Peer(pid=pid, uid=uid, gid=gid, comm=comm, argv=tuple(redact.argv(argv)))
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            comm = f.read().decode(errors="replace").rstrip("\n")
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = tuple(a.decode(errors="replace") for a in f.read().split(b"\0") if a)
    except OSError:
        pass
    return Peer(pid=pid, uid=uid, gid=gid, comm=comm, argv=tuple(redact.argv(argv)))
