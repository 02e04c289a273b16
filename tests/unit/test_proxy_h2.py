"""HTTP/2 and gRPC at the proxy, from byte fixtures built with hyperframe's and hpack's encoders."""

from __future__ import annotations

import gzip
import socket
import threading
from pathlib import Path
from typing import Any

import hpack
from google.protobuf import descriptor_pb2, timestamp_pb2
from hyperframe import frame as hf
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tracer.events import Event
from tracer.proxy.core import ConnectionCore, Peer
from tracer.proxy.grpc import MESSAGES_SHOWN, split_path
from tracer.proxy.h2 import PREFACE, H2Pipe
from tracer.proxy.rawpipe import C2D, D2C
from tracer.proxy.server import Proxy

CREATE = "/containerd.services.containers.v1.Containers/Create"
# Real protobuf bytes from Google's encoder (the decoder needs no schema, so any message does).
REQUEST = descriptor_pb2.FileDescriptorProto(name="dockertrace-lesson-echo", package="x")
RESPONSE = timestamp_pb2.Timestamp(seconds=1764626400, nanos=7)


def message(msg: Any, compressed: bool = False) -> bytes:
    raw = msg if isinstance(msg, bytes) else msg.SerializeToString()
    raw = gzip.compress(raw) if compressed else raw
    return bytes([int(compressed)]) + len(raw).to_bytes(4, "big") + raw


def serial(*frames: hf.Frame) -> bytes:
    return b"".join(f.serialize() for f in frames)


def headers_frame(enc: hpack.Encoder, sid: int, pairs: list[tuple[str, str]], end: bool = False):
    f = hf.HeadersFrame(sid, enc.encode(pairs))
    f.flags.add("END_HEADERS")
    if end:
        f.flags.add("END_STREAM")
    return f


def data_frame(sid: int, data: bytes, end: bool = False) -> hf.DataFrame:
    f = hf.DataFrame(sid, data)
    if end:
        f.flags.add("END_STREAM")
    return f


def request_headers(path: str = CREATE, **extra: str) -> list[tuple[str, str]]:
    pairs = [(":method", "POST"), (":scheme", "http"), (":path", path)]
    pairs += [(":authority", "localhost"), ("content-type", "application/grpc")]
    return [*pairs, ("containerd-namespace", "dockertrace-lesson"), *extra.items()]


def call(
    cenc: hpack.Encoder,
    senc: hpack.Encoder,
    sid: int = 1,
    path: str = CREATE,
    status: str = "0",
    request: bytes | None = None,
) -> tuple[bytes, bytes]:
    """One unary call: the client's bytes and the server's."""
    client = serial(
        headers_frame(cenc, sid, request_headers(path)),
        data_frame(sid, request if request is not None else message(REQUEST), end=True),
    )
    server = serial(
        headers_frame(senc, sid, [(":status", "200"), ("content-type", "application/grpc")]),
        data_frame(sid, message(RESPONSE)),
        headers_frame(senc, sid, [("grpc-status", status), ("grpc-message", "")], end=True),
    )
    return client, server


def settings() -> bytes:
    return serial(hf.SettingsFrame(0, settings={hf.SettingsFrame.HEADER_TABLE_SIZE: 4096}))


def run(steps: list[tuple[str, bytes]]) -> list[Event]:
    core = ConnectionCore(3, Peer(pid=42, comm="ctr"))
    out = core.accepted(0)
    for t, (side, data) in enumerate(steps, start=1):
        out += core.client_data(data, t) if side == "c" else core.daemon_data(data, t)
    n = len(steps) + 1
    return out + core.client_eof(n) + core.daemon_eof(n + 1) + core.closed("test over", n + 2)


def of(events: list[Event], kind: str) -> list[dict[str, Any]]:
    return [dict(e.detail) for e in events if e.kind == kind]


