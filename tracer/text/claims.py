"""The article's 13 claims in words: each as the article tells it, and what the events said."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tracer.chain.model import Claim
from tracer.events import Event
from tracer.text.describe import describe, excerpt, short_flags, short_ids

STORIES: dict[int, str] = {
    1: "the CLI builds POST /containers/create + POST /containers/{id}/start",
    2: "HTTP travels over /var/run/docker.sock",
    3: "dockerd checks the image cache",
    4: "… pulls the image if needed",
    5: "… creates container metadata",
    6: "… asks containerd to start it",
    7: "containerd sets up an OverlayFS snapshot (lowerdir = image layers, fresh upperdir)",
    8: "containerd calls runc with the container config",
    9: "runc creates PID, NET, MNT, UTS, IPC namespaces",
    10: "… sets up the cgroup",
    11: "… mounts the OverlayFS root",
    12: "… exec()s the command",
    13: "output: stdout → containerd → dockerd → HTTP response → CLI",
}
MARKS = {"observed": "✓", "corrected": "≠", "missing": "✗"}

# What each claim's evidence would have been, for "not seen" and "not recorded".
WHAT: dict[int, str] = {
    5: "writes of config.v2.json or hostconfig.json (file opens and renames)",
    6: "events of containerd's own",
    7: "an overlay mount",
    8: "an exec of runc create",
    9: "a namespace-creating unshare or clone",
    10: "cgroup mkdir or attach events",
    11: "runc's pivot_root",
    12: "the exec of the container's command",
    13: "the container's write() of its output, the FIFO, dockerd's read",
}
SOURCES = {"containerd-events": "containerd's events not readable"}
REASONS = {
    "no-probe": "no kernel probe ran (proxy only): not observable",
    "never": "never happened: the run stopped at dockerd's error",
    "no-container": "this command created no container",
    "no-request": "no request reached the proxy",
    "no-connection": "the proxy saw no connection",
    "no-answer": "dockerd's answer to /containers/create was not seen",
    "no-create-start": "the client sent no create and start",
    "not-pulled": "the image was missing and no pull was asked for",
}


def story(claim: Claim) -> str:
    return STORIES[claim.number]


def says(claim: Claim) -> str:
    """What the events say: what was seen, how the machine did it instead, or why nothing."""
    if claim.why == "no-start":
        return "create, but never start: " + _cli(claim).removeprefix("the client sent: ")
    # 6 and 13 say what part was seen; the others have nothing to add to the reason
    if claim.status == "missing" and (claim.number not in (6, 13) or not claim.evidence):
        return _unavailable(claim) if claim.why == "unavailable" else _missing(claim)
    return short_ids(SAYS[claim.number](claim))


def _missing(claim: Claim) -> str:
    what = WHAT.get(claim.number, "its events")
    if claim.why == "not-recorded":
        return f"not recorded: no {what} in this recording at all (older, or a probe without them)"
    if claim.why == "not-seen":
        return f"not seen in this run: {what}"
    return REASONS.get(claim.why, claim.why)


def _unavailable(claim: Claim) -> str:
    ev = claim.basis["unavailable"][0]
    source = str(ev.detail.get("source", ""))
    return f"{SOURCES.get(source, source + ' not readable')} ({ev.detail.get('reason', '?')})"


def _calls(events: Sequence[Event]) -> str:
    return " → ".join(
        f"{str(e.detail.get('service', '')).rsplit('.', 1)[-1]}/{e.detail.get('method')}"
        for e in events
    )


def _cli(c: Claim) -> str:
    if c.why == "grpc-client":
        calls = c.basis["calls"]
        return f"no HTTP: {calls[0].comm} spoke gRPC to containerd: {_calls(calls)}"
    reqs = c.basis.get("requests", ())
    return "the client sent: " + " → ".join(
        f"{e.detail.get('method')} {e.detail.get('endpoint') or e.detail.get('path')}" for e in reqs
    )


def _socket(c: Claim) -> str:
    paths = list(dict.fromkeys(str(e.detail.get("path")) for e in c.basis.get("connects", ())))
    accept = next(e for e in c.evidence if e.kind == "conn.accept").detail
    where = f"connect({', '.join(paths)}); " if paths else ""
    who = f"the proxy accepted pid {accept.get('peer_pid')} ({accept.get('peer_comm')})"
    if c.why == "grpc-socket":
        return f"{where}{who}: gRPC (HTTP/2) to containerd's socket, not HTTP to docker.sock"
    return f"{where}{who} and forwarded the HTTP to dockerd's socket"


def _cache(c: Claim) -> str:
    first = c.basis["first"][0]
    if c.why == "cached":
        return "the image was cached: POST /containers/create answered 201 at once"
    return f"not cached: {describe(first)}"


def _pull(c: Claim) -> str:
    if c.why == "not-needed":
        return "no pull needed: the image was cached"
    query = c.evidence[0].detail.get("query") or {}
    image = query.get("fromImage", "") if isinstance(query, dict) else ""
    if c.why == "pull-failed":
        errors = c.basis.get("errors", ())
        said = f": {errors[-1].detail.get('message', '')}" if errors else ""
        return f"dockerd tried to pull {image} and failed{said}"
    return f"dockerd pulled it: POST /images/create {image}"


def _metadata(c: Claim) -> str:
    if c.why == "not-dockerd":
        w = c.basis["writers"][0]
        return f"written by {w.comm} (pid {w.pid}), not by dockerd: {w.detail.get('path')}"
    names = dict.fromkeys(str(e.detail.get("path", "")).rsplit("/", 1)[-1] for e in c.evidence)
    return f"dockerd wrote {', '.join(names)} under {_dir(c.evidence[0])}"


def _dir(ev: Event) -> str:
    return str(ev.detail.get("path", "")).rsplit("/", 1)[0]


def _containerd(c: Claim) -> str:
    if c.why == "grpc-client":
        calls = c.basis["calls"]
        return f"{calls[0].comm}, not dockerd, asked containerd over gRPC: {_calls(calls)}"
    if c.status == "missing":
        indirect = c.basis.get("indirect", ())
        seen = f"; only indirect evidence: {_who(indirect[0])}" if indirect else ""
        return (_unavailable(c) if c.why == "unavailable" else _missing(c)) + seen
    topics = " → ".join(str(e.detail.get("topic")) for e in c.evidence)
    return f"containerd's own events: {topics}"


def _who(ev: Event) -> str:
    return f"{ev.comm} (pid {ev.pid}) {describe(ev)}"


def _overlay(c: Claim) -> str:
    m = c.basis["mount"][0]
    layers = _layers(m.detail.get("data"))
    snaps = c.basis.get("snapshots", ())
    snap = f"; containerd's snapshot events: {len(snaps)}" if snaps else ""
    if c.why == "mounted-by":
        return f"{m.comm} (pid {m.pid}) mounted it, not containerd (overlay2 graph driver); " + (
            layers + snap
        )
    return f"{m.comm} (pid {m.pid}) mounted it; {layers}{snap}"


def _layers(data: Any) -> str:
    """`lowerdir=a:b,upperdir=u,workdir=w` -> how many image layers, which is the container's."""
    if not isinstance(data, str) or "lowerdir=" not in data:
        return "its layers were not recorded (no mount options in this recording)"
    opts = dict(p.split("=", 1) for p in data.split(",") if "=" in p)
    lower = [x for x in opts.get("lowerdir", "").split(":") if x]
    upper = opts.get("upperdir", "?")
    return f"{len(lower)} read-only layer(s) (lowerdir), its own writable layer {upper} (upperdir)"


