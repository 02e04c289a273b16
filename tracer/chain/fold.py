"""The chain: fold observed events into the seven steps, the hops and the reality checks (pure).

The fold says what happened and which events show it; tracer.text.story puts it in words."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from tracer.chain.checks import reality_checks
from tracer.chain.claims import Session, claim_hops, fold_claims
from tracer.chain.context import RunContext
from tracer.chain.model import Box, Claim, Container, Hop, Step, Trace
from tracer.chain.runs import Run, endpoint_of, gather, is_ns_flags, of_kind
from tracer.events import Event

Folded = tuple[Step, list[Hop]]


def runs(events: Iterable[Event], backend: str = "", claims: bool = True) -> list[Trace]:
    """Every run in the events (one per client that made API calls), in order of start,
    without words (tracer.text.story.runs writes them). `claims=False` leaves the article's
    claims out (they cost a fifth to a half of a fold: bench/claims_fold.py)."""
    session = list(events)
    traces = [_fold_run(r, backend) for r in gather(session)]
    if claims:  # they read the session's events too: containerd's, and the sources' own word
        whole = Session(session)
        traces = [_with_claims(t, fold_claims(t, whole)) for t in traces]
    return sorted(traces, key=lambda t: t.start_ns)


def _with_claims(trace: Trace, claims: tuple[Claim, ...]) -> Trace:
    """The trace with its claims, their hops, and the session's events they found for it
    (containerd's, the spec read, the FIFO's), so that every view shows what a claim cites."""
    hops = sorted([*trace.hops, *claim_hops(claims)], key=lambda h: h.time_ns)
    known = {id(e) for e in trace.events}
    cited = {id(e): e for c in claims for e in c.evidence if id(e) not in known}
    events = trace.events
    if cited:
        events = tuple(sorted([*events, *cited.values()], key=lambda e: e.time_ns))
    return replace(trace, claims=claims, hops=tuple(hops), events=events)


def fold(events: Iterable[Event], backend: str = "", claims: bool = True) -> Trace:
    """The main run in the events: the one that created a container, else the first."""
    traces = runs(events, backend, claims)
    with_container = [t for t in traces if t.container and t.container.id]
    return (with_container or traces)[0]


def _fold_run(run: Run, backend: str) -> Trace:
    ctx = RunContext(run)
    steps: list[Step] = []
    hops: list[Hop] = []
    for fold_step in STEPS:
        step, step_hops = fold_step(ctx)
        steps.append(step)
        hops += step_hops
    hops.sort(key=lambda h: h.time_ns)
    return Trace(
        steps=tuple(steps),
        hops=tuple(hops),
        events=tuple(sorted(ctx.api + ctx.kernel, key=lambda e: e.time_ns)),
        container=_container(ctx) if ctx.made_container else None,
        checks=reality_checks(ctx),
        client_pid=run.client_pid,
        backend=backend,
    )


def _absent(ctx: RunContext, number: int) -> Step:
    """A step from 4 on with no evidence: why (never reached, not asked for, not observable)."""
    if ctx.never:
        return Step(number, "missing", why="never")
    if not ctx.made_container:
        return Step(number, "skipped", why="no-container")
    if not ctx.have_kernel:
        return Step(number, "missing", why="no-probe")
    return Step(number, "missing", why="not-seen")


def _client(ctx: RunContext) -> Folded:
    """1: the CLI and its requests."""
    client_exec = [e for e in of_kind(ctx.kernel, "proc.exec") if e.pid == ctx.run.client_pid]
    if not ctx.requests:
        return Step(1, "missing", tuple(client_exec), why="no-request"), []
    create = (ctx.create_request,) if ctx.create_request else ()
    basis = {"requests": tuple(ctx.requests), "create": create}
    return Step(1, "observed", tuple(client_exec + ctx.requests), basis=basis), []


def _socket(ctx: RunContext) -> Folded:
    """2: the socket, and the requests crossing it."""
    accepts = of_kind(ctx.api, "conn.accept")
    connects = [e for e in of_kind(ctx.kernel, "sys.connect") if e.pid == ctx.run.client_pid]
    hops = [Hop("socket", "dockerd", "", 2, e) for e in ctx.requests]
    if not accepts:
        return Step(2, "missing", tuple(connects), why="no-connection"), hops
    first = (connects or accepts)[0]
    basis = {"accepts": tuple(accepts), "connects": tuple(connects)}
    step = Step(2, "observed", tuple(connects + accepts), basis=basis)
    return step, [Hop("cli", "socket", "", 2, first), *hops]


def _dockerd(ctx: RunContext) -> Folded:
    """3: dockerd checks the image (pulls it), writes the container, mounts its layers."""
    pulls = [e for e in ctx.requests if endpoint_of(e) == "/images/create"]
    s3 = [e for e in ctx.responses if endpoint_of(e) in ("/containers/create", "/images/create")]
    s3 += pulls + of_kind(ctx.api, "stream.error")
    # dockerd's part ends when it answers /start; what it does later (after the container
    # exits, for --rm) is teardown, not step 3.
    starts = [e for e in ctx.responses if endpoint_of(e).endswith("/start")]
    cutoff = last_byte(starts[-1]) if starts else 1 << 62
    s3 += [e for e in ctx.kernel if e.layer == "dockerd" and e.time_ns <= cutoff]
    s3.sort(key=lambda e: e.time_ns)
    if not (ctx.create_responses or s3):
        return Step(3, "missing", why="no-answer"), []
    basis = {
        "answers": tuple(ctx.create_responses),
        "pulls": tuple(pulls),
        "mounts": tuple(ctx.overlay_mounts),
        "failure": (ctx.failure,) if ctx.failure else (),
    }
    hops = [Hop("dockerd", "cli", "", 3, e) for e in ctx.create_responses]
    for m in ctx.overlay_mounts:
        box: Box = "dockerd" if m.layer == "dockerd" else "containerd"
        hops.append(Hop(box, box, "", 3, m))
    return Step(3, "observed", tuple(s3), basis=basis), hops


def _runtime(ctx: RunContext) -> Folded:
    """4: containerd, the shim, runc create."""
    shim_execs = [e for e in of_kind(ctx.kernel, "proc.exec") if e.layer == "shim"]
    shim_forks = [e for e in of_kind(ctx.kernel, "proc.fork") if e.layer == "containerd"]
    if not (ctx.runc_creates or shim_execs):
        return _absent(ctx, 4), []
    s4 = sorted(shim_forks + shim_execs + ctx.runc_creates, key=lambda e: e.time_ns)
    hops = [Hop("dockerd", "containerd", "", 4, e) for e in shim_forks[:1]]
    hops += [Hop("containerd", "shim", "", 4, e) for e in shim_execs[:1]]
    hops += [Hop("shim", "runc", "", 4, e) for e in ctx.runc_creates[:1]]
    basis = {"shim": tuple(shim_execs[:1]), "runc": tuple(ctx.runc_creates[:1])}
    return Step(4, "observed", tuple(s4), basis=basis), hops


def _namespaces(ctx: RunContext) -> Folded:
    """5: runc's namespaces, mounts and pivot_root."""
    unshares, clones = ctx.unshares, ctx.clones
    if not (unshares or any(is_ns_flags(e) for e in clones)):
        return _absent(ctx, 5), []
    pivots = of_kind(ctx.kernel, "sys.pivot_root")
    init_mounts = [e for e in of_kind(ctx.kernel, "sys.mount") if e.comm == "runc:[2:INIT]"]
    s5 = sorted(unshares + clones + pivots + init_mounts, key=lambda e: e.time_ns)
    ns = unshares[0] if unshares else next(e for e in clones if is_ns_flags(e))
    stages = [e for e in clones if _parent_clone(e)]
    basis = {"ns": (ns,), "stages": tuple(unshares + stages), "pivots": tuple(pivots[:1])}
    # The hops tell the story's moves: the namespaces, the CLONE_PARENT clones that make
    # runc's stages, pivot_root; runc's vfork to re-exec itself stays in the evidence.
    moves = [e for e in s5 if e.kind in ("sys.unshare", "sys.pivot_root") or _parent_clone(e)]
    hops = [Hop("runc", "kernel", "", 5, e) for e in moves]
    return Step(5, "observed", tuple(s5), basis=basis), hops


