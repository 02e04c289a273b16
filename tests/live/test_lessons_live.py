"""Every lesson walks live to completion with its evidence observed, and leaves nothing behind,
also when the learner quits halfway or the walk is killed."""

from __future__ import annotations

import glob
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import live_required, need
from tests.unit.test_lesson_walk import script
from tracer.lessons.files import load_all
from tracer.lessons.model import Lesson
from tracer.record.format import read_recording

LESSONS = load_all()
LEFTOVER_CONTAINER = "dockertrace-lesson"
CTR_NAMESPACE = "dockertrace-lesson"


def lesson_cmd(number: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tracer", "lesson", str(number), "--plain", *extra]


def walk_lesson(number: int, typed: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        lesson_cmd(number, *extra), input=typed, capture_output=True, text=True, timeout=600
    )


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(autouse=True)
def private_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The lessons' temporary directories go here (short: AF_UNIX paths), seen by this test only."""
    path = Path(f"/tmp/dtlt-{os.getpid()}")
    path.mkdir(exist_ok=True)
    monkeypatch.setenv("TMPDIR", str(path))
    yield path
    path.rmdir()  # fails if a lesson left its directory behind


def leftovers() -> dict[str, object]:
    """Everything a lesson could leave behind, as it stands now."""
    names = subprocess.run(
        ["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True
    ).stdout.split()
    namespaces = subprocess.run(["ctr", "namespaces", "ls", "-q"], capture_output=True, text=True)
    config = Path.home() / ".docker" / "config.json"
    current = json.loads(config.read_text()).get("currentContext") if config.exists() else None
    contexts = subprocess.run(
        ["docker", "context", "ls", "-q"], capture_output=True, text=True
    ).stdout.split()
    return {
        "containers": [n for n in names if n.startswith(LEFTOVER_CONTAINER)],
        "ctr namespace": CTR_NAMESPACE in namespaces.stdout.split(),
        "temp dirs": sorted(glob.glob(f"{os.environ.get('TMPDIR', '/tmp')}/dtl-*")),
        "tls port 2376": port_open(2376),
        "registry port 5055": port_open(5055),
        "contexts": [c for c in contexts if c.startswith("dockertrace")],
        "current context": current,
        "images": subprocess.run(
            ["docker", "images", "-q", "127.0.0.1:5055/*"], capture_output=True, text=True
        ).stdout.split(),
    }


@pytest.fixture
def clean_machine(demo_image: str) -> object:
    before = leftovers()
    yield before
    assert leftovers() == before


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda x: x.path.name)
def test_lesson_walks_live_to_completion(
    lesson: Lesson, clean_machine: object, tmp_path: Path
) -> None:
    record = tmp_path / "lesson.jsonl"
    r = walk_lesson(lesson.number, script(lesson), "--record", str(record))
    n, proved = len(lesson.steps), sum(1 for s in lesson.steps if not s.optional)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "LIVE on this machine" in r.stdout
    assert f"Lesson {lesson.number} done: {proved} of {n} steps proved." in r.stdout
    assert "cannot run here" not in r.stdout
    for step in lesson.steps:
        if step.optional:  # e.g. stopping the real dockerd: left out unless asked for
            continue
        for sel in step.evidence:
            assert f"✓ {sel.text}  →" in r.stdout, f"step {step.number}: {sel.text} not shown"
    # The fresh recording replays to the same verdict, with nothing running.
    rec = read_recording(record)
    assert rec.header["lesson"] == lesson.number and rec.events
    replay = walk_lesson(lesson.number, script(lesson), "--replay", str(record))
    assert replay.returncode == 0, replay.stdout
    assert "REPLAY: nothing runs on this machine" in replay.stdout
    assert f"Lesson {lesson.number} done: {proved} of {n} steps proved." in replay.stdout


def by_number(number: int) -> Lesson:
    return next(x for x in LESSONS if x.number == number)


@pytest.mark.parametrize(
    ("number", "steps_done"),
    [(5, 2), (6, 1), (7, 1)],
    ids=["tls proxy up", "ctr image imported", "container running"],
)
def test_quitting_halfway_leaves_nothing(
    number: int, steps_done: int, clean_machine: object
) -> None:
    lesson = by_number(number)
    typed = []
    for step in lesson.steps[:steps_done]:
        typed.append("")
        if step.question is not None:
            typed.append(step.question.answers[0])
    r = walk_lesson(number, "\n".join([*typed, "q"]) + "\n")
    assert r.returncode == 130, r.stdout + r.stderr
    assert f"Stopped at your request; {steps_done} step(s) proved." in r.stdout


def test_killed_halfway_still_cleans_up(clean_machine: object) -> None:
    """SIGTERM while lesson 7's container runs: the cleanup still removes it."""
    proc = subprocess.Popen(
        lesson_cmd(7),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("── Step 2/"):
            break
    running = subprocess.run(
        ["docker", "ps", "--format", "{{.Names}}"], capture_output=True, text=True
    ).stdout.split()
    assert "dockertrace-lesson-shared" in running, "".join(seen)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 128 + signal.SIGTERM


def test_really_stopping_dockerd_only_when_asked(clean_machine: object) -> None:
    """`--stop-daemon` stops the real dockerd for step 6 of lesson 4 and starts it again. It
    stops the shared daemon, so it runs where live tests are required (CI), one run at a time."""
    need(live_required(), "stops the machine's dockerd; runs where live tests are required (CI)")
    lesson = by_number(4)
    r = walk_lesson(4, script(lesson), "--stop-daemon")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "✓ kind: upstream.unreachable  →" in r.stdout
    assert "dockerd started again and answers on its socket" in r.stdout
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if subprocess.run(["docker", "info"], capture_output=True).returncode == 0:
            break
        time.sleep(0.5)
    assert subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    assert os.path.exists("/var/run/docker.sock")


def test_lesson_6_shows_ctr_s_grpc_calls_to_containerd(
    clean_machine: object, tmp_path: Path
) -> None:
    """ctr through the proxy on containerd's socket: the calls cross it, decoded, in order."""
    record = tmp_path / "lesson6.jsonl"
    r = walk_lesson(6, script(by_number(6)), "--record", str(record))
    assert r.returncode == 0, r.stdout + r.stderr
    events = read_recording(record).events
    calls = [e for e in events if e.kind == "grpc.call"]
    names = [f"{e.detail['service'].rsplit('.', 1)[-1]}/{e.detail['method']}" for e in calls]
    wanted = ["Containers/Create", "Tasks/Create", "Tasks/Start", "Tasks/Delete"]
    assert [n for n in names if n in wanted] == wanted, names
    assert "Tasks/Wait" in names
    by_name = dict(zip(names, calls, strict=True))
    assert all(by_name[n].detail["status_name"] == "OK" for n in wanted)
    assert all(by_name[n].layer == "containerd" and by_name[n].comm == "ctr" for n in wanted)
    # The container's id travels in the request's protobuf (decoded without the schema).
    assert "dockertrace-lesson-echo" in json.dumps(by_name["Containers/Create"].detail["request"])
    assert not [e for e in events if e.kind == "proxy.error"]
    assert (
        "✓ kind: grpc.call, service: containerd.services.tasks.v1.Tasks, method: Start" in r.stdout
    )