def _runc(c: Claim) -> str:
    rc = c.basis["runc"][0]
    shim = c.basis.get("shim", ())
    via = f"{shim[0].comm} (pid {shim[0].pid})" if shim else "the shim"
    line = f"containerd does not run runc itself: {via} ran {describe(rc)}"
    specs = c.basis.get("spec", ())
    if not specs:
        return line + "; the config (its bundle's config.json) was not recorded"
    d = specs[0].detail
    if d.get("error"):
        return line + f"; config.json not read: {d['error']}"
    ns = ", ".join(str(n) for n in d.get("namespaces") or [])
    args = " ".join(str(a) for a in d.get("args") or [])
    return line + f"; config.json: namespaces {ns or '?'}, args {args or '?'}, root {d.get('root')}"


def _namespaces(c: Claim) -> str:
    parts = [f"{u.comm} (pid {u.pid}): {describe(u)}" for u in c.basis.get("unshare", ())]
    parts += [f"{e.comm} (pid {e.pid}): {describe(e)}" for e in c.basis.get("clone", ())]
    made = {f for e in c.evidence for f in e.detail.get("flag_names") or []}
    lacking = [f for f in ("CLONE_NEWPID", "CLONE_NEWNET", "CLONE_NEWNS") if f not in made]
    lacking += [f for f in ("CLONE_NEWUTS", "CLONE_NEWIPC") if f not in made]
    tail = f"; not created here: {short_flags(lacking)}" if lacking else ""
    if c.why == "unshare-then-clone":
        return "runc unshares, then clones: " + "; then ".join(parts) + tail
    return "; ".join(parts) + tail


