"""Each broken lesson file under lesson_cases/ gets its own error message, naming file:line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tracer.lessons.files import load, validate
from tracer.lessons.model import LessonFileError

CASES = Path(__file__).parent / "lesson_cases"

# file -> the (line, message) pairs the validator must report, and no others.
EXPECTED: dict[str, list[tuple[int, str]]] = {
    "no_title.md": [(1, "a lesson starts with its title: '# Title'")],
    "missing_fields.md": [
        (1, "missing 'goal:' (put it under the title)"),
        (1, "missing 'duration:' (put it under the title)"),
    ],
    "bad_duration.md": [(3, "duration is minutes, like '10 min', not 'a while'")],
    "bad_needs.md": [(4, "needs is 'live' or 'live, replay', not 'live, docker'")],
    "replay_without_recording.md": [(4, "needs replay, so 'recording: FILE' must say which")],
    "recording_without_replay.md": [(5, "a recording is only used with 'needs: live, replay'")],
    "typo_field.md": [
        (9, "unknown field 'evidnce:' (did you mean 'evidence:'?)"),
    ],
    "step_field_in_header.md": [(5, "'run:' belongs in a step (after '## Step N: Title')")],
    "lesson_field_in_step.md": [(10, "'cleanup:' belongs before the first step, with the title")],
    "bad_heading.md": [(6, "a '## ' heading must be '## Step N: Title'")],
    "step_order.md": [(11, "steps are numbered in order: expected 'Step 2'")],
    "no_steps.md": [(6, "no steps: add '## Step 1: Title' and its narration")],
    "no_narration.md": [(6, "step 1 has no narration: say what the learner will see")],
    "two_actions.md": [(9, "a step has one action; the first is on line 8")],
    "unknown_app_action.md": [
        (
            8,
            "unknown app action 'frobnicate' (known: processes, socket, tls-proxy, "
            "stop-dockerd, containerd-proxy)",
        )
    ],
    "unknown_kind.md": [
        (
            9,
            "evidence 'kind: sys.unshar, comm: runc:[1:CHILD]': unknown event kind "
            "'sys.unshar' (did you mean 'sys.unshare'?)",
        ),
        (8, "an action needs evidence that completes it ('evidence:')"),
    ],
    "wrong_key.md": [
        (
            9,
            "evidence 'kind: http.request, status: 404': 'status' is not a field of "
            "http.request events (they have: conn, seq, method, target, path, endpoint, "
            "api_version, query, headers, body_size, body_excerpt, body_json)",
        ),
        (8, "an action needs evidence that completes it ('evidence:')"),
    ],
    "selector_syntax.md": [
        (9, "evidence 'kind sys.unshare': expected 'key: value' at 'kind sys.unshare'"),
        (8, "an action needs evidence that completes it ('evidence:')"),
    ],
    "no_kind.md": [
        (
            9,
            "evidence 'comm: runc:[1:CHILD]': evidence needs a 'kind:' "
            "(e.g. 'kind: http.request, path: */version')",
        ),
        (8, "an action needs evidence that completes it ('evidence:')"),
    ],
    "unclosed_quote.md": [
        (
            9,
            "evidence 'kind: http.request, path: \"/v1.41/version': the quote after 'path:' "
            "is never closed",
        ),
        (8, "an action needs evidence that completes it ('evidence:')"),
    ],
    "evidence_without_action.md": [
        (8, "evidence needs an action to watch: add 'run:' or 'do:' to the step")
    ],
    "action_without_evidence.md": [(8, "an action needs evidence that completes it ('evidence:')")],
    "question_without_answer.md": [
        (10, "a question needs an 'answer:'"),
        (10, "a question needs an 'explain:' (why the answer is right)"),
    ],
    "answer_without_question.md": [(10, "'answer:' without a 'question:'")],
    "unclosed_fence.md": [(8, "this ``` block is never closed")],
    "bad_show.md": [(10, "show is one of: chain")],
    "bad_env.md": [(5, "env is 'NAME=value'")],
    "duplicate_field.md": [(3, "'goal:' given twice (first on line 2)")],
    "duplicate_question.md": [(13, "'question:' given twice in a step (first on line 10)")],
    "second_title.md": [(6, "only the first line is a '# Title'; steps are '## Step N: Title'")],
    "empty_value.md": [(9, "'evidence:' has no value")],
    "two_run_blocks.md": [(11, "a step has one ```run block; the first is on line 8")],
    "run_block_outside_step.md": [(6, "a ```run block belongs in a step")],
    "several_problems.md": [
        (3, "duration is minutes, like '10 min', not 'soon'"),
        (
            9,
            "evidence 'kind: proc.exek, comm: echo': unknown event kind 'proc.exek' "
            "(did you mean 'proc.exec'?)",
        ),
        (8, "an action needs evidence that completes it ('evidence:')"),
        (13, "an action needs evidence that completes it ('evidence:')"),
        (14, "a question needs an 'explain:' (why the answer is right)"),
    ],
}


def test_every_case_file_has_an_expectation() -> None:
    assert sorted(p.name for p in CASES.glob("*.md")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case_reports_each_problem_with_file_and_line(name: str) -> None:
    path = CASES / name
    errors = validate(path)
    got = sorted((e.line, e.message) for e in errors)
    assert got == sorted(EXPECTED[name])
    for e in errors:
        assert str(e) == f"{path}:{e.line}: {e.message}"


def test_load_raises_with_every_problem_listed() -> None:
    path = CASES / "several_problems.md"
    with pytest.raises(LessonFileError) as info:
        load(path)
    lines = str(info.value).splitlines()
    assert len(lines) == len(EXPECTED["several_problems.md"])
    assert lines[0] == f"{path}:3: duration is minutes, like '10 min', not 'soon'"


def test_lessons_command_names_file_and_line_and_fails() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "tracer", "lessons", str(CASES / "typo_field.md")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    assert f"{CASES / 'typo_field.md'}:9: unknown field 'evidnce:'" in r.stdout


def test_lesson_command_refuses_a_malformed_file() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "tracer", "lesson", str(CASES / "bad_needs.md"), "--plain"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert f"{CASES / 'bad_needs.md'}:4: needs is 'live' or 'live, replay'" in r.stderr
