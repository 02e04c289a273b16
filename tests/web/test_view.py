"""The view the page draws: the app's own playhead at every event, the fold's steps and hops."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracer.chain.scene import event_steps, scene_at
from tracer.chain.sequence import sequence
from tracer.record.format import read_recording
from tracer.text.story import fold
from tracer.tui.source import fold_events
from tracer.web.view import make_view

ASSETS = Path(__file__).resolve().parents[2] / "assets"
RECORDINGS = sorted(ASSETS.glob("*.jsonl"))


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.name)
def test_every_frame_is_what_the_app_shows_there(path: Path) -> None:
    rec = read_recording(path)
    backend = str(rec.header.get("backend", ""))
    view = make_view(rec.events, backend)
    trace = fold_events(rec.events, backend)
    steps = event_steps(trace)
    assert len(view["frames"]) == len(trace.events) + 1
    for position in range(-1, len(trace.events)):
        scene = scene_at(trace, position, steps)
        step, hop, boxes, marks = view["frames"][position + 1]
        assert step == (scene.current_step or 0)
        assert (view["hops"][hop]["label"] if hop >= 0 else None) == (
            scene.hop.label if scene.hop else None
        )
        assert view["box_states"][boxes] == [[b.pid, b.state, b.note] for b in scene.boxes]
        assert view["step_states"][marks] == [[s.shown, s.offset_ns] for s in scene.steps]


def test_events_are_named_by_their_index_and_the_view_is_json() -> None:
    rec = read_recording(ASSETS / "run-echo-hi.jsonl")
    view = make_view(rec.events, "bcc")
    trace = fold_events(rec.events, "bcc")
    assert [rec.events[i] for i in view["order"]] == list(trace.events)
    create = next(h for h in view["hops"] if "containers/create" in h["label"])
    assert rec.events[view["order"][create["pos"]]].kind == "http.request"
    for step, s in zip(view["steps"], trace.steps, strict=True):
        assert [trace.events[p] for p in step["evidence"]] == list(s.evidence)
    assert len(view["lines"]) == len(trace.events)
    json.dumps(view)  # what the server sends as it is
    assert view["failure"] is None


def test_a_failed_run_says_where_with_its_layer() -> None:
    rec = read_recording(ASSETS / "run-missing-image.jsonl")
    failure = make_view(rec.events, "bcc")["failure"]
    assert failure["step"] == 3 and failure["layer"] == "dockerd"
    assert "not found" in failure["error"]


def test_no_events_no_run_yet() -> None:
    view = make_view([], "")
    assert [s["status"] for s in view["steps"]] == ["missing"] * 7
    assert view["frames"] == [[0, -1, 0, 0]]


def test_the_view_has_the_claims_and_the_sequence_the_chain_folded() -> None:
    rec = read_recording(ASSETS / "run-echo-hi.jsonl")
    view = make_view(rec.events, "bcc")
    trace = fold(rec.events, backend="bcc")
    assert [c["number"] for c in view["claims"]] == list(range(1, 14))
    assert [c["status"] for c in view["claims"]] == [c.status for c in trace.claims]
    for claim, c in zip(view["claims"], trace.claims, strict=True):
        assert claim["observed"] or c.status == "missing"
        assert len(claim["evidence"]) == len(c.evidence)
    arrows = sequence(trace).arrows
    messages = view["sequence"]["messages"]
    assert [(m["src"], m["dst"], m["label"]) for m in messages] == [
        (a.src, a.dst, a.label) for a in arrows
    ]
    positions = [m["pos"] for m in messages]
    assert positions == sorted(positions) and positions[0] == 0
    assert all(p < len(trace.events) for p in positions)
