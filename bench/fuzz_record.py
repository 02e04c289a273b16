"""Fuzz targets for the recording reader and replay: untrusted files.

A recording may come from anyone (a workshop handout, a download). Whatever its bytes, reading
it either raises RecordingError with a message or returns events plus named problems; and the
events it yields, however odd their details, go through the chain and the narration without an
exception. Plain functions, so that tests/unit/test_fuzz_record.py runs them briefly and
bench/fuzz_long.py for longer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from bench.fuzz_core import hang_guard
from tracer.events import KINDS, LAYERS, SOURCES, Event
from tracer.record.format import RecordingError, make_header, read_recording
from tracer.text.narrate import narrate, to_json
from tracer.text.story import fold, runs

HEADER = json.dumps(make_header("bcc")) + "\n"

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=20),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
# Detail keys the chain reads, so the values land where the code looks.
DETAIL_KEYS = [
    "conn", "seq", "method", "path", "endpoint", "status", "body_json", "argv", "filename",
    "flags", "flag_names", "child_pid", "target", "fstype", "stream", "excerpt", "size",
    "direction", "peer_pid", "first_byte_ns", "last_byte_ns", "streaming", "exit_code", "role",
    "query", "headers", "complete", "protocol", "tty", "message", "ret", "source", "path",
]  # fmt: skip


@st.composite
def hostile_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event envelope around details of any shape and type."""
    detail = draw(st.dictionaries(st.sampled_from(DETAIL_KEYS), json_value, max_size=8))
    return {
        "time_ns": draw(st.integers(0, 2**63)),
        "source": draw(st.sampled_from(sorted(SOURCES))),
        "layer": draw(st.sampled_from(sorted(LAYERS))),
        "kind": draw(st.sampled_from([*KINDS, "x.unknown"])),
        "pid": draw(st.integers(0, 5)),
        "ppid": draw(st.integers(0, 5)),
        "comm": draw(st.sampled_from(["docker", "runc:[2:INIT]", "dockerd", "echo", ""])),
        "detail": detail,
    }


def check_file(tmp: Path, data: bytes) -> None:
    """Any bytes: a RecordingError, or events and problems; then replay them."""
    path = tmp / "fuzzed.jsonl"
    path.write_bytes(data)
    try:
        rec = read_recording(path)
    except RecordingError as e:
        assert str(e)
        return
    assert all(p.line >= 1 and p.message for p in rec.problems)
    check_replay(rec.events, str(rec.header.get("backend", "")))


def check_replay(events: list[Event], backend: str = "bcc") -> None:
    """The chain and both renderings accept any events; the JSON form is JSON."""
    with hang_guard():
        for trace in [fold(events, backend), *runs(events, backend)]:
            assert isinstance(narrate(trace), str)
            json.dumps(to_json(trace), default=str)