def _cgroup(c: Claim) -> str:
    made, attached = c.basis.get("mkdir", ()), c.basis.get("attach", ())
    paths = list(dict.fromkeys(str(e.detail.get("path")) for e in made))
    line = f"mkdir {paths[0]} ({len(made)}×, one per hierarchy)" if paths else "no mkdir seen"
    if attached:
        a = attached[0]
        line += f"; pid {a.detail.get('pid')} attached to {a.detail.get('path')} by {a.comm}"
    if c.why == "made-by":
        other = c.basis["others"][0]
        line += f"; by {other.comm} (pid {other.pid}), not runc"
    return line


def _rootfs(c: Claim) -> str:
    mounts = c.basis.get("mounts", ())
    pivot = next(e for e in c.evidence if e.kind == "sys.pivot_root")
    return f"runc:[2:INIT] made {len(mounts)} mount(s), then {describe(pivot)}"


def _exec(c: Claim) -> str:
    return _who(c.evidence[0])


def _output(c: Claim) -> str:
    hops = c.basis
    named = {
        "container": "the container's write()",
        "fifo": "the shim's write into the FIFO",
        "dockerd": "dockerd's read of the FIFO",
        "frames": "the attach stream's frame",
    }
    if c.status == "missing":
        seen = [named[k] for k in named if hops.get(k)]
        not_seen = [named[k] for k in named if not hops.get(k)]
        tail = " (this recording has no write()/read() events)" if c.why == "not-recorded" else ""
        return f"only {', '.join(seen)} seen; not: {', '.join(not_seen)}{tail}"
    write, fifo, frame = hops["container"][0], hops["fifo"][0], hops["frames"][0]
    return (
        f"{write.comm} write(fd {write.detail.get('fd')}) → the shim (not containerd) copies it "
        f"into {fifo.detail.get('path') or 'the FIFO'} → dockerd reads it → the attach stream "
        f"(a hijacked connection, not an HTTP response body): "
        f"{excerpt(frame.detail.get('excerpt', ''))}"
    )


SAYS: dict[int, Callable[[Claim], str]] = {
    1: _cli,
    2: _socket,
    3: _cache,
    4: _pull,
    5: _metadata,
    6: _containerd,
    7: _overlay,
    8: _runc,
    9: _namespaces,
    10: _cgroup,
    11: _rootfs,
    12: _exec,
    13: _output,
}


def to_json(claim: Claim) -> dict[str, Any]:
    """One claim as `dockertrace run --json` prints it."""
    key = {"observed": "seen", "corrected": "how", "missing": "reason"}[claim.status]
    return {
        "number": claim.number,
        "story": story(claim),
        "status": claim.status,
        key: says(claim),
        "evidence": [e.to_dict() for e in claim.evidence],
    }


def lines(claims: Sequence[Claim]) -> list[str]:
    """The claims as the narration lists them."""
    out = []
    for c in claims:
        word = {"observed": "", "corrected": "corrected: ", "missing": "missing: "}[c.status]
        out.append(f"  {MARKS[c.status]} {c.number:>2} {story(c)}")
        out.append(f"       {word}{says(c)}")
    return out
