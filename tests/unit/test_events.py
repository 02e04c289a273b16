"""The event vocabulary: one JSON line each way, and clear errors for bad input."""

from __future__ import annotations

import json
import math

import pytest

from tracer import events
from tracer.events import Event, EventFormatError, monotonic_ns


def make_event(**kw: object) -> Event:
    fields: dict[str, object] = {
        "time_ns": 1_000,
        "source": "bpf",
        "layer": "runc",
        "kind": "sys.unshare",
        "pid": 42,
        "comm": "runc:[1:CHILD]",
        "detail": {"flags": 0x6C020000, "flag_names": ["CLONE_NEWNS"]},
    }
    fields.update(kw)
    return Event.from_dict(fields)


def test_round_trip_through_one_json_line() -> None:
    ev = make_event()
    line = ev.to_json()
    assert "\n" not in line
    assert Event.from_json(line) == ev


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"time_ns": "soon"}, "time_ns"),
        ({"source": "guess"}, "unknown source"),
        ({"layer": "cloud"}, "unknown layer"),
        ({"detail": [1, 2]}, "detail"),
        ({"pid": "1"}, "pid"),
    ],
)
def test_bad_fields_are_named(patch: dict[str, object], message: str) -> None:
    with pytest.raises(EventFormatError, match=message):
        make_event(**patch)


def test_not_json_is_a_format_error() -> None:
    with pytest.raises(EventFormatError, match="not JSON"):
        Event.from_json('{"time_ns": 1,')


def test_monotonic_clock_moves_forward() -> None:
    a = monotonic_ns()
    b = monotonic_ns()
    assert b >= a > 0


def test_the_fast_encoder_writes_what_json_dumps_writes() -> None:
    """encode_json reuses json's C encoder (an undocumented name): if that ever changes
    meaning, this fails rather than the recordings."""
    assert events.encode_json is not events._ENCODER.encode  # the fast path is in use here
    detail = {
        "text": 'ü "quoted" \\ \n\t\x00 ✓ 𝄞',
        "numbers": [0, -1, 2**70, 1.5, 1e-300, math.inf, -math.inf],
        "nested": {"a": None, "b": True, "c": False, "d": [], "e": {}},
        3: "a non-string key",
    }
    ev = make_event(detail=detail)
    assert ev.to_json() == json.dumps(ev.to_dict(), separators=(",", ":"), ensure_ascii=False)
    with pytest.raises(TypeError):
        events.encode_json({"x": object()})
