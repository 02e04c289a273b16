"""The chain's fold in words: step summaries, facts and reasons, hop labels, check sentences."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace

from tracer.chain import fold as chain
from tracer.chain.model import Check, Hop, Step, Trace
from tracer.chain.runs import endpoint_of
from tracer.events import Event
from tracer.text.describe import describe, short_flags, short_ids


def runs(events: Iterable[Event], backend: str = "", claims: bool = True) -> list[Trace]:
    """Every run in the events, in order of start, in words."""
    return [word(t) for t in chain.runs(events, backend, claims)]


def fold(
    events: Iterable[Event], backend: str = "", claims: bool = True, said: Said | None = None
) -> Trace:
    """The main run in the events (the one that created a container, else the first), in words
    (`said`: the words of the fold before, for a live run that folds again at every batch)."""
    return word(chain.fold(events, backend, claims), said)


def word(trace: Trace, said: Said | None = None) -> Trace:
    """The trace with the words the chain leaves out written in."""
    container = trace.container
    if container is not None and container.ns_pid_via is not None:
        container = replace(container, ns_pid_how=ns_pid_words(container.ns_pid_via)[1])
    word_step = _word_step if said is None else said.step
    word_hop = _word_hop if said is None else said.hop
    return replace(
        trace,
        steps=tuple(word_step(s) for s in trace.steps),
        hops=tuple(word_hop(h) for h in trace.hops),
        checks=tuple(_word_check(c) for c in trace.checks),
        container=container,
    )


def _same(a: tuple[Event, ...], b: tuple[Event, ...]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


class Said:
    """The words of a live run's last fold, for its next: at every batch most of its steps and
    hops are what they were (the same events, found the same way), and wording them again was
    a third of each fold. A step's words come from its status, reasons and events alone, a
    hop's from its event, step and receiver; those are compared, by identity."""

    def __init__(self) -> None:
        self._steps: dict[int, tuple[Step, Step]] = {}  # number -> (as folded, worded)
        self._hops: dict[int, tuple[Event, int, str, str]] = {}  # id(event) -> it, step, dst, label

    def step(self, step: Step) -> Step:
        last = self._steps.get(step.number)
        if last is not None:
            was, worded = last
            if (
                (was.status, was.why, was.at_ns) == (step.status, step.why, step.at_ns)
                and _same(was.evidence, step.evidence)
                and was.basis.keys() == step.basis.keys()
                and all(_same(was.basis[k], step.basis[k]) for k in step.basis)
            ):
                return _step(step, worded.summary, worded.facts, worded.reason, worded.error)
        worded = _word_step(step)
        self._steps[step.number] = (step, worded)
        return worded

    def hop(self, h: Hop) -> Hop:
        last = self._hops.get(id(h.event))
        if last is not None and last[0] is h.event and last[1:3] == (h.step, h.dst):
            return Hop(h.src, h.dst, last[3], h.step, h.event, h.at_ns)
        worded = _word_hop(h)
        self._hops[id(h.event)] = (h.event, h.step, h.dst, worded.label)
        return worded


NEVER = "never happened: the run stopped at step 3 (dockerd's error)"

REASONS = {
    "no-request": "no request reached the proxy",
    "no-connection": "the proxy saw no connection",
    "no-answer": "dockerd's answer was not seen",
    "never": NEVER,
    "no-container": "this command created no container",
    "no-probe": "no kernel probe ran (proxy only): not observable",
    "no-output": "no output or exit status came back",
}

NOT_SEEN = {
    4: "no exec of containerd-shim or runc create",
    5: "no namespace-creating unshare or clone",
    6: "no exec of the container's command",
}


def _reason(step: Step) -> str:
    if step.why == "not-seen":
        return f"not seen: {NOT_SEEN[step.number]}"
    if step.why == "wait-cut":
        frames = step.basis.get("frames", ())
        seen = f"; {len(frames)} output frame(s) had come back" if frames else ""
        return "the exit status never came back: /wait was cut short" + seen
    return REASONS.get(step.why, step.why)


