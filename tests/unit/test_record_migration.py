"""Recording format 2, and the bundled recordings (made as version 1) migrated to it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracer.chain.fold import runs
from tracer.events import Event
from tracer.record.format import (
    FORMAT,
    MIGRATIONS,
    VERSION,
    RecordingError,
    make_header,
    read_recording,
    write_recording,
)
from tracer.text.narrate import narrate

ASSETS = Path(__file__).resolve().parents[2] / "assets"
DATA = Path(__file__).resolve().parent / "data"
# Version 1 as the tool wrote it: two bundled recordings kept as they were when version 2 came
# (the bundled ones are remade as version 2), and whatever bundled recording is still version 1.
BUNDLED = sorted(ASSETS.glob("*.jsonl")) + sorted((ASSETS / "lessons").glob("*.jsonl"))
V1 = sorted(DATA.glob("v1-*.jsonl")) + [
    p for p in BUNDLED if json.loads(p.read_text().split("\n", 1)[0])["version"] == 1
]


def as_version(src: Path, dst: Path, version: int) -> Path:
    """The same file with only its header's version changed: what the migration must equal."""
    head, rest = src.read_text().split("\n", 1)
    header = json.loads(head) | {"version": version}
    dst.write_text(json.dumps(header) + "\n" + rest)
    return dst


def test_new_recordings_are_the_current_version(tmp_path: Path) -> None:
    assert VERSION == 2
    path = tmp_path / "r.jsonl"
    ev = Event(1, "proxy", "containerd", "grpc.call", detail={"service": "s", "stream_id": 1})
    write_recording(path, make_header("bcc"), [ev])
    rec = read_recording(path)
    assert rec.header["version"] == 2 and "migrated_from" not in rec.header
    assert rec.events == [ev] and rec.problems == []


@pytest.mark.parametrize("path", V1, ids=lambda p: p.name)
def test_a_version_1_recording_replays_as_before(path: Path, tmp_path: Path) -> None:
    old = read_recording(path)
    assert old.header["version"] == 2 and old.header["migrated_from"] == 1
    same = read_recording(as_version(path, tmp_path / path.name, 2))
    assert old.events == same.events and old.problems == same.problems
    assert {k: v for k, v in old.header.items() if k != "migrated_from"} == same.header
    backend = str(old.header.get("backend", ""))
    assert [narrate(t) for t in runs(old.events, backend)] == [
        narrate(t) for t in runs(same.events, backend)
    ]


def test_unknown_versions_are_refused_naming_the_ones_read(tmp_path: Path) -> None:
    path = tmp_path / "v3.jsonl"
    path.write_text(json.dumps({"format": FORMAT, "version": 3}) + "\n")
    with pytest.raises(RecordingError, match=r"version 3; this dockertrace reads versions 1, 2"):
        read_recording(path)
    assert sorted(MIGRATIONS) == [1]


def test_version_2_fields_are_type_checked(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = {"time_ns": 1, "source": "proxy", "layer": "containerd", "kind": "grpc.call"}
    lines = [
        json.dumps(make_header("bcc")),
        json.dumps(good | {"detail": {"stream_id": "one"}}),
        json.dumps(good | {"detail": {"namespaces": ["pid", 3]}}),
        json.dumps(good | {"detail": {"stream_id": 1, "container_id": None}}),
    ]
    path.write_text("\n".join(lines) + "\n")
    rec = read_recording(path)
    assert [str(p) for p in rec.problems] == [
        "line 2: detail field 'stream_id' must be int; skipped",
        "line 3: detail field 'namespaces' must be a list of str; skipped",
    ]
    assert len(rec.events) == 1
