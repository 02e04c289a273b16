"""The article's 13 claims about the chain, each settled by a run's events (pure, no words).

A claim is `observed` (the events show it as the article tells it), `corrected` (they show the
machine doing it another way; `why` says which, `basis` holds the events that show how) or
`missing` (`why` says what kept it from being seen: a source that said it was unavailable, a
kind this recording has none of at all, or simply nothing of it in the run). tracer.text.claims
puts all of that in words.

The run's own events are the trace's; the session's (`session`) add what is recorded beside the
runs: containerd's events and the files read, found by the container's id, and the sources'
word that they were unavailable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tracer.chain.model import Claim, Hop, Trace
from tracer.events import Event

NAMESPACES = ("CLONE_NEWPID", "CLONE_NEWNET", "CLONE_NEWNS", "CLONE_NEWUTS", "CLONE_NEWIPC")
RUNC_STAGES = ("runc:[0:PARENT]", "runc:[1:CHILD]", "runc:[2:INIT]")
CONTAINERD_ASKED = ("/containers/create", "/tasks/create", "/tasks/start")
GRPC_ASKED = ("Containers/Create", "Tasks/Create", "Tasks/Start")
METADATA_FILES = ("config.v2.json", "hostconfig.json")
KERNEL_SOURCES = ("bpf", "tracefs")
# Kinds recorded beside the runs (their sources are not the proxy's nor the kernel probes' run
# lineage): taken from the session when they name the run's container.
BESIDE_RUNS = frozenset(
    {"containerd.event", "oci.spec", "cgroup.mkdir", "cgroup.attach", "sys.openat"}
    | {"sys.rename", "sys.write", "sys.read"}
)
# The step of the seven each claim belongs to (the article tells them in that order).
CLAIM_STEP = {1: 1, 2: 2, 3: 3, 4: 3, 5: 3, 6: 3, 7: 4, 8: 4, 9: 5, 10: 5, 11: 5, 12: 6, 13: 7}
# The reality checks a claim says again (tracer.chain.checks), so that a view shows it once.
SAME_AS_CHECK = {7: "overlay-mount", 9: "namespaces"}


class Session:
    """What the claims read of the whole session, gathered once for all its runs."""

    def __init__(self, events: Sequence[Event]) -> None:
        self.kinds = {e.kind for e in events}
        self.beside = [e for e in events if e.kind in BESIDE_RUNS]
        self.unavailable = {
            str(e.detail.get("source")): e for e in events if e.kind == "source.unavailable"
        }
        self.have_kernel = any(e.source in KERNEL_SOURCES for e in events)


class _Run:
    """The events a claim reads: the run's, with the session's that name its container."""

    def __init__(self, trace: Trace, session: Session) -> None:
        self.trace = trace
        self.cid = trace.container.id if trace.container is not None else ""
        extra = [e for e in session.beside if self._names_container(e)]
        if extra:  # (most of them are the run's own already: kernel events of its lineage)
            seen = {id(e) for e in trace.events}
            extra = [e for e in extra if id(e) not in seen]
        events = list(trace.events)
        self.events = sorted(events + extra, key=lambda e: e.time_ns) if extra else events
        self._by_kind: dict[str, list[Event]] = {}
        for e in self.events:
            self._by_kind.setdefault(e.kind, []).append(e)
        self.session_kinds = session.kinds | self._by_kind.keys()
        self.unavailable = session.unavailable
        self.have_kernel = session.have_kernel or any(
            e.source in KERNEL_SOURCES for e in trace.events
        )
        creates = self.responses(lambda p: p == "/containers/create")
        failed = self.of("stream.error") or [
            e for e in self.of("http.response") if _status(e) >= 400
        ]
        self.asked = bool(self.cid or self.requests(lambda p: p == "/containers/create"))
        self.never = bool(failed) and not self.cid and not any(_status(e) == 201 for e in creates)

    def _names_container(self, ev: Event) -> bool:
        if not self.cid:
            return False
        d = ev.detail
        return d.get("container_id") == self.cid or any(
            self.cid in str(d.get(k) or "") for k in ("path", "bundle")
        )

    def of(self, *kinds: str) -> list[Event]:
        if len(kinds) == 1:
            return self._by_kind.get(kinds[0], [])
        return sorted((e for k in kinds for e in self._by_kind.get(k, ())), key=lambda e: e.time_ns)

    def requests(self, test: Callable[[str], bool]) -> list[Event]:
        return [e for e in self.of("http.request") if test(_endpoint(e))]

    def responses(self, test: Callable[[str], bool]) -> list[Event]:
        return [e for e in self.of("http.response") if test(_endpoint(e))]

    def calls(self, *names: str) -> list[Event]:
        return [e for e in self.of("grpc.call") if _call_name(e) in names]

    def missing(self, number: int, kinds: Sequence[str], source: str = "") -> Claim:
        """Why a claim has no evidence: its source said so, the recording has no such kind at
        all, no kernel probe ran, or the run simply showed none of it."""
        if source and source in self.unavailable:
            ev = self.unavailable[source]
            return Claim(number, "missing", why="unavailable", basis={"unavailable": (ev,)})
        if not source and not self.have_kernel:
            return Claim(number, "missing", why="no-probe")
        if not any(k in self.session_kinds for k in kinds):
            return Claim(number, "missing", why="not-recorded")
        return Claim(number, "missing", why="not-seen")


def _endpoint(ev: Event) -> str:
    return str(ev.detail.get("endpoint") or ev.detail.get("path") or "")


def _call_name(ev: Event) -> str:
    return f"{str(ev.detail.get('service', '')).rsplit('.', 1)[-1]}/{ev.detail.get('method', '')}"


def _flags(ev: Event) -> list[str]:
    return [str(f) for f in ev.detail.get("flag_names") or []]


def _argv(ev: Event) -> list[str]:
    return [str(a) for a in ev.detail.get("argv") or []]


def _is_runc(ev: Event) -> bool:
    argv = _argv(ev)
    return ev.layer == "runc" or ev.comm in RUNC_STAGES or bool(argv and argv[0].endswith("runc"))


def fold_claims(trace: Trace, session: Sequence[Event] | Session = ()) -> tuple[Claim, ...]:
    """The 13 claims for one run, in the article's order. `session`: every event recorded (or
    its Session, made once for many runs)."""
    run = _Run(trace, session if isinstance(session, Session) else Session(session))
    out = []
    for number, claim in enumerate(CLAIMS, start=1):
        if number >= 5 and run.never:  # the run stopped at dockerd's error
            out.append(Claim(number, "missing", why="never"))
        elif number >= 3 and not run.asked and not run.calls(*GRPC_ASKED):
            out.append(Claim(number, "missing", why="no-container"))
        else:
            out.append(claim(run))
    return tuple(out)


# -- the CLI and the socket (claims 1-2) -------------------------------------------------------


def _cli_requests(run: _Run) -> Claim:
    creates = run.requests(lambda p: p == "/containers/create")
    starts = run.requests(lambda p: p.endswith("/start"))
    every = tuple(run.of("http.request"))
    if creates and starts:
        return Claim(1, "observed", (creates[0], starts[0]), basis={"requests": every})
    grpc = run.calls(*GRPC_ASKED)
    if grpc:  # a client of containerd itself (ctr): no HTTP, no dockerd
        return Claim(1, "corrected", tuple(grpc), why="grpc-client", basis={"calls": tuple(grpc)})
    if creates:
        return Claim(1, "missing", every, why="no-start", basis={"requests": every})
    if every:
        return Claim(1, "missing", every, why="no-create-start", basis={"requests": every})
    return Claim(1, "missing", why="no-request")


def _socket(run: _Run) -> Claim:
    accepts = run.of("conn.accept")
    client = run.trace.client_pid
    connects = tuple(e for e in run.of("sys.connect") if e.pid == client)
    requests = run.of("http.request")
    if accepts and requests:
        evidence = (*connects[:1], accepts[0], requests[0])
        return Claim(2, "observed", evidence, basis={"connects": connects})
    if accepts and run.of("grpc.call"):
        evidence = (*connects[:1], accepts[0], run.of("grpc.call")[0])
        return Claim(2, "corrected", evidence, why="grpc-socket", basis={"connects": connects})
    return Claim(2, "missing", tuple(connects), why="no-connection")


# -- dockerd (claims 3-6) ----------------------------------------------------------------------


def _image_cache(run: _Run) -> Claim:
    answers = run.responses(lambda p: p == "/containers/create")
    if not answers:
        return Claim(3, "missing", why="no-answer")
    first = answers[0]
    why = "cached" if first.detail.get("status") == 201 else "not-cached"
    return Claim(3, "observed", tuple(answers), why=why, basis={"first": (first,)})


def _image_pull(run: _Run) -> Claim:
    pulls = run.requests(lambda p: p == "/images/create")
    answers = run.responses(lambda p: p == "/images/create")
    errors = tuple(run.of("stream.error"))
    if pulls:
        why = "pull-failed" if errors or any(_status(e) >= 400 for e in answers) else "pulled"
        return Claim(4, "observed", (*pulls, *answers), why=why, basis={"errors": errors})
    creates = run.responses(lambda p: p == "/containers/create")
    if creates and creates[0].detail.get("status") == 201:
        return Claim(4, "observed", (creates[0],), why="not-needed")
    if creates:
        return Claim(4, "missing", tuple(creates), why="not-pulled")
    return Claim(4, "missing", why="no-answer")


def _status(ev: Event) -> int:
    status = ev.detail.get("status")
    return status if isinstance(status, int) else 0


def _metadata(run: _Run) -> Claim:
    writes = tuple(
        e
        for e in run.of("sys.openat", "sys.rename")
        if "/containers/" in str(e.detail.get("path", ""))
        and str(e.detail.get("path", "")).endswith(METADATA_FILES)
    )
    if not writes:
        return run.missing(5, ("sys.openat", "sys.rename"))
    writers = tuple(e for e in writes if e.layer != "dockerd")
    if writers:
        return Claim(5, "corrected", writes, why="not-dockerd", basis={"writers": writers})
    return Claim(5, "observed", writes, basis={"files": writes})


def _asks_containerd(run: _Run) -> Claim:
    events = tuple(
        e for e in run.of("containerd.event") if e.detail.get("topic") in CONTAINERD_ASKED
    )
    calls = tuple(run.calls(*GRPC_ASKED))
    indirect = tuple(
        e
        for e in run.of("sys.connect", "proc.fork")
        if (e.kind == "sys.connect" and "containerd" in str(e.detail.get("path", "")))
        or (e.kind == "proc.fork" and e.layer == "containerd")
    )
    if calls and not any(e.layer == "dockerd" for e in run.trace.events):
        return Claim(6, "corrected", calls, why="grpc-client", basis={"calls": calls})
    if any(e.detail.get("topic") == "/tasks/start" for e in events):
        return Claim(6, "observed", events, basis={"calls": calls})
    base = run.missing(6, ("containerd.event",), source="containerd-events")
    return Claim(6, "missing", indirect, why=base.why, basis={**base.basis, "indirect": indirect})


# -- containerd, the shim, runc (claims 7-11) --------------------------------------------------


def _overlay(run: _Run) -> Claim:
    mounts = [e for e in run.of("sys.mount") if e.detail.get("fstype") == "overlay"]
    if not mounts:
        return run.missing(7, ("sys.mount",))
    main = next((m for m in mounts if "-init/" not in str(m.detail.get("target"))), mounts[-1])
    snapshots = tuple(
        e for e in run.of("containerd.event") if str(e.detail.get("topic")).startswith("/snapsh")
    )
    basis = {"mount": (main,), "snapshots": snapshots}
    if main.layer in ("containerd", "shim") or main.comm == "ctr":
        return Claim(7, "observed", (main, *snapshots), basis=basis)
    return Claim(7, "corrected", (main, *snapshots), why="mounted-by", basis=basis)


def _runc_config(run: _Run) -> Claim:
    creates = [e for e in run.of("proc.exec") if _is_runc(e) and "create" in _argv(e)]
    if not creates:
        return run.missing(8, ("proc.exec",))
    rc = creates[0]
    specs = tuple(run.of("oci.spec"))
    shims = tuple(e for e in run.of("proc.exec") if e.layer == "shim")
    basis = {"runc": (rc,), "spec": specs, "shim": shims[:1]}
    return Claim(8, "corrected", (*shims[:1], rc, *specs), why="via-shim", basis=basis)


def _namespaces(run: _Run) -> Claim:
    unshares = [e for e in run.of("sys.unshare") if set(_flags(e)) & set(NAMESPACES)]
    clones = [e for e in run.of("sys.clone", "sys.clone3") if e.comm in RUNC_STAGES]
    ns_clones = [e for e in clones if set(_flags(e)) & set(NAMESPACES)]
    parents = tuple(e for e in clones if "CLONE_PARENT" in _flags(e))
    made = {f for e in unshares + ns_clones for f in _flags(e)}
    lacking = tuple(f for f in NAMESPACES if f not in made)
    if not unshares and not ns_clones:
        return run.missing(9, ("sys.unshare", "sys.clone"))
    basis = {"unshare": tuple(unshares[:1]), "clone": parents[-1:]}
    if unshares or lacking:
        why = "unshare-then-clone" if unshares else "not-all"
        evidence = (*unshares[:1], *parents[-1:], *ns_clones[:1])
        return Claim(9, "corrected", evidence, why=why, basis=basis)
    return Claim(9, "observed", tuple(ns_clones[:1]), basis=basis)


def _cgroup(run: _Run) -> Claim:
    made = tuple(run.of("cgroup.mkdir"))
    attached = tuple(run.of("cgroup.attach"))
    if not made and not attached:
        return run.missing(10, ("cgroup.mkdir", "cgroup.attach"))
    others = tuple(e for e in (*made, *attached) if not _is_runc(e))
    basis = {"mkdir": made, "attach": attached, "others": others}
    if others:
        return Claim(10, "corrected", (*made, *attached), why="made-by", basis=basis)
    return Claim(10, "observed", (*made, *attached), basis=basis)


def _rootfs(run: _Run) -> Claim:
    pivots = [e for e in run.of("sys.pivot_root") if _is_runc(e)]
    if not pivots:
        return run.missing(11, ("sys.pivot_root",))
    mounts = tuple(e for e in run.of("sys.mount") if e.comm == "runc:[2:INIT]")
    return Claim(11, "observed", (*mounts[:1], pivots[0]), basis={"mounts": mounts})


# -- the command and its output (claims 12-13) -------------------------------------------------


def _exec(run: _Run) -> Claim:
    step = run.trace.steps[5] if len(run.trace.steps) > 5 else None
    if step is not None and step.status == "observed" and step.evidence:
        return Claim(12, "observed", step.evidence[:1])
    return run.missing(12, ("proc.exec",))


def _output(run: _Run) -> Claim:
    writes = run.of("sys.write")
    hops = {
        "container": tuple(e for e in writes if e.layer == "container"),
        "fifo": tuple(e for e in writes if e.layer == "shim"),
        "dockerd": tuple(e for e in run.of("sys.read") if e.layer == "dockerd"),
        "frames": tuple(
            e
            for e in run.of("stream.frame")
            if e.detail.get("direction") == "daemon->client"
            and e.detail.get("stream") in ("stdout", "stderr", "raw")
        ),
    }
    evidence = tuple(e for hop in hops.values() for e in hop[:1])
    if all(hops.values()):
        return Claim(13, "corrected", evidence, why="via-shim-fifo", basis=hops)
    if not evidence:
        return run.missing(13, ("stream.frame", "sys.write"))
    base = run.missing(13, ("sys.write", "sys.read"))
    why = "not-recorded" if base.why == "not-recorded" else "some-hops"
    return Claim(13, "missing", evidence, why=why, basis=hops)


def claim_hops(claims: Sequence[Claim]) -> list[Hop]:
    """The boundaries the claims' new evidence shows crossed, as hops of the chain: dockerd's
    metadata, containerd's events, the spec runc gets, the cgroup, the output's way back."""
    by = {c.number: c for c in claims if c.status != "missing"}
    hops: list[Hop] = []
    if 5 in by:
        hops += [Hop("dockerd", "dockerd", "", 3, e) for e in by[5].evidence[:1]]
    if 6 in by and by[6].why != "grpc-client":
        hops += [Hop("dockerd", "containerd", "", 3, e) for e in by[6].evidence]
    elif 6 in by:
        hops += [Hop("cli", "containerd", "", 3, e) for e in by[6].evidence]
    if 8 in by:
        hops += [Hop("shim", "runc", "", 4, e) for e in by[8].basis.get("spec", ())[:1]]
    if 10 in by:
        hops += [Hop("runc", "kernel", "", 5, e) for e in by[10].basis.get("mkdir", ())[:1]]
    if 13 in by:
        back = by[13].basis
        hops += [Hop("kernel", "shim", "", 7, e) for e in back.get("container", ())[:1]]
        hops += [Hop("shim", "dockerd", "", 7, e) for e in back.get("fifo", ())[:1]]
    return hops


CLAIMS: tuple[Callable[[_Run], Claim], ...] = (
    _cli_requests,
    _socket,
    _image_cache,
    _image_pull,
    _metadata,
    _asks_containerd,
    _overlay,
    _runc_config,
    _namespaces,
    _cgroup,
    _rootfs,
    _exec,
    _output,
)
