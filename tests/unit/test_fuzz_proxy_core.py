"""Fuzzing the proxy's HTTP core (the targets are in bench/fuzz_core.py, which
bench/fuzz_long.py runs for longer): here each runs a bounded number of examples."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.fuzz_core import (
    PHASES,
    SECRET_ARGS,
    check_conversation,
    check_secret_never_leaks,
    conversations,
    feed,
)

SUITE = settings(
    max_examples=100,
    deadline=None,
    phases=PHASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SUITE
@given(conversations())
def test_mutated_conversations_never_crash_hang_or_emit_bad_events(
    steps: list[tuple[str, bytes]],
) -> None:
    check_conversation(steps)


@SUITE
@given(st.lists(st.tuples(st.sampled_from("cd"), st.binary(min_size=1, max_size=200)), max_size=12))
def test_random_bytes_either_side_never_crash(steps: list[tuple[str, bytes]]) -> None:
    check_conversation(steps)


@settings(max_examples=100, deadline=None, phases=PHASES)
@given(**SECRET_ARGS)
def test_secrets_never_reach_an_event(
    name: str, value: str, env_name: str, cuts: list[int]
) -> None:
    check_secret_never_leaks(name, value, env_name, cuts)


def test_huge_inputs_stay_bounded_and_fast() -> None:
    """A 2 MiB header, a 20 MiB body and 10,000 one-byte chunks: bounded events and time."""
    big_header = (
        b"GET /_ping HTTP/1.1\r\nHost: d\r\nX-Big: " + b"a" * (2 * 1024 * 1024) + b"\r\n\r\n"
    )
    body = b"{" + b'"k":"' + b"v" * (20 * 1024 * 1024) + b'"}'
    big_body = (
        b"POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    tiny = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1\r\nx\r\n" * 10_000
    for steps in (
        [("c", big_header[i : i + 65536]) for i in range(0, len(big_header), 65536)],
        [("c", big_body)] + [("c", body[i : i + 65536]) for i in range(0, len(body), 65536)],
        [("c", b"GET /v1.41/events HTTP/1.1\r\nHost: d\r\n\r\n"), ("d", tiny)],
    ):
        check_conversation(steps)
    # read 64 KiB at a time, as the relay does: past 1 MiB (Go's limit too) it is junk
    events = feed([("c", big_header[i : i + 65536]) for i in range(0, len(big_header), 65536)])
    errors = [e.detail["error"] for e in events if e.kind == "proxy.error"]
    assert errors and "malformed request" in errors[0]
