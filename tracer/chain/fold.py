"""The chain: fold observed events into the seven steps, the hops and the reality checks (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from tracer.chain.checks import reality_checks
from tracer.chain.model import Box, Container, Hop, Step, Trace
from tracer.chain.runs import (
    RUNC_HELPERS,
    Run,
    command_exec,
    endpoint_of,
    gather,
    is_kernel,
    is_ns_flags,
    is_runc,
    is_thread,
    of_kind,
    output_frames,
)
from tracer.events import Event
from tracer.text.describe import describe, request_line, short_ids


def runs(events: Iterable[Event], backend: str = "") -> list[Trace]:
    """Every run in the events (one per client that made API calls), in order of start."""
    gathered = gather(list(events))
    traces = [_fold_run(r, backend) for r in gathered]
    return sorted(traces, key=lambda t: t.start_ns)


def fold(events: Iterable[Event], backend: str = "") -> Trace:
    """The main run in the events: the one that created a container, else the first."""
    traces = runs(events, backend)
    with_container = [t for t in traces if t.container and t.container.id]
    return (with_container or traces)[0]


def _fold_run(run: Run, backend: str) -> Trace:
    api, kernel = run.api, run.kernel
    requests = of_kind(api, "http.request")
    responses = of_kind(api, "http.response")
    cid = run.container_id
    have_kernel = any(is_kernel(e) for e in kernel)
    create_req = next((e for e in requests if endpoint_of(e) == "/containers/create"), None)
    create_resps = [e for e in responses if endpoint_of(e) == "/containers/create"]
    failed = _failure(api)

    steps: list[Step] = []
    hops: list[Hop] = []

    # 1: the CLI and its requests.
    client_exec = [e for e in of_kind(kernel, "proc.exec") if e.pid == run.client_pid]
    if requests:
        calls = short_ids(
            " → ".join(f"{e.detail.get('method')} {endpoint_of(e)}" for e in requests)
        )
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
    accepts = of_kind(api, "conn.accept")
    connects = [e for e in of_kind(kernel, "sys.connect") if e.pid == run.client_pid]
    if accepts:
        a = accepts[0].detail
        summary = (
            f"{len(accepts)} connection(s) from pid {a.get('peer_pid')} ({a.get('peer_comm')}), "
            f"uid {a.get('peer_uid')} (SO_PEERCRED)"
        )
        paths = tuple(
            f"{n}× connect({p})" if n > 1 else f"connect({p})"
            for p, n in Counter(str(e.detail.get("path")) for e in connects).items()
        )
        steps.append(Step(2, "observed", tuple(connects + accepts), summary, facts=paths))
        first = (connects or accepts)[0]
        hops.append(Hop("cli", "socket", describe(first), 2, first))
    else:
        steps.append(Step(2, "missing", tuple(connects), reason="the proxy saw no connection"))
    for e in requests:
        hops.append(Hop("socket", "dockerd", request_line(e), 2, e))

    # 3: dockerd.
    s3 = [e for e in responses if endpoint_of(e) in ("/containers/create", "/images/create")]
    s3 += [e for e in requests if endpoint_of(e) == "/images/create"]
    s3 += of_kind(api, "stream.error")
    # dockerd's part ends when it answers /start; what it does later (after the container
    # exits, for --rm) is teardown, not step 3.
    starts = [e for e in responses if endpoint_of(e).endswith("/start")]
    cutoff = _last_byte(starts[-1]) if starts else 1 << 62
    mounts = [e for e in of_kind(kernel, "sys.mount") if e.detail.get("fstype") == "overlay"]
    daemon_side = [e for e in kernel if e.layer == "dockerd" and e.time_ns <= cutoff]
    s3 += daemon_side
    s3.sort(key=lambda e: e.time_ns)
    if create_resps or s3:
        facts = []
        pulls = [e for e in requests if endpoint_of(e) == "/images/create"]
        if pulls:
            img = pulls[0].detail.get("query", {}).get("fromImage", "")
            how = "tried to pull it, and failed" if failed else "pulled it"
            facts.append(f"the image was not here: dockerd {how} (POST /images/create {img})")
        elif create_resps and create_resps[0].detail.get("status") == 201:
            facts.append("image was cached: no pull")
        for target in dict.fromkeys(str(m.detail.get("target")) for m in mounts):
            m = next(m for m in mounts if m.detail.get("target") == target)
            facts.append(short_ids(f"{m.comm} (pid {m.pid}) mounted overlay on {target}"))
        summary = "; ".join(describe(e) for e in create_resps[-1:]) or describe(s3[0])
        steps.append(Step(3, "observed", tuple(s3), summary, error=failed, facts=tuple(facts)))
        for e in create_resps:
            hops.append(Hop("dockerd", "cli", describe(e), 3, e))
        for m in mounts:
            box: Box = "dockerd" if m.layer == "dockerd" else "containerd"
            hops.append(Hop(box, box, describe(m), 3, m))
    else:
        steps.append(Step(3, "missing", reason="dockerd's answer was not seen"))

    never = (
        "never happened: the run stopped at step 3 (dockerd's error)" if failed and not cid else ""
    )
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
    shim_execs = [e for e in of_kind(kernel, "proc.exec") if e.layer == "shim"]
    runc_creates = [
        e
        for e in of_kind(kernel, "proc.exec")
        if is_runc(e) and "create" in [str(a) for a in e.detail.get("argv") or []]
    ]
    shim_forks = [e for e in of_kind(kernel, "proc.fork") if e.layer == "containerd"]
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
    unshares = [e for e in of_kind(kernel, "sys.unshare") if is_ns_flags(e)]
    clones = [
        e
        for e in of_kind(kernel, "sys.clone", "sys.clone3")
        if (e.layer == "runc" or e.comm in RUNC_HELPERS) and not is_thread(e)
    ]
    pivots = of_kind(kernel, "sys.pivot_root")
    init_mounts = [e for e in of_kind(kernel, "sys.mount") if e.comm == "runc:[2:INIT]"]
    s5 = sorted(unshares + clones + pivots + init_mounts, key=lambda e: e.time_ns)
    if unshares or any(is_ns_flags(e) for e in clones):
        ns = unshares[0] if unshares else next(e for e in clones if is_ns_flags(e))
        stages = [e for e in clones if "CLONE_PARENT" in (e.detail.get("flag_names") or [])]
        facts = [f"{e.comm} (pid {e.pid}): {describe(e)}" for e in unshares + stages]
        facts += [describe(e) for e in pivots[:1]]
        steps.append(
            Step(5, "observed", tuple(s5), f"{ns.comm}: {describe(ns)}", facts=tuple(facts))
        )
        # The hops tell the story's moves: the namespaces, the CLONE_PARENT clones that make
        # runc's stages, pivot_root; runc's vfork to re-exec itself stays in the evidence.
        for e in s5:
            if e.kind in ("sys.unshare", "sys.pivot_root") or "CLONE_PARENT" in (
                e.detail.get("flag_names") or []
            ):
                hops.append(Hop("runc", "kernel", describe(e), 5, e))
    else:
        steps.append(absent(5, "no namespace-creating unshare or clone"))

    # 6: the command itself.
    cmd = command_exec(kernel)
    container = _container(run, cmd, api, kernel, clones, unshares)
    if cmd is not None:
        exits = [e for e in of_kind(kernel, "proc.exit") if e.pid == cmd.pid]
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
    frames = output_frames(api)
    waits = [e for e in responses if endpoint_of(e).endswith("/wait")]
    cmd_exit = [e for e in of_kind(kernel, "proc.exit") if cmd is not None and e.pid == cmd.pid]
    # /wait is answered with 200 at once; the exit status, its body, comes back at the end.
    s7_at = sorted(
        [(e.time_ns, e) for e in frames + cmd_exit] + [(_last_byte(e), e) for e in waits],
        key=lambda pair: pair[0],
    )
    s7 = [e for _, e in s7_at]
    at7 = tuple(t for t, _ in s7_at)
    exit_status = [e for e in waits if _status_code(e) is not None]
    if waits and not exit_status:
        # /wait was answered with 200 but its body never came: the daemon went away
        # before the exit status could travel back.
        seen = f"; {len(frames)} output frame(s) had come back" if frames else ""
        steps.append(
            Step(
                7,
                "missing",
                tuple(s7),
                reason="the exit status never came back: /wait was cut short" + seen,
                at_ns=at7,
                error="the daemon's answer to /wait ended without a StatusCode",
            )
        )
    elif frames or waits:
        parts = [describe(e) for e in frames[:2]] + [describe(e) for e in waits[:1]]
        steps.append(Step(7, "observed", tuple(s7), "; ".join(parts), at_ns=at7))
        for e in frames:
            hops.append(Hop("kernel", "cli", describe(e), 7, e))
        for e in waits:
            hops.append(Hop("dockerd", "cli", describe(e), 7, e, at_ns=_last_byte(e)))
    elif never:
        steps.append(Step(7, "missing", reason=never))
    elif not create_req and responses:
        steps.append(Step(7, "observed", tuple(responses[-1:]), describe(responses[-1])))
    else:
        steps.append(Step(7, "missing", reason="no output or exit status came back"))

    hops.sort(key=lambda h: h.time_ns)
    all_events = tuple(sorted(api + kernel, key=lambda e: e.time_ns))
    checks = reality_checks(
        requests, mounts, unshares, clones, runc_creates, cmd, container, kernel
    )
    return Trace(
        steps=tuple(steps),
        hops=tuple(hops),
        events=all_events,
        container=container if (create_req or cid) else None,
        checks=checks,
        client_pid=run.client_pid,
        backend=backend,
    )


def _status_code(wait: Event) -> int | None:
    body = wait.detail.get("body_json")
    code = body.get("StatusCode") if isinstance(body, dict) else None
    return code if isinstance(code, int) else None


def _last_byte(ev: Event) -> int:
    last = ev.detail.get("last_byte_ns")
    return last if isinstance(last, int) else ev.time_ns


def _failure(api: Sequence[Event]) -> str:
    """The daemon's last word when the run failed: an HTTP error, or an error inside a stream."""
    errors = [e for e in api if e.kind == "stream.error"]
    bad = [e for e in api if e.kind == "http.response" and int(e.detail.get("status", 0)) >= 400]
    created = any(
        e.kind == "http.response"
        and e.detail.get("status") == 201
        and endpoint_of(e) == "/containers/create"
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
        return f"dockerd answered HTTP {e.detail.get('status')} to {endpoint_of(e)}: {msg}".strip()
    return ""


def _container(
    run: Run,
    cmd: Event | None,
    api: Sequence[Event],
    kernel: Sequence[Event],
    clones: Sequence[Event],
    unshares: Sequence[Event],
) -> Container:
    create = next(
        (e for e in api if e.kind == "http.request" and endpoint_of(e) == "/containers/create"),
        None,
    )
    body = create.detail.get("body_json") if create else None
    image = str(body.get("Image", "")) if isinstance(body, dict) else ""
    command = tuple(str(a) for a in (body.get("Cmd") or [])) if isinstance(body, dict) else ()
    frames = output_frames(api)
    out = "".join(
        str(e.detail.get("excerpt", "")) for e in frames if e.detail["stream"] != "stderr"
    )
    err = "".join(
        str(e.detail.get("excerpt", "")) for e in frames if e.detail["stream"] == "stderr"
    )
    exit_code: int | None = None
    for e in api:
        if e.kind == "http.response" and endpoint_of(e).endswith("/wait"):
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
