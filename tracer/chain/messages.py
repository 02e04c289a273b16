"""Which message an event is on a sequence diagram: from which lane to which, and its fold key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tracer.chain.model import Box
from tracer.chain.process_tree import ProcessTree
from tracer.events import Event

LAYER_LANE: dict[str, Box] = {
    "cli": "cli",
    "proxy": "socket",
    "dockerd": "dockerd",
    "containerd": "containerd",
    "shim": "shim",
    "runc": "runc",
    "container": "kernel",
    "kernel": "kernel",
}
# where a connect() goes, by the socket's path: the first match wins
SOCKET_LANES: tuple[tuple[str, Box], ...] = (
    ("docker.sock", "socket"),
    ("/run/dockertrace/", "socket"),
    ("containerd.sock", "containerd"),
    ("/run/containerd/s/", "shim"),
    ("libnetwork", "dockerd"),
)
SYSCALLS = ("sys.unshare", "sys.setns", "sys.mount", "sys.pivot_root", "sys.openat", "sys.rename")
KINDS_DRAWN = frozenset(
    {
        "http.request", "http.response", "http.upgrade", "stream.frame", "stream.error",
        "conn.accept", "conn.close", "conn.halfclose", "h2.stream", "upstream.unreachable",
        "proxy.error", "proc.exec", "proc.fork", "proc.exit", "sys.clone", "sys.clone3",
        "sys.connect", "containerd.event", "grpc.call", "cgroup.mkdir", "cgroup.attach",
        "oci.spec", "sys.write", "sys.read", *SYSCALLS,
    }
)  # fmt: skip


@dataclass(frozen=True)
class Message:
    """What one event says on the diagram. Events with the same actor and key fold together."""

    src: Box
    dst: Box
    kind: str
    key: object  # None: never folded
    actor: object  # whose messages interrupt a fold (the process, for the proxy the client)
    # messages of one family, in one step, do not interrupt each other's folds: runc's mkdir
    # and attach of a cgroup alternate, a pair a hierarchy, and read as two arrows, not twenty;
    # dockerd's mounts and metadata writes for one request likewise
    family: object = None


def lane(ev: Event) -> Box:
    return LAYER_LANE.get(ev.layer, "kernel")


def is_thread(ev: Event) -> bool:
    return "CLONE_THREAD" in (ev.detail.get("flag_names") or [])


class Classifier:
    """Turns each event, in time order, into its message (None: not drawn)."""

    def __init__(self, tree: ProcessTree, spawned: Mapping[int, Event]) -> None:
        self.tree = tree
        self.spawned = spawned  # child pid -> the exec that is its first own event
        self.lanes: dict[int, Box] = {}  # each pid's lane as last seen
        self.upgraded: set[object] = set()  # connections switched to a raw stream

    def __call__(self, ev: Event) -> Message | None:
        msg = self._message(ev)
        if ev.source != "proxy" and ev.pid:
            self.lanes[ev.pid] = lane(ev)
        return msg

    def exit(self, ev: Event) -> Message:
        """An exit's message: whom it reaches comes from the tree alone, not the events before."""
        return self._exit(ev, lane(ev))

    def _message(self, ev: Event) -> Message | None:
        k, d, me = ev.kind, ev.detail, lane(ev)
        if k == "http.upgrade":
            self.upgraded.add(d.get("conn"))
        if k == "stream.frame" and d.get("stream") == "raw" and d.get("conn") not in self.upgraded:
            # a chunked answer's body (a pull's progress, /wait's exit status): part of it
            return Message("dockerd", "cli", "response", _answer(d), ev.pid)
        if k in PROXY:
            src, dst, kind, key = PROXY[k](d)
            return Message(src, dst, kind, key, ev.pid)
        if k == "proc.exec":
            return self._exec(ev, me)
        if k in ("sys.clone", "sys.clone3", "proc.fork"):
            return self._clone(ev, me)
        if k == "proc.exit":
            return self._exit(ev, me)
        if k == "sys.connect":
            path = str(d.get("path", ""))
            dst = next((box for part, box in SOCKET_LANES if part in path), me)
            ok = not (isinstance(d.get("ret"), int) and d["ret"] < 0)
            if not ok and dst == me:  # reached no one (Go asking nscd, absent): a note
                return Message(me, me, "tried", ("tried", path), ev.pid, "note")
            return Message(me, dst, "connect", ("connect", dst, ok if ok else path), ev.pid)
        if k in SYSCALLS:
            kind, key = SYSCALL_KEYS[k](d)
            return Message(me, "kernel", kind, key, ev.pid, "kernel" if key is not None else None)
        return self._newer(ev, me)

    def _newer(self, ev: Event, me: Box) -> Message | None:
        """The kinds of issue 14a: containerd's events, gRPC, cgroups, the OCI spec, writes."""
        k, d = ev.kind, ev.detail
        if k == "containerd.event":
            return Message("containerd", "dockerd", "event", None, ("containerd",))
        if k == "grpc.call":
            return Message(me if me != "containerd" else "dockerd", "containerd", "grpc", None, 0)
        if k in ("cgroup.mkdir", "cgroup.attach"):
            path = d.get("path")
            return Message(me, "kernel", "cgroup", (k, path), ev.pid, "kernel")
        if k == "oci.spec":
            return Message("containerd", "runc", "spec", None, ("spec",))
        if k == "sys.write" and me == "kernel":
            return Message("kernel", "shim", "write", ("write", d.get("fd")), ev.pid)
        if k in ("sys.write", "sys.read"):
            return Message("shim", "dockerd", "fifo", ("fifo", d.get("path")), ("fifo",))
        return None

    def _exec(self, ev: Event, me: Box) -> Message:
        before = self.lanes.get(ev.pid)
        parent = self.lanes.get(ev.ppid) if before is None else None
        src = before or parent or me
        if src == "kernel" and me != "kernel":  # started by something outside the engine
            src = me
        spawn = self.spawned.get(ev.pid)
        key = ("spawn", ev.pid) if spawn is not None else ("exec", ev.pid)
        return Message(src, me, "exec", key, ("spawn", ev.pid))

    def _clone(self, ev: Event, me: Box) -> Message:
        d = ev.detail
        if ev.kind != "proc.fork" and is_thread(ev):
            return Message(me, me, "threads", ("threads",), ev.pid, "note")
        child = d.get("child_pid") if ev.kind == "proc.fork" else d.get("ret")
        spawn = self.spawned.get(child) if isinstance(child, int) else None
        if spawn is not None and spawn.time_ns >= ev.time_ns:
            # the fork (or vfork) of a process whose first act is an exec: one arrow, the exec
            return Message(me, lane(spawn), "exec", ("spawn", child), ("spawn", child))
        return Message(me, "kernel", "clone", ("clone", child), ev.pid)

    def _exit(self, ev: Event, me: Box) -> Message:
        proc = self.tree.procs.get(ev.pid)
        holder = None
        if proc is not None:
            parent = proc.parent
            alive = parent is not None and self.tree.alive_at(parent, ev.time_ns)
            holder = parent if alive else proc.reaper
        held = self.tree.procs.get(holder) if holder is not None else None
        dst = LAYER_LANE.get(held.layer, me) if held is not None else me
        if dst == "kernel" and me != "kernel":  # its parent is not part of the engine
            dst = me
        code = ev.detail.get("exit_code")
        return Message(me, dst, "exit", ("exit", me, dst, code), ("exit",))


