"""Fuzz targets for the proxy's HTTP core: mutated real conversations, any split, no crash,
no hang, no leak.

Plain functions (`check_conversation`, `check_secret_never_leaks`) and their strategies, so that
tests/unit/test_fuzz_proxy_core.py runs them briefly and bench/fuzz_long.py for longer. A "hang"
is an example that takes more than HANG_S seconds of CPU in the core.
"""

from __future__ import annotations

import base64
import contextlib
import json
import signal
import threading
from collections.abc import Iterator
from typing import Any

from hypothesis import Phase
from hypothesis import strategies as st

from tracer.events import Event, encode_json
from tracer.proxy.core import ConnectionCore, Peer
from tracer.proxy.exchange import BODY_EXCERPT, FRAME_EXCERPT

HANG_S = 5.0  # wall-clock: generous, since the machine is shared and the suite runs in parallel
# No "explain" phase: it re-runs examples under a line tracer, which can take minutes.
PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)

SECRET = "s3cr3t-Zq9"


def _chunked(*parts: bytes) -> bytes:
    return b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts) + b"0\r\n\r\n"


def _frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


_BODY = json.dumps({"Image": "busybox", "Cmd": ["echo", "hi"], "Env": ["A=1"]}).encode()
# Real conversations as (client bytes, daemon bytes), the seeds the mutations start from.
SEEDS: list[tuple[bytes, bytes]] = [
    (
        b"GET /v1.41/_ping HTTP/1.1\r\nHost: docker\r\n\r\n" * 2,
        b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK" * 2,
    ),
    (
        b"POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\n"
        b"Content-Type: application/json\r\n"
        + f"Content-Length: {len(_BODY)}\r\n\r\n".encode()
        + _BODY,
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n"
        b'{"Id":"abc12"}',
    ),
    (
        b"GET /v1.41/events HTTP/1.1\r\nHost: docker\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + _chunked(b'{"status":"start"}\n', b'{"error":"boom"}\n'),
    ),
    (
        b"GET /v1.41/containers/abc/logs?follow=1&stdout=1 HTTP/1.1\r\nHost: docker\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + _chunked(_frame(1, b"hi\n"), _frame(2, b"err\n")),
    ),
    (
        b"POST /v1.41/containers/abc/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: docker\r\n"
        b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\nstdin bytes",
        b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
        b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + _frame(1, b"hi\n") + _frame(2, b"x" * 300),
    ),
    (
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00",
        b"\x00\x00\x00\x04\x00\x00\x00\x00\x00",
    ),
]


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """A seed with a few bytes flipped, inserted, deleted or a region duplicated."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(("flip", "insert", "delete", "dup", "junk")))
        pos = draw(st.integers(0, max(0, len(buf) - 1)))
        if op == "flip" and buf:
            buf[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            buf[pos:pos] = draw(st.sampled_from((b"\r\n", b":", b"\x00", b"ffffffffffff\r\n")))
        elif op == "delete" and buf:
            del buf[pos : pos + draw(st.integers(1, 8))]
        elif op == "dup":
            buf[pos:pos] = buf[pos : pos + draw(st.integers(1, 64))]
        elif op == "junk":
            buf[pos:pos] = draw(st.binary(max_size=32))
    return bytes(buf)


@st.composite
def conversations(draw: st.DrawFn) -> list[tuple[str, bytes]]:
    """A (possibly mutated) seed conversation cut into random pieces, client and daemon
    pieces interleaved in a random but causal-looking order."""
    client, daemon = draw(st.sampled_from(SEEDS))
    client, daemon = draw(mutated(client)), draw(mutated(daemon))
    steps: list[tuple[str, bytes]] = []
    pieces = {"c": _cut(draw, client), "d": _cut(draw, daemon)}
    while pieces["c"] or pieces["d"]:
        side = draw(st.sampled_from([s for s in "cd" if pieces[s]]))
        steps.append((side, pieces[side].pop(0)))
    return steps


def _cut(draw: st.DrawFn, data: bytes) -> list[bytes]:
    points = sorted(draw(st.sets(st.integers(1, max(1, len(data) - 1)), max_size=8)))
    out, last = [], 0
    for p in [*points, len(data)]:
        if p > last:
            out.append(data[last:p])
            last = p
    return out


def feed(steps: list[tuple[str, bytes]]) -> list[Event]:
    core = ConnectionCore(1, Peer(pid=42, comm="docker"))
    out = core.accepted(0)
    for t, (side, data) in enumerate(steps, start=1):
        out += core.client_data(data, t) if side == "c" else core.daemon_data(data, t)
    n = len(steps) + 1
    out += core.client_eof(n) + core.daemon_eof(n + 1) + core.closed("fuzz over", n + 2)
    return out


class Hang(AssertionError):
    """The core did not return within HANG_S seconds."""


@contextlib.contextmanager
def hang_guard(seconds: float = HANG_S) -> Iterator[None]:
    """Turn a hang into a failure hypothesis can shrink (main thread only; else unguarded)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise Hang(f"the core did not return within {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_conversation(steps: list[tuple[str, bytes]]) -> None:
    """Never raises, never hangs; every event is a valid, serialisable, bounded record; the
    connection opens once and closes once, last."""
    with hang_guard():
        events = feed(steps)
    assert events[0].kind == "conn.accept"
    assert events[-1].kind == "conn.close"
    assert [e.kind for e in events].count("conn.close") == 1
    for e in events:
        assert Event.from_json(e.to_json()) == e
        # A template's text (events.EncodedDetail) is the encoder's own, byte for byte.
        assert e.to_json() == encode_json(e.to_dict())
        d: dict[str, Any] = dict(e.detail)
        if "body_excerpt" in d:
            assert len(d["body_excerpt"]) <= BODY_EXCERPT + 1
        if e.kind == "stream.frame":
            assert len(d["excerpt"]) <= FRAME_EXCERPT
            assert d["size"] >= 0
    closed = events[-1].detail
    assert closed["bytes_in"] == sum(len(d) for s, d in steps if s == "c")
    assert closed["bytes_out"] == sum(len(d) for s, d in steps if s == "d")


def secret_request(name: str, value: str, env_name: str) -> bytes:
    body = json.dumps({"Image": "busybox", "Env": [f"{env_name}={value}", "PLAIN=1"]}).encode()
    auth = base64.b64encode(json.dumps({"password": value}).encode()).decode()
    return (
        b"POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\n"
        + f"{name}: {auth if 'registry' in name.lower() else 'Bearer ' + value}\r\n".encode()
        + b"Content-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def check_secret_never_leaks(name: str, value: str, env_name: str, cuts: list[int]) -> None:
    """Whatever the header's case and wherever the bytes are cut, no event holds the secret
    (nor the base64 auth blob carrying it)."""
    data = secret_request(name, value, env_name)
    points = sorted({c % len(data) for c in cuts} - {0})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    events = feed([("c", p) for p in pieces])
    dump = "\n".join(e.to_json() for e in events)
    assert any(e.kind == "http.request" for e in events)
    assert value not in dump
    assert base64.b64encode(json.dumps({"password": value}).encode()).decode() not in dump


def _cases(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name, name.lower(), name.upper()])


SECRET_ARGS = {
    "name": st.one_of(_cases("X-Registry-Auth"), _cases("Authorization")),
    "value": st.text(alphabet="abcdefghijkXYZ0123456789-_", min_size=12, max_size=40),
    "env_name": st.sampled_from(["DB_PASSWORD", "API_TOKEN", "aws_secret_key", "GH_Token"]),
    "cuts": st.lists(st.integers(0, 10_000), max_size=6),
}
