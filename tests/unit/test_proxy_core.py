"""The proxy's sans-I/O core fed byte sequences: splits, pipelining, chunks, upgrades, junk."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracer.events import EncodedDetail, Event, encode_json
from tracer.proxy import relay
from tracer.proxy.core import ConnectionCore, Peer
from tracer.proxy.frames import FrameDecoder
from tracer.proxy.memo import REQUESTS, RESPONSES
from tracer.proxy.server import _Feeder
from tracer.proxy.ttybook import TtyBook

PING = b"GET /v1.41/_ping HTTP/1.1\r\nHost: docker\r\n\r\n"
PONG = b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK"
CREATE_BODY = json.dumps(
    {"Image": "busybox", "Cmd": ["echo", "hi"], "Tty": False, "Env": ["DB_PASSWORD=hunter2", "A=1"]}
).encode()


def create_request(body: bytes) -> bytes:
    return (
        b"POST /v1.41/containers/create?name=web HTTP/1.1\r\nHost: api.moby.localhost\r\n"
        b"Content-Type: application/json\r\nX-Registry-Auth: c2VjcmV0\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


CREATE = create_request(CREATE_BODY)
CREATED_BODY = b'{"Id":"4f3c2b1a0e9d8c7b6a5f","Warnings":[]}'
CREATED = (
    b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(CREATED_BODY)}\r\n\r\n".encode()
    + CREATED_BODY
)
ATTACH = (
    b"POST /v1.41/containers/4f3c2b1a0e9d8c7b6a5f/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\n"
    b"Host: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
)
UPGRADED = (
    b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
    b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
)


def frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def run(steps: list[tuple[str, bytes]], core: ConnectionCore | None = None) -> list[Event]:
    """Feed ("c"|"d", bytes) steps, then both ends' EOF and the close; return all events."""
    core = core or ConnectionCore(7, Peer(pid=42, comm="docker"))
    out = core.accepted(0)
    for t, (side, data) in enumerate(steps, start=1):
        out += core.client_data(data, t) if side == "c" else core.daemon_data(data, t)
    n = len(steps) + 1
    out += core.client_eof(n) + core.daemon_eof(n + 1) + core.closed("test over", n + 2)
    return out


def kinds(events: list[Event]) -> list[str]:
    return [e.kind for e in events]


def of(events: list[Event], kind: str) -> list[dict[str, Any]]:
    return [dict(e.detail) for e in events if e.kind == kind]


def untimed(events: list[Event]) -> list[tuple[str, dict[str, Any]]]:
    drop = {"request_ns", "first_byte_ns", "last_byte_ns"}
    return [(e.kind, {k: v for k, v in e.detail.items() if k not in drop}) for e in events]


def test_a_keep_alive_exchange_becomes_request_and_response_events() -> None:
    events = run([("c", PING), ("d", PONG), ("c", CREATE), ("d", CREATED)])
    assert kinds(events)[:5] == [
        "conn.accept",
        "http.request",
        "http.response",
        "http.request",
        "http.response",
    ]
    req = of(events, "http.request")[1]
    assert req["seq"] == 2
    assert req["endpoint"] == "/containers/create"
    assert req["api_version"] == "1.41"
    assert req["query"] == {"name": "web"}
    assert req["body_json"]["Cmd"] == ["echo", "hi"]
    resp = of(events, "http.response")[1]
    assert (resp["status"], resp["reason"], resp["streaming"]) == (201, "Created", False)
    assert resp["body_json"]["Id"] == "4f3c2b1a0e9d8c7b6a5f"
    assert all(e.pid == 42 and e.comm == "docker" for e in events)
    assert events[-1].kind == "conn.close"
    assert events[-1].detail["bytes_in"] == len(PING) + len(CREATE)


def test_secrets_are_redacted_in_headers_json_and_excerpts() -> None:
    events = run([("c", CREATE), ("d", CREATED)])
    req = of(events, "http.request")[0]
    assert req["headers"]["X-Registry-Auth"] == "<redacted>"
    assert "DB_PASSWORD=<redacted>" in req["body_json"]["Env"]
    assert "A=1" in req["body_json"]["Env"]
    assert "hunter2" not in json.dumps([e.to_dict() for e in events])


