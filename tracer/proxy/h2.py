"""HTTP/2 seen from the middle (gRPC with prior knowledge, h2c): frames in, `grpc.call`s out.

Sans-I/O like the rest of the core: the bytes of each direction come in as they were forwarded
(already on their way, untouched), and events go out through `emit`. hyperframe cuts and parses
the frames and hpack decodes the header blocks, one HPACK decoder per direction since each
side keeps its own table; both are passive libraries, which is why they are used rather than
h2, whose connection object is one endpoint that acknowledges, updates windows and would
refuse a response to a stream it did not open itself.

The side that sends the connection preface is the client (ctr, a kubelet; on dockerd's /session
the roles can be either way round). A stream is one call: its request headers, its messages
(tracer/proxy/grpc.py), its response headers and trailers. It is reported when the server ends
it (END_STREAM or RST_STREAM) or when the connection closes. Anything that cannot be followed
(a frame that does not parse, one cut short at the close, a header block whose HPACK table
entries were never seen) is a `proxy.error` with the reason; that direction is then only
counted, and its bytes were forwarded all the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import hpack
import hyperframe.frame as hf
from hyperframe.exceptions import HyperframeError

from tracer.proxy.grpc import Messages, split_path, status_detail
from tracer.proxy.rawpipe import C2D, D2C, Emit

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HEADER_TABLE_SIZE = 0x1


@dataclass
class _Side:
    """One direction: its unparsed bytes, its HPACK decoder, a header block being continued."""

    direction: str
    buf: bytearray = field(default_factory=bytearray)
    hpack: hpack.Decoder = field(default_factory=hpack.Decoder)
    block: bytearray | None = None
    block_stream: int = 0
    block_ends: bool = False  # END_STREAM was on the HEADERS frame the block started in
    preface: bool | None = None  # None until the first bytes show whether it sent one
    lost: str = ""  # why frames of this side are no longer parsed
    headers_lost: str = ""  # why its header blocks are no longer decoded


@dataclass
class _Call:
    stream_id: int
    t_request: int
    request: dict[str, str] = field(default_factory=dict)
    response: dict[str, str] = field(default_factory=dict)
    trailers: dict[str, str] = field(default_factory=dict)
    sent: Messages = field(default_factory=Messages)
    received: Messages = field(default_factory=Messages)
    t_first: int | None = None
    t_last: int | None = None  # when the server ended it
    requested: bool = False  # the client's headers were seen (they may come after the answer)
    client_ended: bool = False
    server_ended: bool = False
    headers_lost: str = ""


class H2Pipe:
    """One HTTP/2 connection. `data()` takes each direction's bytes; `close()` reports what the
    end of the connection cut short, and a summary."""

    def __init__(self, seq: int = 0, upgraded: tuple[str, str, int] | None = None) -> None:
        """`upgraded`: after h2c, the HTTP/1.1 request (method, path, time) that is stream 1."""
        self.seq = seq
        self.sides = {C2D: _Side(C2D), D2C: _Side(D2C)}
        self.client = C2D  # the direction the requests come from
        self.calls: dict[int, _Call] = {}
        self.reported = 0
        self.bytes = {C2D: 0, D2C: 0}
        if upgraded is not None:
            method, path, t = upgraded
            first = self._call(1, t)
            first.request = {":method": method, ":path": path}
            first.requested = first.client_ended = True

    def data(self, emit: Emit, direction: str, data: bytes | memoryview, t: int) -> None:
        self.bytes[direction] += len(data)
        side = self.sides[direction]
        if side.lost:
            return
        side.buf += data
        if side.preface is None:
            if len(side.buf) < len(PREFACE) and PREFACE.startswith(side.buf):
                return
            side.preface = side.buf.startswith(PREFACE)
            if side.preface:
                del side.buf[: len(PREFACE)]
                self.client = direction
        pos, buf = 0, side.buf
        while len(buf) - pos >= 9:
            length = int.from_bytes(buf[pos : pos + 3], "big")
            if len(buf) - pos < 9 + length:
                break
            try:  # (copies: a frame may keep a view of what it parsed, and buf shrinks below)
                frame, _ = hf.Frame.parse_frame_header(memoryview(bytes(buf[pos : pos + 9])))
                frame.parse_body(memoryview(bytes(buf[pos + 9 : pos + 9 + length])))
            except (HyperframeError, ValueError) as e:
                self._lose(emit, side, f"a frame that does not parse ({e})", t)
                return
            pos += 9 + length
            self._frame(emit, side, frame, t)
        del buf[:pos]

    def flush(self, emit: Emit) -> None:
        """Nothing is held back to merge with later bytes: a call is reported when it ends."""

    def close(self, emit: Emit, t: int) -> None:
        for side in self.sides.values():
            if side.buf and not side.lost:
                want = int.from_bytes(side.buf[:3], "big") + 9 if len(side.buf) >= 9 else 9
                why = f"a frame cut short at the close ({len(side.buf)} of its {want} bytes came)"
                self._lose(emit, side, why, t, counted=False)
        for call in list(self.calls.values()):  # (an answer ends a call the client left open)
            self._report(emit, call, t, complete=call.server_ended)
        emit(
            "h2.stream",
            t,
            seq=self.seq,
            bytes_in=self.bytes[C2D],
            bytes_out=self.bytes[D2C],
            calls=self.reported,
        )

    # -- frames ---------------------------------------------------------------------------

    def _frame(self, emit: Emit, side: _Side, frame: hf.Frame, t: int) -> None:
        flags = frame.flags
        if isinstance(frame, hf.HeadersFrame | hf.PushPromiseFrame):
            side.block, side.block_stream = bytearray(frame.data), frame.stream_id
            side.block_ends = isinstance(frame, hf.HeadersFrame) and "END_STREAM" in flags
            if isinstance(frame, hf.PushPromiseFrame):
                side.block_stream = 0  # decoded only to keep the table in step
        elif isinstance(frame, hf.ContinuationFrame) and side.block is not None:
            side.block += frame.data
        elif isinstance(frame, hf.DataFrame):
            self._data(emit, side, frame, t)
        elif isinstance(frame, hf.RstStreamFrame):
            if (call := self.calls.get(frame.stream_id)) is not None:
                reset = {"reset": frame.error_code, "reset_by": self._who(side)}
                self._report(emit, call, t, complete=False, **reset)
        elif isinstance(frame, hf.SettingsFrame) and HEADER_TABLE_SIZE in frame.settings:
            # The limit this side sets is the one the other side's encoder must keep to.
            other = self.sides[D2C if side.direction == C2D else C2D]
            other.hpack.max_allowed_table_size = frame.settings[HEADER_TABLE_SIZE]
        if "END_HEADERS" in flags and side.block is not None:
            self._headers(emit, side, t)

    def _headers(self, emit: Emit, side: _Side, t: int) -> None:
        block, side.block = bytes(side.block or b""), None
        sid = side.block_stream
        headers: dict[str, str] | None = None
        if not side.headers_lost:
            try:
                pairs = side.hpack.decode(block, raw=True)
                headers = {n.decode("latin-1"): v.decode("utf-8", "replace") for n, v in pairs}
            except (hpack.HPACKError, ValueError, IndexError) as e:
                side.headers_lost = (
                    f"the {self._who(side)}'s header block of stream {sid} cannot be decoded "
                    f"({type(e).__name__}: {e}): its HPACK table refers to entries this proxy "
                    "never saw (joined late?); its later headers are unknown"
                )
                emit("proxy.error", t, layer="proxy", seq=self.seq, error=side.headers_lost)
        if not sid:
            return
        # The relay's two directions reach the recorder each in order but not in step with
        # each other: an answer may come before its request, so either side opens the call.
        requesting = side.direction == self.client
        call = self.calls.get(sid) or self._call(sid, t)
        if requesting and not call.requested:
            call.requested, call.t_request = True, t
        if headers is None:
            call.headers_lost = side.headers_lost
        elif requesting:
            call.request = headers
            call.sent.encoding = headers.get("grpc-encoding", "identity")
        elif not call.response:
            call.response, call.t_first = headers, t
            call.received.encoding = headers.get("grpc-encoding", "identity")
            if "grpc-status" in headers:  # a trailers-only answer
                call.trailers = headers
        else:
            call.trailers = headers
        if side.block_ends:
            self._ended(emit, side, call, t)

    def _data(self, emit: Emit, side: _Side, frame: hf.DataFrame, t: int) -> None:
        call = self.calls.get(frame.stream_id) or self._call(frame.stream_id, t)
        requesting = side.direction == self.client
        messages = call.sent if requesting else call.received
        if call.t_first is None and not requesting:
            call.t_first = t
        if _is_grpc(call):
            for problem in messages.feed(bytes(frame.data)):
                what = "request" if requesting else "response"
                error = f"gRPC {call.request.get(':path', '?')}: {what} {problem}"
                emit("proxy.error", t, layer="proxy", seq=self.seq, error=error)
        else:
            messages.size += len(frame.data)
        if "END_STREAM" in frame.flags:
            self._ended(emit, side, call, t)

    def _ended(self, emit: Emit, side: _Side, call: _Call, t: int) -> None:
        if side.direction == self.client:
            call.client_ended = True
        else:
            call.server_ended, call.t_last = True, t
        if call.client_ended and call.server_ended:
            self._report(emit, call, t, complete=True)

    # -- events ---------------------------------------------------------------------------

    def _call(self, sid: int, t: int) -> _Call:
        call = self.calls[sid] = _Call(sid, t)
        return call

    def _report(self, emit: Emit, call: _Call, t: int, complete: bool, **extra: Any) -> None:
        self.calls.pop(call.stream_id, None)
        self.reported += 1
        path = call.request.get(":path", "")
        service, method = split_path(path)
        timing = {
            "request_ns": call.t_request,
            "first_byte_ns": call.t_first,
            "last_byte_ns": call.t_last or t,
        }
        sizes = {
            "request_size": call.sent.size,
            "response_size": call.received.size,
            "request_messages": call.sent.count,
            "response_messages": call.received.count,
        }
        if not complete and (call.sent.partial or call.received.partial):
            extra["cut_short"] = "a message was cut in the middle"
        if call.headers_lost:
            extra["headers_lost"] = call.headers_lost
        common = {"seq": self.seq, "stream_id": call.stream_id, "path": path or None}
        raw_status = call.response.get(":status", "")
        http_status = int(raw_status) if raw_status.isdigit() else None
        if not _is_grpc(call):
            detail = {"method": call.request.get(":method"), "http_status": http_status}
            emit(
                "h2.exchange",
                call.t_request,
                layer=_layer(service),
                **common,
                **detail,
                **sizes,
                **timing,
                complete=complete,
                **extra,
            )
            return
        emit(
            "grpc.call",
            call.t_request,
            layer=_layer(service),
            **common,
            service=service,
            method=method,
            authority=call.request.get(":authority", ""),
            http_status=http_status,
            **status_detail(call.trailers),
            **sizes,
            request=call.sent.shown,
            response=call.received.shown,
            **timing,
            complete=complete,
            **extra,
        )

    def _lose(self, emit: Emit, side: _Side, why: str, t: int, counted: bool = True) -> None:
        side.lost, side.buf = why, bytearray()
        error = f"HTTP/2 from the {self._who(side)}: {why}"
        error += "; the rest of it is only counted" if counted else ""
        emit("proxy.error", t, layer="proxy", seq=self.seq, error=error)

    def _who(self, side: _Side) -> str:
        return "client" if side.direction == self.client else "server"


def _is_grpc(call: _Call) -> bool:
    kind = call.request.get("content-type") or call.response.get("content-type", "")
    return kind.startswith("application/grpc")


def _layer(service: str) -> Any:
    # The core does not know which daemon is upstream; containerd's services name themselves
    # (containerd.services.*); the other HTTP/2 a proxy here sees is dockerd's (/grpc, /session).
    return "containerd" if service.startswith("containerd.") else "dockerd"
