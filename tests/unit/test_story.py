"""The chain leaves the words out; tracer.text.story writes them and keeps everything else."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from tracer.chain import fold as chain
from tracer.record.format import read_recording
from tracer.text import story

ASSETS = Path(__file__).resolve().parents[2] / "assets"
WORDS = {"summary", "reason", "error", "facts", "label", "story", "observed"}


@pytest.mark.parametrize("name", sorted(p.name for p in ASSETS.glob("*.jsonl")))
def test_the_chain_writes_no_words_and_the_story_keeps_all_else(name: str) -> None:
    events = read_recording(ASSETS / name).events
    for bare, worded in zip(chain.runs(events), story.runs(events), strict=True):
        pairs = [
            *zip(bare.steps, worded.steps, strict=True),
            *zip(bare.hops, worded.hops, strict=True),
            *zip(bare.checks, worded.checks, strict=True),
        ]
        for before, after in pairs:
            for f in fields(before):
                if f.name in WORDS:
                    assert not getattr(before, f.name), f"the chain wrote {f.name}"
                else:
                    assert getattr(after, f.name) == getattr(before, f.name), f.name
        observed = [s for s in worded.steps if s.status == "observed"]
        assert observed and all(s.summary for s in observed)
        assert all(s.reason for s in worded.steps if s.status != "observed")
        assert all(h.label for h in worded.hops) and all(c.story for c in worded.checks)