def test_every_split_point_gives_the_same_events() -> None:
    whole = untimed(run([("c", CREATE), ("d", CREATED)]))
    for cut in range(1, len(CREATE)):
        split = run([("c", CREATE[:cut]), ("c", CREATE[cut:]), ("d", CREATED)])
        assert untimed(split)[:3] == whole[:3], cut
    for cut in range(1, len(CREATED)):
        split = run([("c", CREATE), ("d", CREATED[:cut]), ("d", CREATED[cut:])])
        assert untimed(split)[:3] == whole[:3], cut


def test_pipelined_requests_are_paired_with_their_responses_in_order() -> None:
    events = run([("c", PING + CREATE), ("d", PONG + CREATED)])
    pairs = [(d["seq"], d["endpoint"]) for d in of(events, "http.response")]
    assert pairs == [(1, "/_ping"), (2, "/containers/create")]
    assert [d["status"] for d in of(events, "http.response")] == [200, 201]


def test_a_chunked_stream_is_recorded_chunk_by_chunk_with_its_error() -> None:
    lines = [
        b'{"status":"Pulling from library/nope"}\n',
        b'{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}\n',
    ]
    body = b"".join(b"%x\r\n%s\r\n" % (len(line), line) for line in lines) + b"0\r\n\r\n"
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    pull = b"POST /v1.41/images/create?fromImage=nope&tag=latest HTTP/1.1\r\nHost: d\r\n\r\n"
    events = run([("c", pull), ("d", head), ("d", body[:30]), ("d", body[30:])])
    frames = of(events, "stream.frame")
    assert b"".join(f["excerpt"].encode() for f in frames) == b"".join(lines)
    assert of(events, "stream.error") == [{"conn": 7, "seq": 1, "message": "manifest unknown"}]
    resp = of(events, "http.response")[0]
    assert resp["streaming"] is True and resp["status"] == 200
    assert resp["body_size"] == sum(map(len, lines))


def test_upgrade_then_multiplexed_frames_split_at_every_byte() -> None:
    stream = frame(1, b"hello\n") + frame(2, b"oops\n") + frame(1, b"bye\n")
    for cut in range(len(stream) + 1):
        events = run(
            [
                ("c", CREATE),
                ("d", CREATED),
                ("c", ATTACH + b"typed"),
                ("d", UPGRADED + stream[:cut]),
                ("d", stream[cut:]),
            ]
        )
        up = of(events, "http.upgrade")
        assert up == [{"conn": 7, "seq": 2, "protocol": "tcp", "tty": False}], cut
        got: dict[str, str] = {}
        for f in of(events, "stream.frame"):
            got[f["stream"]] = got.get(f["stream"], "") + f["excerpt"]
        assert got == {"stdout": "hello\nbye\n", "stderr": "oops\n", "stdin": "typed"}, cut
        assert of(events, "http.response")[1]["status"] == 101


def test_a_tty_container_streams_raw_bytes() -> None:
    tty_body = CREATE_BODY.replace(b'"Tty": false', b'"Tty": true')
    create = create_request(tty_body)
    events = run([("c", create), ("d", CREATED), ("c", ATTACH), ("d", UPGRADED + b"\x01\x00hi")])
    assert of(events, "http.upgrade")[0]["tty"] is True
    assert [f["stream"] for f in of(events, "stream.frame")] == ["raw"]


def test_unknown_tty_is_told_by_the_first_bytes() -> None:
    events = run([("c", ATTACH), ("d", UPGRADED + frame(1, b"x"))])
    assert of(events, "http.upgrade")[0]["tty"] is False
    events = run([("c", ATTACH), ("d", UPGRADED + b"plain text")])
    assert of(events, "http.upgrade")[0]["tty"] is True


def test_the_old_200_raw_stream_form_is_a_hijack_too() -> None:
    attach = ATTACH.replace(b"Connection: Upgrade\r\nUpgrade: tcp\r\n", b"")
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n"
    events = run([("c", attach + b"in"), ("d", head + frame(1, b"out"))])
    assert of(events, "http.upgrade")[0]["protocol"] == "raw-stream (200)"
    streams = {f["stream"]: f["excerpt"] for f in of(events, "stream.frame")}
    assert streams == {"stdin": "in", "stdout": "out"}


