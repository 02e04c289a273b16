"""Fuzzing the recording reader and what replay does with what it reads (the targets are in
bench/fuzz_record.py, which bench/fuzz_long.py runs for longer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bench.fuzz_record import HEADER, check_file, hostile_events, json_value
from tracer.record.format import FORMAT

PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)
SUITE = settings(
    max_examples=60,
    deadline=None,
    phases=PHASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
_ASSET = Path(__file__).resolve().parents[2] / "assets" / "run-echo-hi.jsonl"
REAL_LINES = _ASSET.read_text().splitlines()[1:] if _ASSET.exists() else []


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