def _command(ctx: RunContext) -> Folded:
    """6: the command itself."""
    cmd = ctx.command
    if cmd is None:
        return _absent(ctx, 6), []
    exits = [e for e in of_kind(ctx.kernel, "proc.exit") if e.pid == cmd.pid]
    _, via = ctx.ns_pid
    step = Step(6, "observed", (cmd, *exits), basis={"ns_pid": (via,) if via else ()})
    return step, [Hop("kernel", "kernel", "", 6, cmd)]


def _output(ctx: RunContext) -> Folded:
    """7: output and exit status back up."""
    frames, cmd = ctx.frames, ctx.command
    waits = [e for e in ctx.responses if endpoint_of(e).endswith("/wait")]
    cmd_exit = [e for e in of_kind(ctx.kernel, "proc.exit") if cmd is not None and e.pid == cmd.pid]
    # /wait is answered with 200 at once; the exit status, its body, comes back at the end.
    s7_at = sorted(
        [(e.time_ns, e) for e in frames + cmd_exit] + [(last_byte(e), e) for e in waits],
        key=lambda pair: pair[0],
    )
    s7 = tuple(e for _, e in s7_at)
    at7 = tuple(t for t, _ in s7_at)
    basis = {"frames": tuple(frames), "waits": tuple(waits)}
    if waits and not any(status_code(e) is not None for e in waits):
        # /wait was answered with 200 but its body never came: the daemon went away
        # before the exit status could travel back.
        return Step(7, "missing", s7, at_ns=at7, why="wait-cut", basis=basis), []
    if frames or waits:
        hops = [Hop("kernel", "cli", "", 7, e) for e in frames]
        hops += [Hop("dockerd", "cli", "", 7, e, at_ns=last_byte(e)) for e in waits]
        return Step(7, "observed", s7, at_ns=at7, basis=basis), hops
    if ctx.never:
        return Step(7, "missing", why="never"), []
    if not ctx.create_request and ctx.responses:
        return Step(7, "observed", tuple(ctx.responses[-1:])), []
    return Step(7, "missing", why="no-output"), []


