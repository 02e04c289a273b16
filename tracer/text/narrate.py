"""A Trace as narrated plain text (for terminals, CI and screen readers) or as one JSON object."""

from __future__ import annotations

from typing import Any

from tracer.chain.model import Trace
from tracer.text import claims as claims_text
from tracer.text.describe import describe, printable

MARKS = {"observed": "✓", "skipped": "–", "missing": "✗"}
EVIDENCE_SHOWN = 6


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.1f} ms"


def narrate(trace: Trace, *, evidence: bool = True) -> str:
    out: list[str] = []
    c = trace.container
    if c is not None:
        cmd = " ".join(c.command)
        status = "?" if c.exit_code is None else str(c.exit_code)
        out.append(
            f"container {c.id[:12] or '(not created)'}  image {c.image or '?'}  "
            f"command {cmd or '?'}  exit {status}"
        )
        if c.output:
            out.append("output: " + c.output.rstrip("\n").replace("\n", "\n        "))
        if c.errors:
            out.append("stderr: " + c.errors.rstrip("\n").replace("\n", "\n        "))
    out.append(f"probe backend: {trace.backend or 'unknown'}")
    out.append("")
    t0 = trace.start_ns
    for s in trace.steps:
        mark = MARKS[s.status]
        when = f"+{_ms(s.start_ns - t0)} ({_ms(s.duration_ns)})" if s.start_ns is not None else ""
        out.append(f"{s.number} {mark} {s.title}  {when}".rstrip())
        if s.status == "observed":
            out.append(f"    {s.summary}")
        else:
            out.append(f"    {s.status}: {s.reason}")
        if s.error:
            out.append(f"    error: {s.error}")
        for fact in s.facts:
            out.append(f"    · {fact}")
        if evidence:
            for ev, at in list(zip(s.evidence, s.times, strict=True))[:EVIDENCE_SHOWN]:
                who = f"{ev.comm or '?'}[{ev.pid}]"
                out.append(f"      +{_ms(at - t0):>9}  {ev.layer:<10} {who:<22} {describe(ev)}")
            more = len(s.evidence) - EVIDENCE_SHOWN
            if evidence and more > 0:
                out.append(f"      … {more} more")
    if trace.checks:
        out.append("")
        out.append("Reality checks (the simple story, and what this machine did):")
        for ch in trace.checks:
            verdict = {True: "as the story says", False: "differs", None: "not observed"}
            out.append(f"  story: {ch.story}  [{verdict[ch.agrees]}]")
            if ch.observed:
                out.append(f"  seen:  {ch.observed}")
    if trace.claims:
        out.append("")
        out.append("The article's claims, and what this run showed:")
        out += claims_text.lines(trace.claims)
    return printable("\n".join(out))


def to_json(trace: Trace) -> dict[str, Any]:
    c = trace.container
    return {
        "steps": [
            {
                "number": s.number,
                "title": s.title,
                "status": s.status,
                "summary": s.summary,
                "reason": s.reason,
                "error": s.error,
                "facts": list(s.facts),
                "start_ns": s.start_ns,
                "duration_ns": s.duration_ns,
                "evidence": [e.to_dict() for e in s.evidence],
            }
            for s in trace.steps
        ],
        "hops": [
            {"src": h.src, "dst": h.dst, "label": h.label, "step": h.step, "time_ns": h.time_ns}
            for h in trace.hops
        ],
        "container": None
        if c is None
        else {
            "id": c.id,
            "image": c.image,
            "command": list(c.command),
            "exit_code": c.exit_code,
            "output": c.output,
            "stderr": c.errors,
            "host_pid": c.host_pid,
            "ns_pid": c.ns_pid,
            "ns_pid_how": c.ns_pid_how,
        },
        "backend": trace.backend,
        "checks": [
            {"name": ch.name, "story": ch.story, "observed": ch.observed, "agrees": ch.agrees}
            for ch in trace.checks
        ],
        "claims": [claims_text.to_json(c) for c in trace.claims],
        "client_pid": trace.client_pid,
    }


def run_outcome(returncode: int, stdout: str, stderr: str) -> str:
    """How a live run ended, as the app's banner and the classroom page both say it."""
    out = (stdout + stderr).strip().replace("\n", "⏎ ")
    return f"docker exited {returncode}; printed: {out or '(nothing)'}"
