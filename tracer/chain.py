"""The chain: fold observed events into the seven steps, the hops and the reality checks (pure)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tracer.describe import describe, request_line, short_flags
from tracer.events import Event
from tracer.trace import Box, Check, Container, Hop, Step, Trace

NAMESPACE_FLAGS = ("CLONE_NEWNS", "CLONE_NEWUTS", "CLONE_NEWIPC", "CLONE_NEWPID", "CLONE_NEWNET")
KERNEL_SOURCES = ("bpf", "tracefs")
RUNC_HELPERS = ("runc", "runc:[0:PARENT]", "runc:[1:CHILD]", "runc:[2:INIT]")


def _is_kernel(ev: Event) -> bool:
    return ev.source in KERNEL_SOURCES or (ev.source == "replay" and ev.kind.startswith("sys."))


@dataclass
class _Run:
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
    return ""


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
    return {
        ev.pid
        for ev in kernel
        if ev.kind == "proc.exec" and cid and any(cid in str(a) for a in ev.detail.get("argv", []))
    }


def _gather(events: Sequence[Event]) -> list[_Run]:
    ordered = sorted(events, key=lambda e: e.time_ns)
    peers = _conn_peers(ordered)
    api_by_client: dict[int | None, list[Event]] = defaultdict(list)
    kernel: list[Event] = []
    for ev in ordered:
        if ev.source == "proxy":
            api_by_client[_client_of(ev, peers)].append(ev)
        elif _is_kernel(ev) or ev.source == "proc":
            kernel.append(ev)
    runs: list[_Run] = []
    for client, api in api_by_client.items():
        run = _Run(client_pid=client, api=api)
        run.container_id = _created_id(api)
        roots = _container_roots(kernel, run.container_id)
        if client:
            roots.add(client)
        run.lineage = _lineage(kernel, roots)
        runs.append(run)
    if not runs:  # kernel events only (no proxy): one run of everything seen
        runs.append(_Run(client_pid=None))
        runs[0].lineage = {ev.pid for ev in kernel}
    # Work that the daemons do for a run (dockerd's overlay mount, containerd's fork of the shim)
    # belongs to the run whose API window holds it.
    windows = [
        (r, r.api[0].time_ns if r.api else 0, r.api[-1].time_ns if r.api else 1 << 62) for r in runs
    ]
    for ev in kernel:
        owners = [r for r in runs if ev.pid in r.lineage]
        if not owners and ev.layer in ("dockerd", "containerd"):
            child = ev.detail.get("child_pid")
            owners = [r for r in runs if isinstance(child, int) and child in r.lineage]
            if not owners:
                owners = [r for r, lo, hi in windows if lo <= ev.time_ns <= hi][:1]
        for r in owners:
            r.kernel.append(ev)
    return runs


def runs(events: Iterable[Event], backend: str = "") -> list[Trace]:
    """Every run in the events (one per client that made API calls), in order of start."""
    gathered = _gather(list(events))
    traces = [_fold_run(r, backend) for r in gathered]
    return sorted(traces, key=lambda t: t.start_ns)


def fold(events: Iterable[Event], backend: str = "") -> Trace:
    """The main run in the events: the one that created a container, else the first."""
    traces = runs(events, backend)
    with_container = [t for t in traces if t.container and t.container.id]
    return (with_container or traces)[0]


def _kind(evs: Iterable[Event], *kinds: str) -> list[Event]:
    return [e for e in evs if e.kind in kinds]


def _endpoint(ev: Event) -> str:
    return str(ev.detail.get("endpoint") or ev.detail.get("path") or "")


def _is_ns_flags(ev: Event) -> bool:
    names = ev.detail.get("flag_names") or []
    return any(n in NAMESPACE_FLAGS for n in names)


def _is_runc(ev: Event) -> bool:
    argv = [str(a) for a in ev.detail.get("argv", [])]
    return (
        ev.layer == "runc" or ev.comm in RUNC_HELPERS or (bool(argv) and argv[0].endswith("runc"))
    )


def _command_exec(kernel: Sequence[Event]) -> Event | None:
    """The container's own process: an exec in the lineage that is not the engine's tooling."""
    for ev in kernel:
        if ev.kind != "proc.exec" or ev.layer in ("cli", "dockerd", "containerd", "shim"):
            continue
        argv = [str(a) for a in ev.detail.get("argv", [])]
        filename = str(ev.detail.get("filename", ""))
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


def _fold_run(run: _Run, backend: str) -> Trace:
    api, kernel = run.api, run.kernel
    requests = _kind(api, "http.request")
    responses = _kind(api, "http.response")
    cid = run.container_id
    have_kernel = any(_is_kernel(e) for e in kernel)
    create_req = next((e for e in requests if _endpoint(e) == "/containers/create"), None)
    create_resps = [e for e in responses if _endpoint(e) == "/containers/create"]
    failed = _failure(api)

    steps: list[Step] = []
    hops: list[Hop] = []

    # 1: the CLI and its requests.
    client_exec = [e for e in _kind(kernel, "proc.exec") if e.pid == run.client_pid]
    if requests:
        calls = " → ".join(f"{e.detail.get('method')} {_endpoint(e)}" for e in requests)
        facts = []
        if create_req and isinstance(create_req.detail.get("body_json"), dict):
            body = create_req.detail["body_json"]
            facts.append(f"create body: Image {body.get('Image')!r}, Cmd {body.get('Cmd')!r}")
        steps.append(
            Step(
                1,
                "observed",
                tuple(client_exec + requests),
                f"the client sent: {calls}",
                facts=tuple(facts),
            )
        )
    else:
        steps.append(Step(1, "missing", tuple(client_exec), reason="no request reached the proxy"))

    # 2: the socket.
    accepts = _kind(api, "conn.accept")
    connects = [e for e in _kind(kernel, "sys.connect") if e.pid == run.client_pid]
    if accepts:
        a = accepts[0].detail
        summary = (
            f"{len(accepts)} connection(s) from pid {a.get('peer_pid')} ({a.get('peer_comm')}), "
            f"uid {a.get('peer_uid')} (SO_PEERCRED)"
        )
        paths = tuple(f"connect({e.detail.get('path')})" for e in connects[:3])
        steps.append(Step(2, "observed", tuple(connects + accepts), summary, facts=paths))
        first = (connects or accepts)[0]
        hops.append(Hop("cli", "socket", describe(first), 2, first))
    else:
        steps.append(Step(2, "missing", tuple(connects), reason="the proxy saw no connection"))
    for e in requests:
        hops.append(Hop("socket", "dockerd", request_line(e), 2, e))

    # 3: dockerd.
    s3 = [e for e in responses if _endpoint(e) in ("/containers/create", "/images/create")]
    s3 += [e for e in requests if _endpoint(e) == "/images/create"]
    s3 += _kind(api, "stream.error")
    mounts = [e for e in _kind(kernel, "sys.mount") if e.detail.get("fstype") == "overlay"]
    daemon_side = [e for e in kernel if e.layer == "dockerd"]
    s3 += daemon_side
    s3.sort(key=lambda e: e.time_ns)
    if create_resps or s3:
        facts = []
        pulls = [e for e in requests if _endpoint(e) == "/images/create"]
        if pulls:
            img = pulls[0].detail.get("query", {}).get("fromImage", "")
            facts.append(f"the image was not here: pulled with POST /images/create {img}".strip())
        elif create_resps and create_resps[0].detail.get("status") == 201:
            facts.append("image was cached: no pull")
        for m in mounts:
            facts.append(f"{m.comm} (pid {m.pid}) mounted overlay on {m.detail.get('target')}")
        summary = "; ".join(describe(e) for e in create_resps[-1:]) or describe(s3[0])
        steps.append(Step(3, "observed", tuple(s3), summary, error=failed, facts=tuple(facts)))
        for e in create_resps:
            hops.append(Hop("dockerd", "cli", describe(e), 3, e))
        for m in mounts:
            box: Box = "dockerd" if m.layer == "dockerd" else "containerd"
            hops.append(Hop(box, box, describe(m), 3, m))
    else:
        steps.append(Step(3, "missing", reason="dockerd's answer was not seen"))

    never = f"never happened: {failed}" if failed and not cid else ""
    no_probe = "no kernel probe ran (proxy only): not observable"

    def absent(number: int, what: str) -> Step:
        if never:
            return Step(number, "missing", reason=never)
        if not create_req and not cid:
            return Step(number, "skipped", reason="this command created no container")
        if not have_kernel:
            return Step(number, "missing", reason=no_probe)
        return Step(number, "missing", reason=f"not seen: {what}")

    # 4: containerd, the shim, runc create.
    shim_execs = [e for e in _kind(kernel, "proc.exec") if e.layer == "shim"]
    runc_creates = [
        e
        for e in _kind(kernel, "proc.exec")
        if _is_runc(e) and "create" in [str(a) for a in e.detail.get("argv", [])]
    ]
    shim_forks = [e for e in _kind(kernel, "proc.fork") if e.layer == "containerd"]
    s4 = sorted(shim_forks + shim_execs + runc_creates, key=lambda e: e.time_ns)
    if runc_creates or shim_execs:
        summary = "; ".join(describe(e) for e in (shim_execs[:1] + runc_creates[:1]))
        steps.append(Step(4, "observed", tuple(s4), summary))
        if shim_forks:
            hops.append(
                Hop(
                    "dockerd",
                    "containerd",
                    f"containerd (pid {shim_forks[0].pid}) forks for the shim",
                    4,
                    shim_forks[0],
                )
            )
        if shim_execs:
            hops.append(Hop("containerd", "shim", describe(shim_execs[0]), 4, shim_execs[0]))
        if runc_creates:
            hops.append(Hop("shim", "runc", describe(runc_creates[0]), 4, runc_creates[0]))
    else:
        steps.append(absent(4, "no exec of containerd-shim or runc create"))

    # 5: runc's namespaces, mounts and pivot_root.
    unshares = [e for e in _kind(kernel, "sys.unshare") if _is_ns_flags(e)]
    clones = [
        e
        for e in _kind(kernel, "sys.clone", "sys.clone3")
        if e.layer == "runc" or e.comm in RUNC_HELPERS
    ]
    pivots = _kind(kernel, "sys.pivot_root")
    init_mounts = [e for e in _kind(kernel, "sys.mount") if e.comm == "runc:[2:INIT]"]
    s5 = sorted(unshares + clones + pivots + init_mounts, key=lambda e: e.time_ns)
    if unshares or any(_is_ns_flags(e) for e in clones):
        ns = unshares[0] if unshares else next(e for e in clones if _is_ns_flags(e))
        facts = [f"{e.comm} (pid {e.pid}): {describe(e)}" for e in unshares + clones]
        facts += [describe(e) for e in pivots[:1]]
        steps.append(
            Step(5, "observed", tuple(s5), f"{ns.comm}: {describe(ns)}", facts=tuple(facts))
        )
        for e in s5:
            if e.kind != "sys.mount":
                hops.append(Hop("runc", "kernel", describe(e), 5, e))
    else:
        steps.append(absent(5, "no namespace-creating unshare or clone"))

    # 6: the command itself.
    cmd = _command_exec(kernel)
    container = _container(run, cmd, api, kernel, clones, unshares)
    if cmd is not None:
        exits = [e for e in _kind(kernel, "proc.exit") if e.pid == cmd.pid]
        facts = []
        if container.ns_pid is not None:
            facts.append(
                f"host pid {cmd.pid}, pid {container.ns_pid} in its namespace "
                f"({container.ns_pid_how})"
            )
        steps.append(Step(6, "observed", tuple([cmd, *exits]), describe(cmd), facts=tuple(facts)))
        hops.append(Hop("kernel", "kernel", describe(cmd), 6, cmd))
    else:
        steps.append(absent(6, "no exec of the container's command"))

    # 7: output and exit status back up.
    frames = [
        e
        for e in _kind(api, "stream.frame")
        if e.detail.get("direction") == "daemon->client"
        and e.detail.get("stream") in ("stdout", "stderr", "raw")
    ]
    waits = [e for e in responses if _endpoint(e).endswith("/wait")]
    cmd_exit = [e for e in _kind(kernel, "proc.exit") if cmd is not None and e.pid == cmd.pid]
    s7 = sorted(frames + waits + cmd_exit, key=lambda e: e.time_ns)
    if frames or waits:
        parts = [describe(e) for e in frames[:2]] + [describe(e) for e in waits[:1]]
        steps.append(Step(7, "observed", tuple(s7), "; ".join(parts)))
        for e in frames:
            hops.append(Hop("kernel", "cli", describe(e), 7, e))
        for e in waits:
            hops.append(Hop("dockerd", "cli", describe(e), 7, e))
    elif never:
        steps.append(Step(7, "missing", reason=never))
    elif not create_req and responses:
        steps.append(Step(7, "observed", tuple(responses[-1:]), describe(responses[-1])))
    else:
        steps.append(Step(7, "missing", reason="no output or exit status came back"))

    hops.sort(key=lambda h: h.time_ns)
    all_events = tuple(sorted(api + kernel, key=lambda e: e.time_ns))
    checks = _checks(requests, mounts, unshares, clones, runc_creates, cmd, container, kernel)
    return Trace(
        steps=tuple(steps),
        hops=tuple(hops),
        events=all_events,
        container=container if (create_req or cid) else None,
        checks=checks,
        client_pid=run.client_pid,
        backend=backend,
    )


def _failure(api: Sequence[Event]) -> str:
    """The daemon's last word when the run failed: an HTTP error, or an error inside a stream."""
    errors = [e for e in api if e.kind == "stream.error"]
    bad = [e for e in api if e.kind == "http.response" and int(e.detail.get("status", 0)) >= 400]
    created = any(
        e.kind == "http.response"
        and e.detail.get("status") == 201
        and _endpoint(e) == "/containers/create"
        for e in api
    )
    if created:
        return ""
    if errors:
        return f"dockerd reported inside a 200 stream: {errors[-1].detail.get('message', '')}"
    if bad:
        e = bad[-1]
        body = e.detail.get("body_json")
        msg = (
            body.get("message", "") if isinstance(body, dict) else e.detail.get("body_excerpt", "")
        )
        return f"dockerd answered HTTP {e.detail.get('status')} to {_endpoint(e)}: {msg}".strip()
    return ""