def _word_step(step: Step) -> Step:
    if step.status != "observed":
        cut = step.why == "wait-cut"
        error = "the daemon's answer to /wait ended without a StatusCode" if cut else ""
        return _step(step, "", (), _reason(step), error)
    summary, facts = SUMMARIES[step.number](step)
    error = failure(step.basis["failure"][0]) if step.basis.get("failure") else ""
    return _step(step, summary, tuple(facts), "", error)


# Made anew, not with dataclasses.replace: a live run folds (and words) at every batch, and
# replace() made the live folds 60% slower (tests/unit/test_story.py checks no field is lost).
def _step(step: Step, summary: str, facts: tuple[str, ...], reason: str, error: str) -> Step:
    return Step(
        number=step.number,
        status=step.status,
        evidence=step.evidence,
        summary=summary,
        reason=reason,
        error=error,
        facts=facts,
        at_ns=step.at_ns,
        why=step.why,
        basis=step.basis,
    )


def _word_hop(h: Hop) -> Hop:
    return Hop(h.src, h.dst, hop_label(h), h.step, h.event, h.at_ns)


Words = tuple[str, list[str]]


def _client(step: Step) -> Words:
    requests = step.basis["requests"]
    calls = short_ids(" → ".join(f"{e.detail.get('method')} {endpoint_of(e)}" for e in requests))
    facts = []
    for create in step.basis["create"]:
        body = create.detail.get("body_json")
        if isinstance(body, dict):
            facts.append(f"create body: Image {body.get('Image')!r}, Cmd {body.get('Cmd')!r}")
    return f"the client sent: {calls}", facts


def _socket(step: Step) -> Words:
    accepts, connects = step.basis["accepts"], step.basis["connects"]
    a = accepts[0].detail
    summary = (
        f"{len(accepts)} connection(s) from pid {a.get('peer_pid')} ({a.get('peer_comm')}), "
        f"uid {a.get('peer_uid')} (SO_PEERCRED)"
    )
    paths = [
        f"{n}× connect({p})" if n > 1 else f"connect({p})"
        for p, n in Counter(str(e.detail.get("path")) for e in connects).items()
    ]
    return summary, paths


def _dockerd(step: Step) -> Words:
    answers, pulls, mounts = step.basis["answers"], step.basis["pulls"], step.basis["mounts"]
    facts = []
    if pulls:
        img = pulls[0].detail.get("query", {}).get("fromImage", "")
        how = "tried to pull it, and failed" if step.basis["failure"] else "pulled it"
        facts.append(f"the image was not here: dockerd {how} (POST /images/create {img})")
    elif answers and answers[0].detail.get("status") == 201:
        facts.append("image was cached: no pull")
    for target in dict.fromkeys(str(m.detail.get("target")) for m in mounts):
        m = next(m for m in mounts if m.detail.get("target") == target)
        facts.append(short_ids(f"{m.comm} (pid {m.pid}) mounted overlay on {target}"))
    summary = "; ".join(describe(e) for e in answers[-1:]) or describe(step.evidence[0])
    return summary, facts


def _runtime(step: Step) -> Words:
    return "; ".join(describe(e) for e in step.basis["shim"] + step.basis["runc"]), []


def _namespaces(step: Step) -> Words:
    (ns,) = step.basis["ns"]
    facts = [f"{e.comm} (pid {e.pid}): {describe(e)}" for e in step.basis["stages"]]
    facts += [describe(e) for e in step.basis["pivots"]]
    return f"{ns.comm}: {describe(ns)}", facts


def _command(step: Step) -> Words:
    cmd = step.evidence[0]
    facts = []
    for via in step.basis["ns_pid"]:
        ns_pid, how = ns_pid_words(via)
        facts.append(f"host pid {cmd.pid}, pid {ns_pid} in its namespace ({how})")
    return describe(cmd), facts