def test_a_unary_call_is_decoded_with_its_messages_and_status() -> None:
    client, server = call(hpack.Encoder(), hpack.Encoder())
    events = run([("c", PREFACE + settings() + client), ("d", settings() + server)])
    assert not of(events, "proxy.error")
    (got,) = of(events, "grpc.call")
    assert (got["service"], got["method"]) == (
        "containerd.services.containers.v1.Containers",
        "Create",
    )
    assert (got["status"], got["status_name"], got["http_status"]) == (0, "OK", 200)
    assert got["request"] == [{"1": "dockertrace-lesson-echo", "2": "x"}]
    assert got["response"] == [{"1": 1764626400, "2": 7}]
    assert got["request_size"] == len(message(REQUEST)) and got["request_messages"] == 1
    assert got["response_size"] == len(message(RESPONSE)) and got["response_messages"] == 1
    assert (got["request_ns"], got["first_byte_ns"], got["last_byte_ns"]) == (1, 2, 2)
    assert got["complete"] is True
    (call_event,) = [e for e in events if e.kind == "grpc.call"]
    assert call_event.layer == "containerd" and call_event.pid == 42
    (summary,) = of(events, "h2.stream")
    assert summary["calls"] == 1
    assert summary["bytes_in"] == len(PREFACE + settings() + client)


def test_the_same_bytes_cut_anywhere_give_the_same_call() -> None:
    client, server = call(hpack.Encoder(), hpack.Encoder())
    whole = of(run([("c", PREFACE + client), ("d", server)]), "grpc.call")
    steps = [("c", bytes([b])) for b in PREFACE + client] + [("d", bytes([b])) for b in server]
    split = of(run(steps), "grpc.call")
    for d in whole + split:
        for key in ("request_ns", "first_byte_ns", "last_byte_ns"):
            d.pop(key)
    assert split == whole


def test_an_answer_read_before_its_request_is_still_one_call() -> None:
    """The relay's directions reach the recorder each in order, not in step with each other."""
    client, server = call(hpack.Encoder(), hpack.Encoder())
    events = run([("d", settings() + server), ("c", PREFACE + client)])
    (got,) = of(events, "grpc.call")
    assert (got["method"], got["status_name"], got["complete"]) == ("Create", "OK", True)
    assert got["request"] and got["response"]
    assert (got["request_ns"], got["last_byte_ns"]) == (2, 1)


def test_the_server_may_speak_first_and_calls_share_the_hpack_tables() -> None:
    cenc, senc = hpack.Encoder(), hpack.Encoder()
    c1, s1 = call(cenc, senc, 1, "/containerd.services.tasks.v1.Tasks/Create")
    c2, s2 = call(cenc, senc, 3, "/containerd.services.tasks.v1.Tasks/Start")
    events = run(
        [
            ("d", settings()),
            ("c", PREFACE[:7]),
            ("c", PREFACE[7:] + c1),
            ("d", s1),
            ("c", c2),
            ("d", s2),
        ]
    )
    assert [d["method"] for d in of(events, "grpc.call")] == ["Create", "Start"]
    assert not of(events, "proxy.error")


def test_an_error_status_in_a_trailers_only_answer() -> None:
    cenc, senc = hpack.Encoder(), hpack.Encoder()
    client = serial(
        headers_frame(cenc, 1, request_headers()), data_frame(1, message(REQUEST), True)
    )
    trailers = [
        (":status", "200"),
        ("content-type", "application/grpc"),
        ("grpc-status", "6"),
        ("grpc-message", "container%20%22echo%22: already exists"),
    ]
    server = serial(headers_frame(senc, 1, trailers, end=True))
    (got,) = of(run([("c", PREFACE + client), ("d", server)]), "grpc.call")
    assert (got["status"], got["status_name"]) == (6, "ALREADY_EXISTS")
    assert got["message"] == 'container "echo": already exists'
    assert got["response"] == [] and got["response_messages"] == 0