def _container(
    run: _Run,
    cmd: Event | None,
    api: Sequence[Event],
    kernel: Sequence[Event],
    clones: Sequence[Event],
    unshares: Sequence[Event],
) -> Container:
    create = next(
        (e for e in api if e.kind == "http.request" and _endpoint(e) == "/containers/create"), None
    )
    body = create.detail.get("body_json") if create else None
    image = str(body.get("Image", "")) if isinstance(body, dict) else ""
    command = tuple(str(a) for a in (body.get("Cmd") or [])) if isinstance(body, dict) else ()
    out = "".join(
        str(e.detail.get("excerpt", ""))
        for e in api
        if e.kind == "stream.frame"
        and e.detail.get("direction") == "daemon->client"
        and e.detail.get("stream") in ("stdout", "raw")
    )
    err = "".join(
        str(e.detail.get("excerpt", ""))
        for e in api
        if e.kind == "stream.frame" and e.detail.get("stream") == "stderr"
    )
    exit_code: int | None = None
    for e in api:
        if e.kind == "http.response" and _endpoint(e).endswith("/wait"):
            b = e.detail.get("body_json")
            if isinstance(b, dict) and isinstance(b.get("StatusCode"), int):
                exit_code = b["StatusCode"]
    if exit_code is None and cmd is not None:
        ex = next((e for e in kernel if e.kind == "proc.exit" and e.pid == cmd.pid), None)
        if ex is not None and isinstance(ex.detail.get("exit_code"), int):
            exit_code = ex.detail["exit_code"]
    ns_pid: int | None = None
    how = ""
    if cmd is not None:
        seen = next(
            (
                e
                for e in kernel
                if e.kind == "proc.seen" and e.pid == cmd.pid and e.detail.get("nspid")
            ),
            None,
        )
        if seen is not None:
            ns_pid = int(seen.detail["nspid"][-1])
            how = "read from NSpid in /proc"
        else:
            newpid = next(
                (u for u in unshares if "CLONE_NEWPID" in u.detail.get("flag_names", [])), None
            )
            first = next(
                (
                    c
                    for c in clones
                    if newpid and c.pid == newpid.pid and c.time_ns > newpid.time_ns
                ),
                None,
            )
            if newpid and first and first.detail.get("ret") == cmd.pid:
                ns_pid = 1
                how = (
                    f"the first process cloned after {newpid.comm} unshared CLONE_NEWPID, "
                    "so pid 1 of that namespace"
                )
    return Container(
        id=run.container_id,
        image=image,
        command=command,
        exit_code=exit_code,
        output=out,
        errors=err,
        host_pid=cmd.pid if cmd else None,
        ns_pid=ns_pid,
        ns_pid_how=how,
    )


