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


@pytest.mark.parametrize("name", ["run-echo-hi.jsonl", "run-pull.jsonl", "two-runs.jsonl"])
def test_a_live_runs_words_kept_from_fold_to_fold_are_the_words_written_anew(name: str) -> None:
    rec = read_recording(ASSETS / name)
    # the proxy's events a moment late, as a live run gets them: steps change behind its end
    came = sorted(rec.events, key=lambda e: e.time_ns + (15_000_000 if e.source == "proxy" else 0))
    said = story.Said()
    for end in range(10, len(came) + 10, 10):
        bare = chain.fold(sorted(came[:end], key=lambda e: e.time_ns), claims=False)
        kept, anew = story.word(bare, said), story.word(bare)
        assert kept.steps == anew.steps and kept.hops == anew.hops
        assert [s.basis for s in kept.steps] == [s.basis for s in anew.steps]
        for a, b in zip(kept.steps, bare.steps, strict=True):  # the fold's own events
            assert a.evidence is b.evidence and a.basis is b.basis