def test_compressed_messages_and_a_long_stream_stay_bounded() -> None:
    cenc, senc = hpack.Encoder(), hpack.Encoder()
    path = "/containerd.services.events.v1.Events/Subscribe"
    pairs = request_headers(path, **{"grpc-encoding": "gzip"})
    client = serial(headers_frame(cenc, 1, pairs), data_frame(1, message(REQUEST, True), True))
    many = b"".join(message(RESPONSE) for _ in range(50))
    server = serial(
        headers_frame(senc, 1, [(":status", "200"), ("content-type", "application/grpc")]),
        data_frame(1, many),
        headers_frame(senc, 1, [("grpc-status", "1")], end=True),
    )
    (got,) = of(run([("c", PREFACE + client), ("d", server)]), "grpc.call")
    assert got["request"] == [{"1": "dockertrace-lesson-echo", "2": "x"}]
    assert got["response_messages"] == 50 and len(got["response"]) == MESSAGES_SHOWN
    assert got["status_name"] == "CANCELLED"


def test_a_truncated_frame_is_a_proxy_error_and_the_call_is_cut_short() -> None:
    client, server = call(hpack.Encoder(), hpack.Encoder())
    events = run([("c", PREFACE + client), ("d", server[:-4])])
    (error,) = of(events, "proxy.error")
    assert "HTTP/2 from the server: a frame cut short at the close" in error["error"]
    (got,) = of(events, "grpc.call")
    assert got["complete"] is False and got["status"] is None
    assert got["response"] == [{"1": 1764626400, "2": 7}]


def test_an_hpack_table_joined_late_is_reported_not_guessed() -> None:
    cenc, senc = hpack.Encoder(), hpack.Encoder()
    call(cenc, senc, 1)  # the first call fills both tables; this proxy never sees it
    client, server = call(cenc, senc, 3)
    events = run([("c", PREFACE + client), ("d", server)])
    errors = [d["error"] for d in of(events, "proxy.error")]
    assert len(errors) == 2
    assert "client's header block of stream 3 cannot be decoded" in errors[0]
    assert "joined late?" in errors[0] and "server's header block" in errors[1]
    assert not of(events, "grpc.call")  # without its headers it is not known to be gRPC
    (exchange,) = of(events, "h2.exchange")
    assert exchange["stream_id"] == 3 and exchange["path"] is None
    assert "joined late?" in exchange["headers_lost"]


def test_a_message_that_is_not_protobuf_is_reported_and_the_call_kept() -> None:
    client, server = call(hpack.Encoder(), hpack.Encoder(), request=message(b"\x0a\x09short"))
    events = run([("c", PREFACE + client), ("d", server)])
    (error,) = of(events, "proxy.error")
    assert error["error"] == (
        f"gRPC {CREATE}: request message 1 (7 bytes) is not a protobuf "
        "(field 1 says 9 bytes at byte 2, 5 are left)"
    )
    (got,) = of(events, "grpc.call")
    assert got["request"] == [
        {"undecoded": "field 1 says 9 bytes at byte 2, 5 are left", "bytes": 7}
    ]
    assert got["status_name"] == "OK"


def test_a_frame_that_does_not_parse_stops_that_direction_only() -> None:
    cenc, senc = hpack.Encoder(), hpack.Encoder()
    client, server = call(cenc, senc)
    bad = b"\x00\x00\x05\x04\x00\x00\x00\x00\x00" + b"\x00" * 5  # SETTINGS of 5 bytes
    events = run([("c", PREFACE + client), ("d", bad + server)])
    (error,) = of(events, "proxy.error")
    assert "HTTP/2 from the server: a frame that does not parse" in error["error"]
    (got,) = of(events, "grpc.call")
    assert got["complete"] is False and got["request"]
    assert of(events, "h2.stream")[0]["bytes_out"] == len(bad + server)


