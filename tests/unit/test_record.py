"""Recordings: written as they come, read back tolerantly, bad lines named, foreign ones refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tracer.events import Event
from tracer.record.format import (
    FORMAT,
    Recorder,
    RecordingError,
    make_header,
    read_recording,
    write_recording,
)


def event(t: int, kind: str = "proc.exec", **detail: object) -> Event:
    return Event(
        time_ns=t, source="bpf", layer="runc", kind=kind, pid=7, comm="runc", detail=detail
    )


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    evs = [event(2, argv=["runc", "create"]), event(1, "proc.fork", child_pid=8)]
    write_recording(path, make_header("bcc", {"docker": "20.10"}), evs)
    rec = read_recording(path)
    assert rec.problems == []
    assert rec.header["backend"] == "bcc" and rec.header["versions"]["docker"] == "20.10"
    assert [e.time_ns for e in rec.events] == [1, 2]  # ordered by time
    assert rec.events[1].detail["argv"] == ["runc", "create"]


def test_recorder_is_a_sink(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with Recorder(path, make_header("proc")) as rec:
        rec(event(5))
        rec(event(6))
    assert rec.count == 2
    assert len(path.read_text().splitlines()) == 3


def test_corrupt_lines_are_named_and_the_rest_replays(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    lines = [
        json.dumps(make_header("bcc")),
        event(1).to_json(),
        '{"time_ns": 2, "source": "bpf"',  # cut short
        json.dumps({"time_ns": 3, "source": "bpf", "layer": "moon", "kind": "x"}),
        "[1, 2]",
        event(4).to_json(),
    ]
    path.write_text("\n".join(lines) + "\n")
    rec = read_recording(path)
    assert [e.time_ns for e in rec.events] == [1, 4]
    messages = {p.line: p.message for p in rec.problems}
    assert "not JSON" in messages[3]
    assert "unknown layer 'moon'" in messages[4]
    assert "not a JSON object" in messages[5]


def test_truncated_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    path.write_text(json.dumps(make_header("bcc")) + "\n" + event(1).to_json() + "\n" + '{"time')
    rec = read_recording(path)
    assert len(rec.events) == 1
    assert any("truncated" in p.message for p in rec.problems)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("hello\n", "header line is not JSON"),
        ('{"format": "other"}\n', "not a dockertrace recording"),
        (
            json.dumps({"format": FORMAT, "version": 99}) + "\n",
            "version 99; this dockertrace reads",
        ),
    ],
)
def test_unreadable_recordings(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(content)
    with pytest.raises(RecordingError, match=message):
        read_recording(path)


def test_replay_command_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "v99.jsonl"
    path.write_text(json.dumps({"format": FORMAT, "version": 99}) + "\n")
    r = subprocess.run(
        [sys.executable, "-m", "tracer", "replay", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "reads versions 1" in r.stderr
    assert "Traceback" not in r.stderr
