"""Which events belong to which run: the client's connections and the container's lineage."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tracer.events import NAMESPACE_FLAGS, Event

KERNEL_SOURCES = ("bpf", "tracefs")
RUNC_HELPERS = ("runc", "runc:[0:PARENT]", "runc:[1:CHILD]", "runc:[2:INIT]")
# Execs of a file descriptor (comm "5", "6", "7"): runc's sealed copies of itself (memfd
# "runc_cloned:/proc/self/exe", or runc 1.2's overlay-sealed binary) and of runc-dmz.
FD_EXEC = ("/proc/self/fd/", "/dev/fd/", "/memfd:")


def is_kernel(ev: Event) -> bool:
    return ev.source in KERNEL_SOURCES or (ev.source == "replay" and ev.kind.startswith("sys."))


@dataclass
class Run:
    """The events of one run, gathered before the steps are derived."""

    client_pid: int | None
    api: list[Event] = field(default_factory=list)
    kernel: list[Event] = field(default_factory=list)
    container_id: str = ""
    lineage: set[int] = field(default_factory=set)


def _conn_peers(events: Sequence[Event]) -> dict[int, int]:
    return {
        int(ev.detail["conn"]): int(ev.detail.get("peer_pid") or ev.pid)
        for ev in events
        if ev.kind == "conn.accept" and "conn" in ev.detail
    }


def _client_of(ev: Event, peers: dict[int, int]) -> int | None:
    conn = ev.detail.get("conn")
    if isinstance(conn, int) and conn in peers:
        return peers[conn]
    return ev.pid or None


def _created_id(api: Sequence[Event]) -> str:
    for ev in api:
        if ev.kind == "http.response" and ev.detail.get("endpoint") == "/containers/create":
            body = ev.detail.get("body_json")
            if ev.detail.get("status") == 201 and isinstance(body, dict) and body.get("Id"):
                return str(body["Id"])
        if ev.kind == "grpc.call" and ev.detail.get("path") == CONTAINERS_CREATE:
            return _grpc_container_id(ev)
    return ""


# A client of containerd itself (ctr through a proxy, lesson 6) names the container in
# Containers/Create: CreateContainerRequest { Container container = 1 }, Container { id = 1 }
# (containerd's api/services/containers/v1/containers.proto; the proxy decodes by number).
CONTAINERS_CREATE = "/containerd.services.containers.v1.Containers/Create"


def _grpc_container_id(ev: Event) -> str:
    if ev.detail.get("status") != 0:
        return ""
    request = ev.detail.get("request") or [{}]
    container = request[0].get("1") if isinstance(request[0], dict) else None
    cid = container.get("1") if isinstance(container, dict) else None
    return cid if isinstance(cid, str) else ""


def _positive(value: object) -> bool:
    return isinstance(value, int) and value > 0


def _lineage(kernel: Sequence[Event], roots: set[int]) -> set[int]:
    """Roots and every process forked or cloned below them."""
    children: dict[int, set[int]] = defaultdict(set)
    for ev in kernel:
        if ev.kind == "proc.fork" and ev.detail.get("child_pid"):
            children[ev.pid].add(int(ev.detail["child_pid"]))
        elif ev.kind in ("sys.clone", "sys.clone3") and _positive(ev.detail.get("ret")):
            children[ev.pid].add(int(ev.detail["ret"]))
    seen = set(roots)
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def _container_roots(kernel: Sequence[Event], cid: str) -> set[int]:
    """Processes that name the container in their argv: its shims and runc invocations."""
    execs = [ev for ev in kernel if ev.kind == "proc.exec" and cid]
    return {ev.pid for ev in execs if any(cid in str(a) for a in ev.detail.get("argv") or [])}


def gather(events: Sequence[Event]) -> list[Run]:
    ordered = sorted(events, key=lambda e: e.time_ns)
    peers = _conn_peers(ordered)
    api_by_client: dict[int | None, list[Event]] = defaultdict(list)
    kernel: list[Event] = []
    for ev in ordered:
        if ev.source == "proxy":
            api_by_client[_client_of(ev, peers)].append(ev)
        elif is_kernel(ev) or ev.source == "proc":
            kernel.append(ev)
    runs: list[Run] = []
    for client, api in api_by_client.items():
        run = Run(client_pid=client, api=api)
        run.container_id = _created_id(api)
        roots = _container_roots(kernel, run.container_id)
        if client:
            roots.add(client)
        run.lineage = _lineage(kernel, roots)
        runs.append(run)
    if not runs:  # kernel events only (no proxy): one run of everything seen
        runs.append(Run(client_pid=None))
        runs[0].lineage = {ev.pid for ev in kernel}
    # Work the daemons do for a run (dockerd's overlay mounts and setns, containerd's fork of the
    # shim) carries no container id. It belongs to the run with a create or start request in
    # flight at that moment (the latest begun, when runs overlap); an overlay layer, once tied to
    # a run by its -init mount during create, stays with that run.
    pending = [(r, lo, hi) for r in runs for lo, hi in _busy_windows(r.api)]
    layers: dict[str, Run] = {}
    for ev in kernel:
        owners = [r for r in runs if ev.pid in r.lineage]
        if not owners and ev.layer in ("dockerd", "containerd"):
            child = ev.detail.get("child_pid")
            owners = [r for r in runs if isinstance(child, int) and child in r.lineage]
            target = str(ev.detail.get("target", "")) if ev.kind == "sys.mount" else ""
            if not owners and target:
                # containerd's image store mounts the rootfs on a path named by the container
                owners = [r for r in runs if r.container_id and r.container_id in target]
            layer = _overlay_layer(ev)
            if not owners and layer in layers:
                owners = [layers[layer]]
            if not owners:
                busy = [(lo, r) for r, lo, hi in pending if lo <= ev.time_ns <= hi]
                if busy:
                    owners = [max(busy, key=lambda b: b[0])[1]]
            if owners and layer:
                layers.setdefault(layer, owners[0])
        for r in owners:
            r.kernel.append(ev)
    return runs


BUSY_ENDPOINTS = ("/containers/create", "/images/create")


OPEN_END = 1 << 62  # a window whose request has no answer yet


def _busy_windows(api: Sequence[Event]) -> list[tuple[int, int]]:
    """When the run had dockerd working for it: create, pull and start, request to last byte.
    A request not answered yet (a live run in the middle of its create) keeps its window open,
    until its connection closes if it does: dockerd's work for it is shown as it happens."""
    answers = {
        (e.detail.get("conn"), e.detail.get("seq")): e for e in api if e.kind == "http.response"
    }
    closes = {e.detail.get("conn"): e.time_ns for e in api if e.kind == "conn.close"}
    windows = []
    for req in api:
        ep = endpoint_of(req)
        if req.kind != "http.request" or not (ep in BUSY_ENDPOINTS or ep.endswith("/start")):
            continue
        conn = req.detail.get("conn")
        resp = answers.get((conn, req.detail.get("seq")))
        if resp is None:
            windows.append((req.time_ns, closes.get(conn, OPEN_END)))
            continue
        last = resp.detail.get("last_byte_ns")
        windows.append((req.time_ns, last if isinstance(last, int) else resp.time_ns))
    return windows


