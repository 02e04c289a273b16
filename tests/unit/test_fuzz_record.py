"""Fuzzing the recording reader and what replay does with what it reads: untrusted files.

A recording may come from anyone (a workshop handout, a download). Whatever its bytes, reading
it either raises RecordingError with a message or returns events plus named problems; and the
events it yields, however odd their details, go through the chain and the narration without an
exception. The checks are plain functions so bench/fuzz_long.py runs them for longer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.unit.test_fuzz_proxy_core import hang_guard
from tracer.events import KINDS, LAYERS, SOURCES, Event
from tracer.record.format import FORMAT, RecordingError, make_header, read_recording
from tracer.text.narrate import narrate, to_json
from tracer.text.story import fold, runs

PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)
SUITE = settings(
    max_examples=60,
    deadline=None,
    phases=PHASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
HEADER = json.dumps(make_header("bcc")) + "\n"
_ASSET = Path(__file__).resolve().parents[2] / "assets" / "run-echo-hi.jsonl"
REAL_LINES = _ASSET.read_text().splitlines()[1:] if _ASSET.exists() else []

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


@SUITE
@given(data=st.binary(max_size=2000))
def test_any_bytes_are_read_or_refused_with_a_message(tmp_path: Path, data: bytes) -> None:
    check_file(tmp_path, data)


@SUITE
@given(
    lines=st.lists(
        st.one_of(
            st.sampled_from(REAL_LINES or ["{}"]),
            st.text(max_size=80),
            json_value.map(json.dumps),
            hostile_events().map(json.dumps),
        ),
        max_size=25,
    ),
    cut=st.integers(0, 3),
)
def test_a_real_header_then_any_lines_never_crash_the_replay(
    tmp_path: Path, lines: list[str], cut: int
) -> None:
    text = HEADER + "\n".join(lines)
    data = text.encode("utf-8", errors="surrogatepass")
    check_file(tmp_path, data[: len(data) - cut] if cut else data)


@SUITE
@given(events=st.lists(hostile_events(), max_size=30))
def test_events_of_any_detail_shape_are_skipped_or_replayed(
    tmp_path: Path, events: list[dict[str, Any]]
) -> None:
    lines = [json.dumps(d, default=str) for d in events]
    check_file(tmp_path, (HEADER + "\n".join(lines) + "\n").encode())


@SUITE
@given(
    header=st.dictionaries(
        st.sampled_from(["format", "version", "backend", "versions", "kernel", "command"]),
        json_value,
    )
)
def test_odd_headers_are_refused_or_read(tmp_path: Path, header: dict[str, Any]) -> None:
    header.setdefault("format", FORMAT)
    check_file(tmp_path, (json.dumps(header) + "\n" + "\n".join(REAL_LINES[:50]) + "\n").encode())
