"""The one picker: the best probe backend this host offers, and whether live tracing can run."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from tracer.events import EventSink
from tracer.probes.base import (
    BACKENDS,
    BackendChoice,
    BackendUnavailable,
    EventSource,
    HostFacts,
    host_facts,
    judge,
)
from tracer.probes.bcc.probe import BccSource
from tracer.probes.procs import ProcSource
from tracer.probes.tracefs.probe import TracefsSource
from tracer.sources.doctor import Check, Report, diagnose

__all__ = ["BACKENDS", "BackendChoice", "BackendUnavailable", "EventSource"]  # for front ends

# What a live run needs, whichever front end makes it. The kernel backends are not among them:
# without bcc or tracefs the proc backend still traces the CLI, the API and the daemons live, and
# the steps only the kernel shows are marked missing on screen, with why.
LIVE_NEEDS = ("docker CLI", "socket", "daemon", "privileges")


@dataclass(frozen=True)
class LiveVerdict:
    """Whether live tracing can run here and, when not, which checks failed."""

    report: Report
    failed: tuple[Check, ...] = field(default=())

    @property
    def possible(self) -> bool:
        return not self.failed

    @property
    def reason(self) -> str | None:
        """Each failed check in a few words, or None when live tracing can run."""
        return "; ".join(f"{c.name}: {c.found}" for c in self.failed) or None

    @property
    def needs_root(self) -> bool:
        return any(c.name == "privileges" for c in self.failed)


def verdict(report: Report) -> LiveVerdict:
    """The one definition of "live tracing is possible", applied to the doctor's checks."""
    return LiveVerdict(report, tuple(c for c in report.checks if not c.ok and c.name in LIVE_NEEDS))


def live_verdict() -> LiveVerdict:
    """Check this machine (without loading a BPF program, ~0.2 s) and judge it."""
    return verdict(diagnose(load_bcc=False))


def why_not_live() -> str | None:
    """Why live tracing cannot run here, or None when it can."""
    return live_verdict().reason


def make_source(name: str) -> EventSource:
    """A new, not yet started, source of the named backend."""
    if name == "bcc":
        return BccSource()
    if name == "tracefs":
        return TracefsSource()
    if name == "proc":
        return ProcSource()
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


def choose_backend(
    forced: str | None = None,
    facts: HostFacts | None = None,
    make: Callable[[str], EventSource] = make_source,
) -> tuple[EventSource, list[BackendChoice]]:
    """The best backend that can run here (or the forced one), and the verdict on each."""
    choices = judge(facts or host_facts())
    if forced is not None:
        if forced not in BACKENDS:
            raise ValueError(f"unknown backend {forced!r}; choose one of {', '.join(BACKENDS)}")
        choice = next(c for c in choices if c.name == forced)
        if not choice.usable:
            raise BackendUnavailable(f"backend {forced!r} cannot run here: {choice.reason}")
        return make(forced), choices
    best = next(c for c in choices if c.usable)
    return make(best.name), choices


def start_best(
    sink: EventSink | None = None,
    seed_pids: Sequence[int] = (),
    forced: str | None = None,
    facts: HostFacts | None = None,
    begun: tuple[EventSource, list[BackendChoice]] | None = None,
    make: Callable[[str], EventSource] = make_source,
) -> tuple[EventSource, list[BackendChoice]]:
    """choose_backend() (or take what `begun` chose and prepared) then start(); without
    `forced`, a backend that fails to start (a program the verifier refuses, say) gives way to
    the next one, and its choice says why. `make` makes a backend's source (tests: stand-ins)."""
    source, choices = begun or choose_backend(forced, facts=facts, make=make)
    chosen = forced or next(c.name for c in choices if c.usable)
    i = [c.name for c in choices].index(chosen)
    while True:
        try:
            source.start(sink, seed_pids)
            return source, choices
        except BackendUnavailable as e:
            source.close()
            if forced is not None:
                raise
            choices[i] = BackendChoice(choices[i].name, False, str(e))
            i = next((n for n in range(i + 1, len(choices)) if choices[n].usable), -1)
            if i < 0:
                reasons = "; ".join(c.reason for c in choices)
                raise BackendUnavailable(f"no backend could start: {reasons}") from e
            source = make(choices[i].name)


def begin_best(
    forced: str | None = None, facts: HostFacts | None = None
) -> tuple[EventSource, list[BackendChoice]]:
    """The first half of start_best(): choose, and let the choice prepare in the background
    (bcc compiles for most of a second) while the caller does its own start-up; then
    `start_best(sink, seed_pids, forced, begun=...)`. Close the source if you never start it."""
    source, choices = choose_backend(forced, facts=facts)
    source.prepare()
    return source, choices


def describe(choices: Iterable[BackendChoice], chosen: str) -> str:
    """One line per backend: which one runs, and why the better ones do not."""
    lines = []
    for c in choices:
        mark = "→" if c.name == chosen else ("✓" if c.usable else "✗")
        lines.append(f"{mark} {c.name:<8} {c.reason}")
    return "\n".join(lines)