def _output(step: Step) -> Words:
    if not step.basis:
        return describe(step.evidence[-1]), []
    frames, waits = step.basis["frames"], step.basis["waits"]
    return "; ".join(describe(e) for e in frames[:2] + waits[:1]), []


SUMMARIES: dict[int, Callable[[Step], Words]] = {
    1: _client,
    2: _socket,
    3: _dockerd,
    4: _runtime,
    5: _namespaces,
    6: _command,
    7: _output,
}


def hop_label(hop: Hop) -> str:
    """What crossed, in a line: the event's own line, but for the fork that makes the shim."""
    if hop.step == 4 and hop.dst == "containerd":
        return f"containerd (pid {hop.event.pid}) forks for the shim"
    return describe(hop.event)


def failure(ev: Event) -> str:
    """The daemon's last word when the run failed: an HTTP error, or an error inside a stream."""
    if ev.kind == "stream.error":
        return f"dockerd reported inside a 200 stream: {ev.detail.get('message', '')}"
    body = ev.detail.get("body_json")
    msg = body.get("message", "") if isinstance(body, dict) else ev.detail.get("body_excerpt", "")
    return f"dockerd answered HTTP {ev.detail.get('status')} to {endpoint_of(ev)}: {msg}".strip()


def ns_pid_words(via: Event) -> tuple[int, str]:
    """The pid inside the namespace that the event tells, and how it tells it."""
    if via.kind == "proc.seen":
        return int(via.detail["nspid"][-1]), "read from NSpid in /proc"
    how = f"the first process cloned after {via.comm} unshared CLONE_NEWPID"
    return 1, how + ", so pid 1 of that namespace"


STORIES = {
    "overlay-mount": "containerd sets up the OverlayFS root filesystem",
    "namespaces": "runc calls clone() with the namespace flags",
    "pid-namespace": "the container's process is pid 1 inside, another pid on the host",
    "parent": "runc is the container process's parent",
    "api-order": "docker run creates the container, then starts it",
}


def _word_check(check: Check) -> Check:
    observed = OBSERVED[check.name](check) if check.evidence else ""
    return Check(
        check.name, STORIES[check.name], observed, check.agrees, check.evidence, check.basis
    )


def _seen_mount(check: Check) -> str:
    (m,) = check.evidence
    return short_ids(f"{m.comm} (pid {m.pid}) mounted overlay on {m.detail.get('target')}")


def _seen_namespaces(check: Check) -> str:
    parts = [
        f"{e.comm} (pid {e.pid}) called unshare({short_flags(e.detail.get('flag_names'))})"
        if e.kind == "sys.unshare"
        else f"{e.comm} (pid {e.pid}) called {describe(e)}"
        for e in check.evidence
    ]
    return "; then ".join(parts)


def _seen_pid(check: Check) -> str:
    (cmd,) = check.evidence
    ns_pid, how = ns_pid_words(check.basis["ns_pid"][0])
    return f"{cmd.comm}: host pid {cmd.pid}, pid {ns_pid} inside ({how})"


def _seen_parent(check: Check) -> str:
    rc_exit, cmd = check.evidence
    ms = (cmd.time_ns - rc_exit.time_ns) / 1e6
    return (
        f"runc create (pid {rc_exit.pid}) exited {ms:.1f} ms before {cmd.comm} ran: the "
        "process outlives runc; the shim stays to wait for it"
    )


def _seen_order(check: Check) -> str:
    order = [endpoint_of(e) for e in check.evidence]
    return short_ids("the CLI attached before it started: " + " → ".join(order))


OBSERVED: dict[str, Callable[[Check], str]] = {
    "overlay-mount": _seen_mount,
    "namespaces": _seen_namespaces,
    "pid-namespace": _seen_pid,
    "parent": _seen_parent,
    "api-order": _seen_order,
}
