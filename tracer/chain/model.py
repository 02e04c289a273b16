"""What the chain folds events into: steps, hops, the container and the reality checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tracer.events import Event

StepStatus = Literal["observed", "skipped", "missing"]
ClaimStatus = Literal["observed", "corrected", "missing"]
Box = Literal["cli", "socket", "dockerd", "containerd", "shim", "runc", "kernel"]

BOXES: tuple[Box, ...] = ("cli", "socket", "dockerd", "containerd", "shim", "runc", "kernel")

STEP_TITLES: dict[int, str] = {
    1: "The CLI parses the command and builds HTTP requests",
    2: "HTTP travels over the Unix socket",
    3: "dockerd checks the image, writes the container, asks containerd",
    4: "containerd prepares the task and calls runc through the shim",
    5: "runc creates the namespaces and execs the process",
    6: "The kernel runs the command in the isolated environment",
    7: "The output travels back up to the terminal",
}


@dataclass(frozen=True)
class Step:
    """One of the seven steps, with the events that prove it (or why there are none)."""

    number: int
    status: StepStatus
    evidence: tuple[Event, ...] = ()
    summary: str = ""  # derived from the evidence: what was seen, in a line
    reason: str = ""  # for skipped and missing: why
    error: str = ""  # the step happened and failed (e.g. dockerd answered 404)
    facts: tuple[str, ...] = ()  # further lines derived from the evidence
    # When each piece of evidence counts for this step, where that is not the event's own time:
    # /wait's answer proves step 7 when its body (the exit status) comes, not at its 200 header.
    at_ns: tuple[int, ...] = ()
    # What the chain found, for tracer.text to put in words: why a step is missing or skipped
    # (a code, e.g. "no-probe") and the events each sentence is about, by name ("mounts": ...).
    why: str = ""
    basis: dict[str, tuple[Event, ...]] = field(default_factory=dict, compare=False, hash=False)

    @property
    def title(self) -> str:
        return STEP_TITLES[self.number]

    @property
    def times(self) -> tuple[int, ...]:
        """The evidence's times for this step, in the evidence's order."""
        return self.at_ns or tuple(ev.time_ns for ev in self.evidence)

    @property
    def start_ns(self) -> int | None:
        return min(self.times) if self.evidence else None

    @property
    def end_ns(self) -> int | None:
        return max(self.times) if self.evidence else None

    @property
    def duration_ns(self) -> int:
        if not self.evidence:
            return 0
        return max(self.times) - min(self.times)


@dataclass(frozen=True)
class Hop:
    """Something crossing from one box of the chain to another, at the time of its event."""

    src: Box
    dst: Box
    label: str  # what crossed, e.g. "POST /v1.41/containers/create"
    step: int
    event: Event
    at_ns: int | None = None  # when it crossed, if not the event's time (a response's last byte)

    @property
    def time_ns(self) -> int:
        return self.at_ns if self.at_ns is not None else self.event.time_ns


@dataclass(frozen=True)
class Check:
    """A place where the machine may differ from the simple story, settled by evidence."""

    name: str  # short id, e.g. "overlay-mount"
    story: str  # the simple story's claim being checked
    observed: str  # what the events show ("" when they show nothing)
    agrees: bool | None  # None: not enough evidence to say
    evidence: tuple[Event, ...] = ()
    # The events its sentence is about beyond the evidence, by name, for tracer.text.
    basis: dict[str, tuple[Event, ...]] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Claim:
    """One of the article's 13 claims about the chain, settled by the run's events (words for
    it in tracer.text.claims)."""

    number: int
    status: ClaimStatus
    evidence: tuple[Event, ...] = ()
    why: str = ""  # a code: how it was corrected, or why it is missing
    basis: dict[str, tuple[Event, ...]] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Container:
    """The container the run created, as far as the events tell."""

    id: str = ""
    image: str = ""
    command: tuple[str, ...] = ()
    exit_code: int | None = None
    output: str = ""  # stdout as it reached the client
    errors: str = ""  # stderr as it reached the client
    host_pid: int | None = None
    ns_pid: int | None = None
    ns_pid_how: str = ""  # how ns_pid is known, in words (tracer.text writes it from ns_pid_via)
    ns_pid_via: Event | None = None  # the proc.seen read from /proc, or the CLONE_NEWPID unshare


@dataclass(frozen=True)
class Trace:
    """One traced run: its events in time order and what they add up to."""

    steps: tuple[Step, ...]
    hops: tuple[Hop, ...]
    events: tuple[Event, ...]
    container: Container | None = None
    checks: tuple[Check, ...] = ()
    client_pid: int | None = None
    backend: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    claims: tuple[Claim, ...] = ()  # the article's 13 claims (tracer.chain.claims)

    @property
    def start_ns(self) -> int:
        return self.events[0].time_ns if self.events else 0

    def step(self, number: int) -> Step:
        return self.steps[number - 1]
