"""Where the app's trace comes from: a recording file, folded by the chain, or an empty start."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracer.chain.model import STEP_TITLES, Step, Trace
from tracer.events import Event
from tracer.record.format import Problem, read_recording
from tracer.text.story import Said, fold

ASSETS = Path(__file__).resolve().parents[2] / "assets"
BUNDLED_NAMES = ("run-echo-hi.jsonl",)


def bundled_recording() -> Path | None:
    """The demo recording shipped in assets/, if this checkout has one."""
    for name in BUNDLED_NAMES:
        path = ASSETS / name
        if path.is_file():
            return path
    return None


def fold_events(
    events: list[Event], backend: str = "", claims: bool = True, said: Said | None = None
) -> Trace:
    """The chain's fold of the main run in the events (an empty trace when there is none);
    `said`: the words of a live run's last fold (tracer.text.story.Said)."""
    if not events:
        return empty_trace(backend)
    # kernel events alone make one run
    return fold(events, backend=backend, claims=claims, said=said)


def empty_trace(backend: str = "") -> Trace:
    return Trace(
        steps=tuple(Step(n, "missing", reason="nothing traced yet") for n in STEP_TITLES),
        hops=(),
        events=(),
        backend=backend,
    )


@dataclass
class Loaded:
    """A trace with the header and file it came from."""

    trace: Trace
    header: dict[str, Any] = field(default_factory=dict)
    path: str = ""
    problems: list[Problem] = field(default_factory=list)

    @property
    def events(self) -> list[Event]:
        return list(self.trace.events)

    @property
    def name(self) -> str:
        return os.path.basename(self.path) if self.path else ""


def load(path: str | os.PathLike[str]) -> Loaded:
    """Read and fold a recording (raises RecordingError when it cannot be read)."""
    rec = read_recording(path)
    backend = str(rec.header.get("backend", ""))
    return Loaded(fold_events(rec.events, backend), rec.header, str(path), rec.problems)