STEPS: tuple[Callable[[RunContext], Folded], ...] = (
    _client,
    _socket,
    _dockerd,
    _runtime,
    _namespaces,
    _command,
    _output,
)


def _parent_clone(ev: Event) -> bool:
    return "CLONE_PARENT" in (ev.detail.get("flag_names") or [])


def status_code(wait: Event) -> int | None:
    """The exit status in an answer to /wait, once its body has come."""
    body = wait.detail.get("body_json")
    code = body.get("StatusCode") if isinstance(body, dict) else None
    return code if isinstance(code, int) else None


def last_byte(ev: Event) -> int:
    last = ev.detail.get("last_byte_ns")
    return last if isinstance(last, int) else ev.time_ns


def _exit_code(ctx: RunContext) -> int | None:
    """The exit status: the last answer to /wait that has one, else the kernel's exit."""
    codes = [status_code(e) for e in ctx.responses if endpoint_of(e).endswith("/wait")]
    known = [c for c in codes if c is not None]
    if known:
        return known[-1]
    cmd = ctx.command
    if cmd is None:
        return None
    ex = next((e for e in ctx.kernel if e.kind == "proc.exit" and e.pid == cmd.pid), None)
    code = ex.detail.get("exit_code") if ex is not None else None
    return code if isinstance(code, int) else None


def _container(ctx: RunContext) -> Container:
    create = ctx.create_request
    body = create.detail.get("body_json") if create else None
    image = str(body.get("Image", "")) if isinstance(body, dict) else ""
    command = tuple(str(a) for a in (body.get("Cmd") or [])) if isinstance(body, dict) else ()
    streams = [(str(e.detail.get("excerpt", "")), e.detail["stream"]) for e in ctx.frames]
    ns_pid, via = ctx.ns_pid
    return Container(
        id=ctx.run.container_id,
        image=image,
        command=command,
        exit_code=_exit_code(ctx),
        output="".join(text for text, stream in streams if stream != "stderr"),
        errors="".join(text for text, stream in streams if stream == "stderr"),
        host_pid=ctx.command.pid if ctx.command else None,
        ns_pid=ns_pid,
        ns_pid_via=via,
    )
