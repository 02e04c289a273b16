"""The --plain walker, driven by scripted input: replays complete, quitting and skipping behave."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tracer.events import Event
from tracer.lessons.files import load, load_all
from tracer.lessons.model import Lesson
from tracer.lessons.walk import ReplayStage, walk
from tracer.record.format import write_recording

REPO = Path(__file__).resolve().parents[2]
REPLAYABLE = [lesson for lesson in load_all() if "replay" in lesson.needs]


def script(lesson: Lesson, right: bool = True) -> str:
    """What a learner types: Enter for each action, then the answer to each question."""
    lines = []
    for step in lesson.steps:
        if step.action is not None:
            lines.append("")
        if step.question is not None:
            lines.append(step.question.answers[0] if right else "no idea at all")
    return "\n".join(lines) + "\n"


class CountingReplay(ReplayStage):
    ended = 0

    def end(self) -> None:
        self.ended += 1


def replay(lesson: Lesson, typed: str) -> tuple[int, str, CountingReplay]:
    assert lesson.recording_path is not None
    stage = CountingReplay(lesson, str(lesson.recording_path))
    out = io.StringIO()
    code = walk(lesson, stage, io.StringIO(typed), out)
    return code, out.getvalue(), stage


@pytest.mark.parametrize("lesson", REPLAYABLE, ids=lambda x: x.path.name)
def test_bundled_replay_completes_with_right_answers(lesson: Lesson) -> None:
    code, out, stage = replay(lesson, script(lesson))
    assert code == 0, out
    assert out.count("REPLAY: nothing runs on this machine") == 1
    n, proved = len(lesson.steps), sum(1 for s in lesson.steps if not s.optional)
    assert f"Lesson {lesson.number} done: {proved} of {n} steps proved." in out
    questions = sum(1 for s in lesson.steps if s.question is not None)
    assert out.count("✓ right.") == questions
    assert "✗ kind:" not in out and "not observed" not in out
    assert stage.ended == 1


def test_wrong_answer_shows_the_answer_and_why() -> None:
    lesson = REPLAYABLE[0]
    code, out, _ = replay(lesson, script(lesson, right=False))
    assert code == 0  # questions check understanding; the evidence decides the step
    q = next(s.question for s in lesson.steps if s.question is not None)
    assert f"✗ the answer: {q.answers[0]}. {q.explain}" in out


@pytest.mark.parametrize("typed", ["q\n", ""], ids=["q", "end of input"])
def test_quitting_stops_and_still_ends_the_stage(typed: str) -> None:
    code, out, stage = replay(REPLAYABLE[0], typed)
    assert code == 130
    assert "Stopped at your request; 0 step(s) proved." in out
    assert stage.ended == 1


def test_a_skipped_step_is_not_proved() -> None:
    lesson = REPLAYABLE[0]
    code, out, _ = replay(lesson, "s\n" + script(lesson).split("\n", 1)[1])
    assert code == 1
    assert "  skipped" in out and "Not proved: step 1" in out


def write_lesson(tmp: Path, evidence: str) -> Lesson:
    path = tmp / "09-tiny.md"
    path.write_text(
        "# Tiny\ngoal: g\nduration: 1 min\nneeds: live, replay\nrecording: tiny.jsonl\n\n"
        f"## Step 1: Run\nRun it.\nrun: docker run x\nevidence: {evidence}\noutput: hi\n"
    )
    exec_echo = Event(
        time_ns=150,
        source="bpf",
        layer="container",
        kind="proc.exec",
        pid=42,
        comm="echo",
        detail={"filename": "/bin/echo", "argv": ["echo", "hi"]},
    )
    later = Event(
        time_ns=900,
        source="bpf",
        layer="container",
        kind="proc.exec",
        pid=43,
        comm="cat",
        detail={"filename": "/bin/cat", "argv": ["cat"]},
    )
    header = {
        "format": "dockertrace-recording",
        "version": 1,
        "lesson": 9,
        "backend": "bcc",
        "lesson_steps": [
            {"number": 1, "start_ns": 100, "end_ns": 200, "output": "hi\n", "returncode": 0}
        ],
    }
    write_recording(tmp / "tiny.jsonl", header, [exec_echo, later])
    return load(path)


def test_evidence_is_looked_for_only_inside_the_step_window(tmp_path: Path) -> None:
    lesson = write_lesson(tmp_path, "kind: proc.exec, comm: echo")
    code, out, _ = replay(lesson, "\n")
    assert code == 0
    assert "✓ kind: proc.exec, comm: echo  →  echo (pid 42): exec" in out
    lesson = write_lesson(tmp_path, "kind: proc.exec, comm: cat")  # seen, but after the step
    code, out, _ = replay(lesson, "\n")
    assert code == 1
    assert "✗ kind: proc.exec, comm: cat  →  not observed" in out
    assert "Not proved: step 1" in out


def test_a_recording_of_another_lesson_is_refused(tmp_path: Path) -> None:
    lesson = load_all()[0]
    other = next(x for x in REPLAYABLE if x.number != lesson.number)
    with pytest.raises(ValueError, match=f"is a recording of lesson {other.number}"):
        ReplayStage(lesson, str(other.recording_path))


def lesson_as_nobody(number: int, typed: str = "") -> subprocess.CompletedProcess[str]:
    """`dockertrace lesson N --plain` as the user nobody (dropping root where we have it), with
    a bare environment: no root, no Docker socket to reach."""
    argv = [sys.executable, "-m", "tracer", "lesson", str(number), "--plain"]
    if os.geteuid() == 0:
        assert shutil.which("setpriv"), "setpriv (util-linux) is needed to drop root here"
        argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *argv]
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "PYTHONPATH": str(REPO)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        argv, input=typed, capture_output=True, text=True, timeout=120, cwd="/", env=env
    )


@pytest.mark.parametrize("lesson", REPLAYABLE, ids=lambda x: x.path.name)
def test_replay_as_a_non_root_user_without_docker(lesson: Lesson) -> None:
    r = lesson_as_nobody(lesson.number, script(lesson))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "replaying the bundled recording instead" in r.stdout
    n, proved = len(lesson.steps), sum(1 for s in lesson.steps if not s.optional)
    assert f"Lesson {lesson.number} done: {proved} of {n} steps proved." in r.stdout


def test_a_live_only_lesson_says_it_needs_root() -> None:
    live_only = next(x for x in load_all() if "replay" not in x.needs)
    r = lesson_as_nobody(live_only.number)
    assert r.returncode == 2
    assert f"lesson {live_only.number} runs live here only as root: run it with sudo" in r.stderr


def test_lessons_lists_all_seven() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "tracer", "lessons"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0
    titles = [line.split("  ")[1].strip() for line in r.stdout.splitlines()]
    assert titles == [lesson.title for lesson in load_all()]


def test_live_without_the_tracer_says_which_steps_cannot_run(tmp_path: Path) -> None:
    """No faked completion: without a tracing session, shell steps say they cannot run, and
    app actions that need no tracer (a socket file's mode) still run and are judged."""
    from tracer.sources.lesson_stage import LiveStage

    path = tmp_path / "09-no-tracer.md"
    path.write_text(
        "# No tracer\ngoal: g\nduration: 1 min\nneeds: live\n\n"
        "## Step 1: Run\nRun it.\nrun: docker version\nevidence: kind: http.request\n\n"
        "## Step 2: Look\nLook at a socket file.\ndo: socket /nonexistent/dt.sock\n"
        "output: /nonexistent/dt.sock: no such file\n"
    )
    lesson = load(path)
    stage = LiveStage(lesson, backend="no-such-backend")
    out = io.StringIO()
    code = walk(lesson, stage, io.StringIO("\n\n"), out)
    text = out.getvalue()
    assert code == 1
    assert "LIVE, without tracing: the tracer could not start: unknown backend" in text
    assert "✗ this step cannot run here: the tracer could not start" in text
    assert "✓ output contains '/nonexistent/dt.sock: no such file'" in text
    assert "Lesson 9 done: 1 of 2 steps proved." in text and "Not proved: step 1" in text
    assert not Path(stage.tmp).exists()