def _request(d: Mapping[str, Any]) -> tuple[Box, Box, str, object]:
    return "cli", "dockerd", "request", None


def _answer(d: Mapping[str, Any]) -> object:
    return ("answer", d.get("conn"), d.get("seq"))


def _response(d: Mapping[str, Any]) -> tuple[Box, Box, str, object]:
    return "dockerd", "cli", "response", _answer(d)


def _upgrade(d: Mapping[str, Any]) -> tuple[Box, Box, str, object]:
    return "dockerd", "cli", "response", _answer(d)


def _frame(d: Mapping[str, Any]) -> tuple[Box, Box, str, object]:
    key = ("frame", d.get("conn"), d.get("stream"), d.get("direction"))
    if d.get("direction") == "client->daemon":
        return "cli", "dockerd", "frame", key
    return "dockerd", "cli", "frame", key


def _const(src: Box, dst: Box, kind: str, key: object = None) -> Any:
    return lambda d: (src, dst, kind, key)


PROXY: dict[str, Any] = {
    "http.request": _request,
    "http.response": _response,
    "http.upgrade": _upgrade,
    "stream.frame": _frame,
    "stream.error": _const("dockerd", "cli", "error"),
    "conn.accept": _const("cli", "socket", "connect", ("connect", "socket", True)),
    "conn.close": _const("cli", "socket", "close", ("close",)),
    "conn.halfclose": _const("cli", "socket", "close", ("close",)),
    "h2.stream": _const("cli", "dockerd", "request"),
    "upstream.unreachable": _const("socket", "cli", "error"),
    "proxy.error": _const("socket", "cli", "error"),
}
SYSCALL_KEYS: dict[str, Any] = {
    "sys.unshare": lambda d: ("namespace", None),
    "sys.setns": lambda d: ("setns", ("setns", d.get("nstype_name") or d.get("nstype"))),
    "sys.mount": lambda d: ("mount", ("mount",)),
    "sys.pivot_root": lambda d: ("pivot", None),
    # dockerd saving its metadata (an open of a temporary file, a rename over the real one),
    # and the stdio FIFOs opened: two arrows, whichever order their calls interleave in
    "sys.openat": lambda d: ("file", ("file", d.get("purpose"))),
    "sys.rename": lambda d: ("file", ("file", d.get("purpose", "metadata"))),
}