def test_a_reset_stream_ends_the_call() -> None:
    cenc = hpack.Encoder()
    client = serial(headers_frame(cenc, 1, request_headers()), hf.RstStreamFrame(1, error_code=8))
    (got,) = of(run([("c", PREFACE + client)]), "grpc.call")
    assert (got["reset"], got["reset_by"], got["complete"]) == (8, "client", False)


def test_h2c_after_an_upgrade_follows_stream_one() -> None:
    up = b"POST /grpc HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
    switched = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
    cenc, senc = hpack.Encoder(), hpack.Encoder()
    # stream 1's request was the HTTP/1.1 one; its answer here is not gRPC
    server = serial(headers_frame(senc, 1, [(":status", "200")]), data_frame(1, b"ok", end=True))
    c3, s3 = call(cenc, senc, 3, "/moby.buildkit.v1.Control/Status")
    events = run([("c", up), ("d", switched + settings() + server), ("c", PREFACE + c3), ("d", s3)])
    assert of(events, "http.upgrade")[0]["protocol"] == "h2c"
    exchanges, calls = of(events, "h2.exchange"), of(events, "grpc.call")
    assert [(d["stream_id"], d["path"], d["http_status"]) for d in exchanges] == [(1, "/grpc", 200)]
    assert [(d["service"], d["method"]) for d in calls] == [("moby.buildkit.v1.Control", "Status")]
    assert [e.layer for e in events if e.kind == "grpc.call"] == ["dockerd"]


def test_paths_that_are_not_service_and_method() -> None:
    assert split_path("/a.B/C") == ("a.B", "C")
    assert split_path("/grpc") == ("", "")
    assert split_path("/a/b/c") == ("", "")


def test_bad_http2_is_still_forwarded_byte_for_byte(tmp_path: Path) -> None:
    """Through the real proxy: a preface, a call, then junk; the upstream gets every byte."""
    upstream = str(tmp_path / "up.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(upstream)
    srv.listen(1)
    got = bytearray()

    def serve() -> None:
        conn, _ = srv.accept()
        while chunk := conn.recv(65536):
            got.extend(chunk)
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client, _ = call(hpack.Encoder(), hpack.Encoder())
    sent = PREFACE + client + b"\x00\x00\x05\x04\x00\x00\x00\x00\x00junk!" + b"\xff" * 100
    events: list[Event] = []
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o755)
    with Proxy(
        listen=f"unix://{run_dir}/c.sock", upstream=f"unix://{upstream}", sink=events.append
    ) as p:
        c = socket.socket(socket.AF_UNIX)
        c.connect(p.address.removeprefix("unix://"))
        c.sendall(sent)
        c.shutdown(socket.SHUT_WR)
        while c.recv(4096):
            pass
        c.close()
        thread.join(5)
    srv.close()
    assert bytes(got) == sent
    assert any(e.kind == "proxy.error" and "does not parse" in e.detail["error"] for e in events)


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=300), st.integers(1, 40))
def test_arbitrary_bytes_after_the_preface_never_raise(c: bytes, d: bytes, cut: int) -> None:
    client, server = call(hpack.Encoder(), hpack.Encoder())
    steps = [("c", PREFACE + client[:cut] + c), ("d", server[:cut] + d)]
    events = run(steps)
    assert of(events, "h2.stream")[0]["bytes_in"] == len(steps[0][1])
    assert events[-1].kind == "conn.close"


def test_memoryview_chunks_as_the_relay_may_hand_them() -> None:
    client, server = call(hpack.Encoder(), hpack.Encoder())
    pipe, out = H2Pipe(), []

    def emit(kind: str, t: int, layer: str = "cli", **detail: Any) -> None:
        out.append((kind, detail))

    pipe.data(emit, C2D, memoryview(PREFACE + client), 1)
    pipe.data(emit, D2C, memoryview(server), 2)
    pipe.flush(emit)
    pipe.close(emit, 3)
    assert [k for k, _ in out] == ["grpc.call", "h2.stream"]
    assert out[0][1]["method"] == "Create"