def _checks(
    requests: Sequence[Event],
    mounts: Sequence[Event],
    unshares: Sequence[Event],
    clones: Sequence[Event],
    runc_creates: Sequence[Event],
    cmd: Event | None,
    container: Container,
    kernel: Sequence[Event],
) -> tuple[Check, ...]:
    checks: list[Check] = []
    if mounts:
        m = mounts[0]
        checks.append(
            Check(
                "overlay-mount",
                "containerd sets up the OverlayFS root filesystem",
                f"{m.comm} (pid {m.pid}, {m.layer}) mounted overlay on {m.detail.get('target')}",
                m.layer in ("containerd", "shim"),
                (m,),
            )
        )
    else:
        checks.append(
            Check("overlay-mount", "containerd sets up the OverlayFS root filesystem", "", None)
        )
    ns_clone = [c for c in clones if _is_ns_flags(c)]
    parent_clones = [c for c in clones if "CLONE_PARENT" in c.detail.get("flag_names", [])]
    if unshares or ns_clone:
        parts = [
            f"{u.comm} (pid {u.pid}) called unshare({short_flags(u.detail.get('flag_names'))})"
            for u in unshares[:1]
        ]
        parts += [f"{c.comm} (pid {c.pid}) called {describe(c)}" for c in parent_clones[-1:]]
        checks.append(
            Check(
                "namespaces",
                "runc calls clone() with the namespace flags",
                "; then ".join(parts),
                bool(ns_clone) and not unshares,
                (*unshares[:1], *parent_clones[-1:]),
            )
        )
    else:
        checks.append(Check("namespaces", "runc calls clone() with the namespace flags", "", None))
    if cmd is not None and container.ns_pid is not None:
        checks.append(
            Check(
                "pid-namespace",
                "the container's process is pid 1 inside, another pid on the host",
                f"{cmd.comm}: host pid {cmd.pid}, pid {container.ns_pid} inside "
                f"({container.ns_pid_how})",
                container.ns_pid == 1,
                (cmd,),
            )
        )
    if cmd is not None and runc_creates:
        rc = runc_creates[0]
        rc_exit = next((e for e in kernel if e.kind == "proc.exit" and e.pid == rc.pid), None)
        if rc_exit is not None and rc_exit.time_ns < cmd.time_ns:
            ms = (cmd.time_ns - rc_exit.time_ns) / 1e6
            checks.append(
                Check(
                    "parent",
                    "runc is the container process's parent",
                    f"runc create (pid {rc.pid}) exited {ms:.1f} ms before {cmd.comm} ran: the "
                    "process outlives runc; the shim stays to wait for it",
                    False,
                    (rc_exit, cmd),
                )
            )
    order = [_endpoint(e) for e in requests]
    attach = next((i for i, p in enumerate(order) if p.endswith("/attach")), None)
    start = next((i for i, p in enumerate(order) if p.endswith("/start")), None)
    if attach is not None and start is not None:
        checks.append(
            Check(
                "api-order",
                "docker run creates the container, then starts it",
                "the CLI attached before it started: " + " → ".join(order),
                attach < start,
                tuple(requests),
            )
        )
    return tuple(checks)