def _overlay_layer(ev: Event) -> str:
    """The layer an overlay mount is for: overlay2's …/ID-init/merged and …/ID/merged alike, a
    shim's …/task/moby/ID/rootfs, and with containerd's image store the directory dockerd mounts
    the rootfs on (…/rootfs/overlayfs/ID)."""
    if ev.kind != "sys.mount" or ev.detail.get("fstype") != "overlay":
        return ""
    parts = str(ev.detail.get("target", "")).rstrip("/").split("/")
    if parts[-1] not in ("merged", "rootfs") or len(parts) < 2:
        return parts[-1]
    return parts[-2].removesuffix("-init")


def of_kind(evs: Iterable[Event], *kinds: str) -> list[Event]:
    return [e for e in evs if e.kind in kinds]


def endpoint_of(ev: Event) -> str:
    return str(ev.detail.get("endpoint") or ev.detail.get("path") or "")


def is_ns_flags(ev: Event) -> bool:
    names = ev.detail.get("flag_names") or []
    return any(n in NAMESPACE_FLAGS for n in names)


def is_runc(ev: Event) -> bool:
    argv = [str(a) for a in ev.detail.get("argv") or []]
    return (
        ev.layer == "runc" or ev.comm in RUNC_HELPERS or (bool(argv) and argv[0].endswith("runc"))
    )


def command_exec(kernel: Sequence[Event]) -> Event | None:
    """The container's own process: an exec in the lineage that is not the engine's tooling."""
    for ev in kernel:
        if ev.kind != "proc.exec" or ev.layer in ("cli", "dockerd", "containerd", "shim"):
            continue
        argv = [str(a) for a in ev.detail.get("argv") or []]
        filename = str(ev.detail.get("filename", ""))
        if filename.startswith(FD_EXEC):
            continue  # runc's sealed copy of itself, or of runc-dmz: the command comes next
        if ev.layer == "container":
            return ev
        tooling = (
            "runc" in filename
            or filename.startswith("/proc/self/")
            or (argv and ("runc" in argv[0] or "containerd-shim" in argv[0]))
            or ev.comm.startswith("runc")
        )
        if not tooling and ev.layer != "runc":
            return ev
    return None


def output_frames(api: Sequence[Event]) -> list[Event]:
    """The container's output as it reached the client: stdout/stderr frames of the attach
    stream, or raw bytes of an upgraded (TTY) connection; not the chunks of other responses."""
    upgraded = {e.detail.get("conn") for e in api if e.kind == "http.upgrade"}
    return [
        e
        for e in api
        if e.kind == "stream.frame"
        and e.detail.get("direction") == "daemon->client"
        and (
            e.detail.get("stream") in ("stdout", "stderr")
            or (e.detail.get("stream") == "raw" and e.detail.get("conn") in upgraded)
        )
    ]


def is_thread(ev: Event) -> bool:
    """A clone that makes a thread, not a process (Go runtimes make many)."""
    return "CLONE_THREAD" in (ev.detail.get("flag_names") or [])