def test_malformed_request_is_reported_with_the_daemons_answer() -> None:
    answer = (
        b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n"
        b"Content-Length: 15\r\n\r\n400 Bad Request"
    )
    events = run([("c", b"this is not http\r\n\r\n"), ("d", answer)])
    assert "malformed request" in of(events, "proxy.error")[0]["error"]
    resp = of(events, "http.response")
    assert [(r["status"], r["body_excerpt"]) for r in resp] == [(400, "400 Bad Request")]


def test_http2_prior_knowledge_goes_to_the_h2_decoder() -> None:
    """(Calls are decoded in tests/unit/test_proxy_h2.py; here: what is not HTTP/2 inside.)"""
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    events = run([("c", preface[:5]), ("c", preface[5:] + b"\0\0\0\4"), ("d", b"\0" * 9)])
    assert of(events, "h2.stream") == [
        {"conn": 7, "seq": 0, "bytes_in": len(preface) + 4, "bytes_out": 9, "calls": 0}
    ]
    assert [e["error"] for e in of(events, "proxy.error")] == [
        "HTTP/2 from the server: a frame that does not parse (Stream ID must be non-zero for "
        "DataFrame); the rest of it is only counted",
        "HTTP/2 from the client: a frame cut short at the close (4 of its 9 bytes came)",
    ]


def test_h2c_upgrade_goes_to_the_h2_decoder() -> None:
    session = b"POST /session HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
    switched = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
    events = run([("c", session), ("d", switched + b"abc"), ("c", b"defg")])
    assert of(events, "http.upgrade")[0]["protocol"] == "h2c"
    assert of(events, "h2.stream")[0]["bytes_in"] == 4
    assert of(events, "h2.stream")[0]["bytes_out"] == 3
    assert not of(events, "stream.frame")


def test_a_stream_cut_short_is_reported_at_close() -> None:
    logs = b"GET /v1.41/containers/abc/logs?follow=1&stdout=1 HTTP/1.1\r\nHost: d\r\n\r\n"
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    body = frame(1, b"line\n")
    chunk = b"%x\r\n%s\r\n" % (len(body), body)
    events = run([("c", logs), ("d", head + chunk)])
    resp = of(events, "http.response")[0]
    assert resp["complete"] is False and resp["streaming"] is True
    assert [(f["stream"], f["excerpt"]) for f in of(events, "stream.frame")] == [
        ("stdout", "line\n")
    ]


def test_frame_decoder_merges_and_bounds_excerpts() -> None:
    dec = FrameDecoder(keep=4)
    pieces = dec.feed(frame(1, b"abcdef") + frame(1, b"gh") + frame(2, b"e"))
    assert pieces == [("stdout", 8, b"abcd"), ("stderr", 1, b"e")]
    assert not dec.partial
    assert dec.feed(frame(1, b"xyz")[:5]) == [] and dec.partial


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from("cd"), st.binary(max_size=64)), max_size=12))
def test_arbitrary_bytes_never_crash_the_core(steps: list[tuple[str, bytes]]) -> None:
    events = run([(side, data) for side, data in steps if data])
    assert events[0].kind == "conn.accept"
    assert events[-1].kind == "conn.close"


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=40), st.integers(min_value=0, max_value=200))
def test_arbitrary_bytes_after_a_good_exchange_keep_the_record_of_it(junk: bytes, cut: int) -> None:
    stream = PING + junk
    events = run([("c", stream[:cut]), ("c", stream[cut:]), ("d", PONG)])
    assert of(events, "http.request")[0]["endpoint"] == "/_ping"
    assert events[-1].kind == "conn.close"


def test_the_response_copy_may_arrive_before_the_request_copy() -> None:
    """The relay writes each direction's copy after forwarding it, so the daemon's answer can
    reach the recorder first; it waits in the response parser until its request is known."""
    events = run([("d", PONG[:10]), ("d", PONG[10:]), ("c", PING)])
    assert kinds(events)[1:3] == ["http.request", "http.response"]
    resp = of(events, "http.response")[0]
    assert (resp["status"], resp["first_byte_ns"]) == (200, 1)
    events = run([("d", UPGRADED + frame(1, b"early")), ("c", ATTACH)])
    assert [(f["stream"], f["excerpt"]) for f in of(events, "stream.frame")] == [
        ("stdout", "early")
    ]


