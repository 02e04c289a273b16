"""The bundled lessons validate; selectors, output checks and questions match as documented."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tracer.events import Event
from tracer.lessons.files import lesson_files, load, load_all, validate
from tracer.lessons.model import (
    APP_ACTIONS,
    LESSONS_DIR,
    OutputCheck,
    Question,
    Selector,
    judge,
    parse_selector,
)
from tracer.record.format import read_recording
from tracer.sources.lesson_stage import APP_ACTIONS as LIVE_ACTIONS

REPLAYABLE = {1, 2, 3, 4, 6}


def ev(kind: str = "proc.exec", comm: str = "runc", pid: int = 7, **detail: Any) -> Event:
    return Event(
        time_ns=1, source="bpf", layer="runc", kind=kind, pid=pid, comm=comm, detail=detail
    )


def sel(text: str) -> Selector:
    return Selector(text, 1, parse_selector(text))


@pytest.mark.parametrize("path", lesson_files(), ids=lambda p: p.name)
def test_every_bundled_lesson_validates(path: Path) -> None:
    assert validate(path) == []
    lesson = load(path)
    assert lesson.steps and lesson.goal and lesson.duration_min > 0
    assert all(s.narration for s in lesson.steps)


def test_the_seven_lessons_of_the_issue_in_order() -> None:
    lessons = load_all()
    assert [lesson.number for lesson in lessons] == [1, 2, 3, 4, 5, 6, 7]
    assert [lesson.title for lesson in lessons] == [
        "The moving parts",
        "Talk to the daemon yourself",
        "The full chain",
        "When the daemon is down",
        "A remote daemon",
        "Kubernetes skips dockerd",
        "Many clients, one daemon",
    ]
    assert {lesson.number for lesson in lessons if "replay" in lesson.needs} == REPLAYABLE


# record.py reads with str.splitlines(), which also splits at U+0085/U+2028/U+2029; an event
# whose excerpt holds one (lesson 6's `docker save` tar stream does) is read as two bad lines.
# Strict: this fails as soon as the reader is fixed, so that the mark is removed.
@pytest.mark.parametrize("number", sorted(REPLAYABLE))
def test_replayable_recordings_read_without_problems(number: int) -> None:
    lesson = next(x for x in load_all() if x.number == number)
    assert lesson.recording_path is not None
    assert read_recording(lesson.recording_path).problems == []


@pytest.mark.parametrize("number", sorted(REPLAYABLE))
def test_replayable_lessons_have_a_recording_of_every_step(number: int) -> None:
    lesson = next(x for x in load_all() if x.number == number)
    assert lesson.recording_path is not None
    rec = read_recording(lesson.recording_path)
    assert rec.header["lesson"] == number
    recorded = {s["number"] for s in rec.header["lesson_steps"]}
    assert recorded == {s.number for s in lesson.steps if s.action is not None}


def test_readme_example_is_a_valid_lesson(tmp_path: Path) -> None:
    readme = (LESSONS_DIR / "README.md").read_text()
    example = re.search(r"```markdown\n(.*?)```\n", readme, re.DOTALL)
    assert example is not None
    path = tmp_path / "03-example.md"
    path.write_text(example.group(1))
    lesson = load(path)
    step = lesson.steps[0]
    assert step.action is not None and step.action.text.startswith("docker run")
    assert [s.kind for s in step.evidence] == ["http.request", "sys.unshare"]
    assert step.question is not None and step.question.accepts("runc")


def test_every_app_action_a_lesson_may_name_is_implemented() -> None:
    assert set(APP_ACTIONS) == set(LIVE_ACTIONS)


def test_selector_pairs_split_on_commas_and_first_colon() -> None:
    assert parse_selector("kind: sys.unshare, comm: runc:[1:CHILD]") == (
        ("kind", "sys.unshare"),
        ("comm", "runc:[1:CHILD]"),
    )
    assert parse_selector('kind: http.request, path: "/a,b", method: GET') == (
        ("kind", "http.request"),
        ("path", "/a,b"),
        ("method", "GET"),
    )
    with pytest.raises(ValueError, match="has no value"):
        parse_selector("kind: , comm: x")


def test_brackets_are_literal_and_star_is_a_glob() -> None:
    assert sel("kind: sys.unshare, comm: runc:[1:CHILD]").matches(
        ev("sys.unshare", comm="runc:[1:CHILD]")
    )
    assert not sel("kind: sys.unshare, comm: runc:[1:CHILD]").matches(
        ev("sys.unshare", comm="runc:1")
    )
    assert sel("kind: http.request, path: */containers/create").matches(
        ev("http.request", path="/v1.41/containers/create")
    )
    assert not sel("kind: http.request, path: /containers/create").matches(
        ev("http.request", path="/v1.41/containers/create")
    )


def test_values_match_as_text_lists_by_any_element_and_bools_in_lower_case() -> None:
    assert sel("kind: http.response, status: 404").matches(ev("http.response", status=404))
    unshare = ev("sys.unshare", flag_names=["CLONE_NEWNS", "CLONE_NEWPID"])
    assert sel("kind: sys.unshare, flag_names: CLONE_NEWPID").matches(unshare)
    assert sel("kind: sys.unshare, flag_names: CLONE_NEWNS, flag_names: CLONE_NEWPID").matches(
        unshare
    )
    assert not sel("kind: sys.unshare, flag_names: CLONE_NEWNET").matches(unshare)
    assert sel("kind: http.response, streaming: true").matches(ev("http.response", streaming=True))


def test_nested_keys_and_case_insensitive_names() -> None:
    request = ev(
        "http.request",
        headers={"User-Agent": "Docker-Client/28.2.2 (linux)"},
        body_json={"Image": "alpine", "Cmd": ["echo", "hi"]},
    )
    assert sel("kind: http.request, headers.user-agent: Docker-Client/*").matches(request)
    assert sel("kind: http.request, body_json.Cmd: echo").matches(request)
    assert not sel("kind: http.request, body_json.Entrypoint: echo").matches(request)
    assert not sel("kind: http.request, path: *").matches(request)  # absent key: no match


def test_output_star_stays_within_a_line() -> None:
    check = OutputCheck("httpx (pid *) sees:*shared", 1)
    assert check.found_in("httpx (pid 12) sees: a shared\n")
    assert not check.found_in("httpx (pid 12) sees: a\ndocker-py sees: shared\n")


def test_judge_holds_absent_until_the_action_ended(tmp_path: Path) -> None:
    path = tmp_path / "01-x.md"
    path.write_text(
        "# X\ngoal: g\nduration: 1 min\nneeds: live\n\n## Step 1: S\nN.\nrun: ctr run\n"
        "evidence: kind: proc.exec, comm: ctr\nabsent: layer: dockerd\noutput: hi\n"
    )
    step = load(path).steps[0]
    seen = [ev(comm="ctr")]
    assert [f.ok for f in judge(step, seen, "hi", ended=False)] == [True, True, False]
    assert [f.ok for f in judge(step, seen, "hi", ended=True)] == [True, True, True]
    dockerd = Event(time_ns=2, source="bpf", layer="dockerd", kind="sys.mount", pid=3)
    last = judge(step, [*seen, dockerd], "hi", ended=True)[-1]
    assert not last.ok and last.event is dockerd


def test_question_accepts_any_listed_answer_loosely() -> None:
    q = Question("Which endpoint?", ("/containers/json", "GET /containers/json"), "why", 1)
    assert q.accepts(" `/containers/json` ")
    assert q.accepts("get /containers/JSON")
    assert not q.accepts("/containers/create")
