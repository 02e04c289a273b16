"""The scene at a playhead: which box is lit, which steps are observed, which hop is active."""

from __future__ import annotations

from tests.tui.builders import make_trace, run_events
from tracer.text.describe import describe
from tracer.tui.scene import event_steps, scene_at


def test_before_the_start_nothing_is_lit_and_every_step_pending() -> None:
    scene = scene_at(make_trace(), -1)
    assert scene.hop is None and scene.active_boxes == ()
    assert {s.shown for s in scene.steps} == {"pending"}


def test_steps_become_observed_as_the_playhead_reaches_their_evidence() -> None:
    trace = make_trace()
    shown = event_steps(trace)
    assert shown == [1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 5, 5, 5, 6, 6, 7, 7, 7]
    starts = {1: 0, 2: 1, 3: 4, 4: 8, 5: 10, 6: 15, 7: 17}
    for number, index in starts.items():
        scene = scene_at(trace, index)
        observed = [s.number for s in scene.steps if s.shown == "observed"]
        assert observed == list(range(1, number + 1))
        assert scene.current_step == number


def test_the_active_hop_lights_its_two_boxes_with_live_pids() -> None:
    trace = make_trace()
    scene = scene_at(trace, 11)  # runc:[1:CHILD] unshare
    assert scene.hop is not None and scene.hop.label.startswith("unshare(NEWNS")
    assert set(scene.active_boxes) == {"runc", "kernel"}
    assert scene.box("runc").pid == 5122
    assert scene.box("shim").state == "seen" and scene.box("shim").pid == 5100
    assert scene.box("socket").note == "2 req"


def test_exit_is_shown_on_the_box() -> None:
    scene = scene_at(make_trace(), len(run_events()) - 1)
    assert scene.finished
    assert scene.box("cli").note == "exit 0"


def test_missing_steps_are_shown_missing_once_the_playhead_passes_them() -> None:
    trace = make_trace(missing=(5, 6))
    assert scene_at(trace, 9).steps[4].shown == "pending"
    end = scene_at(trace, len(trace.events) - 1)
    assert [s.shown for s in end.steps][4:6] == ["missing", "missing"]


def test_describe_says_what_crossed() -> None:
    evs = run_events()
    assert describe(evs[3]) == "POST /v1.41/containers/create"
    assert describe(evs[11]) == "unshare(NEWNS|NEWUTS|NEWIPC|NEWPID|NEWNET)"
    assert describe(evs[17]) == 'stdout "hi\\n" (3 B)'
    assert describe(evs[5]).startswith("201 Created")


def test_a_trace_without_evidence_shows_no_step() -> None:
    trace = make_trace(missing=(1, 2, 3, 4, 5, 6, 7))
    assert event_steps(trace) == [None] * len(trace.events)
    assert scene_at(trace, 5).current_step is None
