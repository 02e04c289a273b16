"""The words around the pictures: lane titles, what a diagram cannot show, a process's line."""

from __future__ import annotations

from tracer.chain.labels import exec_label
from tracer.chain.model import STEP_TITLES, Box, Trace
from tracer.chain.process_tree import Proc, ProcessTree
from tracer.chain.sequence import SequenceDiagram

LANE_TITLES: dict[Box, str] = {
    "cli": "docker CLI",
    "socket": "socket",
    "dockerd": "dockerd",
    "containerd": "containerd",
    "shim": "shim",
    "runc": "runc",
    "kernel": "kernel / container",
}
# the narrowest titles, for lanes a few columns wide (80×24)
LANE_SHORT: dict[Box, str] = {
    "cli": "cli",
    "socket": "sock",
    "dockerd": "dockerd",
    "containerd": "ctrd",
    "shim": "shim",
    "runc": "runc",
    "kernel": "kernel",
}


def lane_title(lane: Box, width: int) -> str:
    """The lane's title in at most `width` columns."""
    for title in (LANE_TITLES[lane], lane, LANE_SHORT[lane]):
        if len(title) <= width:
            return title
    return LANE_SHORT[lane][:width]


def step_heading(number: int) -> str:
    return f"step {number} · {STEP_TITLES.get(number, '')}"


def missing_lines(diagram: SequenceDiagram) -> list[str]:
    """What the diagram cannot show, and why: said beside it, never left for the reader to guess."""
    lines = []
    if not diagram.has_run:
        lines.append("No docker run in this recording: no API call reached the proxy.")
    if not diagram.has_kernel:
        lines.append("No kernel probe ran: processes, namespaces and mounts are not shown.")
    for number, reason in diagram.missing_steps:
        lines.append(f"Step {number}: {reason}.")
    if diagram.unknown:
        kinds = ", ".join(f"{kind} ({n})" for kind, n in diagram.unknown)
        lines.append(f"Events of kinds this version does not draw: {kinds}.")
    if not diagram.arrows:
        lines.append("Nothing to draw.")
    return lines


def story(trace: Trace, number: int | None) -> str:
    """The step's story in one short paragraph, from its evidence (the presenter's caption)."""
    if number is None:
        return "Press space to play the run, or ] to step through it."
    step = trace.step(number)
    head = f"Step {number}: {step.title}."
    if step.status != "observed":
        return f"{head} Not seen here: {step.reason or step.status}."
    said = step.summary.rstrip(".")
    # the first fact that says something the summary does not (step 5's repeats its unshare)
    more = next((f.rstrip(".") for f in step.facts if said.split(": ")[-1] not in f), "")
    return f"{head} Seen: {said}." + (f" {more}." if more else "")


def ms(ns: int | None) -> str:
    return "?" if ns is None else f"{ns / 1e6:.1f} ms"


def proc_line(p: Proc, tree: ProcessTree) -> str:
    """One process: names as they changed, pids, how it was made, how long it lived, its end."""
    names = " → ".join(p.names) if p.names else "?"
    parts = [f"{names}  pid {p.pid}"]
    if p.ns_pid is not None:
        how = "read from NSpid" if p.ns_pid_how == "NSpid" else "first process after NEWPID"
        parts.append(f"pid {p.ns_pid} in its namespace ({how})")
    if p.via:
        parts.append(p.via)
    execs = [ev for ev in p.events if ev.kind == "proc.exec"]
    if execs:
        parts.append(exec_label(execs[-1]))
    if p.lifetime_ns is not None:
        parts.append(f"lived {ms(p.lifetime_ns)}")
    if p.end_ns is not None:
        parts.append(f"killed by {p.signal}" if p.signal else f"exit {p.exit_code}")
    elif p.start_ns is not None:
        parts.append("still running at the end")
    if p.reaper is not None:
        held = tree.procs.get(p.reaper)
        who = f"{held.name} {held.pid}" if held else f"init (pid {p.reaper})"
        parts.append(f"re-parented to {who} when its parent exited")
    if p.threads:
        parts.append(f"+{p.threads} threads")
    return " · ".join(parts)


def proc_now(p: Proc, time_ns: int) -> str:
    """A process as it stands at the playhead: its names so far, pids, alive or how it ended."""
    names = " → ".join(p.names_by(time_ns) or p.names[:1]) or "?"
    ns = f" (pid {p.ns_pid} inside)" if p.ns_pid is not None else ""
    line = f"{names}  {p.pid}{ns}"
    if p.end_ns is not None and p.end_ns <= time_ns:
        end = f"killed by {p.signal}" if p.signal else f"exit {p.exit_code}"
        lived = f" after {ms(p.lifetime_ns)}" if p.lifetime_ns is not None else ""
        return f"{line} · {end}{lived}"
    return f"{line} · running"