def test_a_response_parsed_late_keeps_the_daemons_times() -> None:
    """When the response's copy comes before its request's, the response is parsed when the
    request comes; its last byte is still the daemon's time, never the request's."""
    events = run([("d", PONG[:10]), ("d", PONG[10:]), ("c", PING)])
    resp = of(events, "http.response")[0]
    assert (resp["first_byte_ns"], resp["last_byte_ns"]) == (1, 2)
    assert of(events, "http.request")[0]["seq"] == 1


def test_remembered_parses_give_the_same_events_as_parsing_again() -> None:
    """Byte-identical messages reuse h11's first parse (memo.py): the events must be those a
    fresh parse gives, for repeated, pipelined and split conversations alike."""
    conversations = [
        [("c", PING), ("d", PONG)] * 4,
        [("c", PING * 2), ("d", PONG * 2)] * 3,  # a chunk's second message is never remembered
        [("d", PONG), ("c", PING)] * 3,  # the answer's copy first
        [("c", PING), ("d", PONG), ("c", CREATE), ("d", CREATED)] * 2,
        [("c", ATTACH), ("d", UPGRADED + frame(1, b"x"))],
        [("c", PING), ("d", PONG[:9]), ("d", PONG[9:])] * 2,
    ]
    for steps in conversations:
        REQUESTS.clear()
        RESPONSES.clear()
        cold = untimed(run(steps))
        warm_events = run(steps)
        warm = untimed(warm_events)
        assert cold == warm, steps
        # Remembered messages' events are written from templates (events.EncodedDetail):
        # the text must be the encoder's own, and some must have been.
        assert all(e.to_json() == encode_json(e.to_dict()) for e in warm_events), steps
        if steps is conversations[0]:  # four remembered pings: all their events templated
            assert sum(isinstance(e.detail, EncodedDetail) for e in warm_events) == 8
        assert len(of(run(steps), "http.response")) == sum(
            d.count(b"HTTP/1.1 ") for s, d in steps if s == "d"
        ), steps


def test_an_upgrade_before_its_create_is_parsed_is_told_by_the_book_at_the_batch_end() -> None:
    # Each connection's copies reach the recorder in their own batches: the attach's upgrade
    # can be parsed before the create's answer, on another connection. The upgrade is then
    # recorded at the end of the batch that taught the book, not at the container's first output.
    book = TtyBook()
    api = ConnectionCore(1, Peer(pid=42, comm="docker"), book)
    attach = ConnectionCore(2, Peer(pid=42, comm="docker"), book)
    api.accepted(0), attach.accepted(0)
    api.client_data(CREATE, 1)
    attach.client_data(ATTACH, 2)
    attach.daemon_data(UPGRADED, 3)
    assert attach.waiting and of(attach.flush(), "http.upgrade") == []  # nobody knows yet
    api.daemon_data(CREATED, 4)
    up = of(attach.flush(), "http.upgrade")
    assert up == [{"conn": 2, "seq": 1, "protocol": "tcp", "tty": False}]
    assert not attach.waiting


def test_a_feeder_flushes_a_waiting_pipe_until_the_book_knows() -> None:
    got: list[Event] = []
    feed = _Feeder("unix:///nowhere", got.append)
    peer = relay.UCRED.pack(42, 0, 0)
    feed(relay.OPEN, 1, 0, peer)
    feed(relay.OPEN, 2, 0, peer)
    feed(relay.CLIENT, 1, 1, CREATE)
    feed(relay.CLIENT, 2, 2, ATTACH)
    feed(relay.DAEMON, 2, 3, UPGRADED)
    feed.flush()
    feed.flush()  # a batch with nothing for it: still waiting, still asked
    assert [e for e in got if e.kind == "http.upgrade"] == []
    feed(relay.DAEMON, 1, 4, CREATED)
    feed.flush()
    up = [e for e in got if e.kind == "http.upgrade"]
    assert len(up) == 1 and up[0].detail["tty"] is False and up[0].time_ns == 3
    assert feed.holding == set()
