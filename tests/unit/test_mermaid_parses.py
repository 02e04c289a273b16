"""The Mermaid we write is accepted by Mermaid itself (npm's mermaid in headless Chromium)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import need
from tests.unit import mermaid_check
from tracer.chain.model import Trace
from tracer.chain.sequence import sequence
from tracer.cli.diagram import trace_of
from tracer.events import Event
from tracer.pictures.mermaid import mermaid
from tracer.record.format import read_recording

ASSETS = Path(__file__).resolve().parents[2] / "assets"
RECORDINGS = ("run-echo-hi", "run-pull", "run-missing-image", "two-runs")
BROKEN = "sequenceDiagram\n    cli->>: nothing after the arrow\n"


def diagram_of(name: str) -> str:
    rec = read_recording(ASSETS / f"{name}.jsonl")
    return mermaid(sequence(trace_of(rec.events, "bcc")))


def awkward() -> str:
    """Labels with the characters Mermaid reads as syntax: ; # < > : and a newline."""
    detail = {"filename": "/bin/sh", "argv": ["sh", "-c", "a; b # c <d> e:f\nnext"]}
    ev = Event(1, "bpf", "container", "proc.exec", 7, 7, 1, "sh", detail)
    steps = trace_of([], "").steps
    return mermaid(sequence(Trace(steps=steps, hops=(), events=(ev,))))


def test_every_bundled_diagram_parses_and_broken_text_does_not() -> None:
    need(mermaid_check.missing() is None, str(mermaid_check.missing()))
    texts = [diagram_of(n) for n in RECORDINGS] + [
        awkward(),
        mermaid(sequence(trace_of([], ""))),
        BROKEN,
    ]
    results = mermaid_check.check(texts)
    names = [*RECORDINGS, "awkward labels", "empty recording", "broken (control)"]
    assert dict(zip(names[:-1], results[:-1], strict=True)) == dict.fromkeys(names[:-1], "ok")
    # the control: the check really parses, it does not say ok to anything
    assert results[-1].startswith("error: Parse error on line 2"), results[-1]


@pytest.mark.parametrize("name", RECORDINGS[:1])
def test_the_diagram_has_a_line_per_arrow_and_a_note_per_step(name: str) -> None:
    text = diagram_of(name)
    lines = text.splitlines()
    rec = read_recording(ASSETS / f"{name}.jsonl")
    arrows = sequence(trace_of(rec.events, "bcc")).arrows
    steps = [line for line in lines if line.startswith("    Note over cli,kernel: step ")]
    assert len(steps) == 7
    assert len(lines) == 1 + 7 + len(steps) + len(arrows)
