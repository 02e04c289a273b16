"""The sans-I/O heart of the proxy: the bytes of one connection in, events out (h11 parses).

The server forwards bytes itself and hands this core a copy of each chunk, tagged with its
direction and the time it was read. Two h11 connections follow the conversation: one in the
server role reads the client's requests, one in the client role reads the daemon's responses;
each is told what the other side said (framing headers removed, since only the state matters)
so both stay in step. After an upgrade (`101 UPGRADED`, or the `200` raw-stream form older
clients get) the bytes are a raw two-way pipe, decoded into stdout/stderr frames where the
container has no TTY. HTTP/2 (prior knowledge or h2c) goes to tracer/proxy/h2.py (gRPC calls).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import h11

from tracer import redact
from tracer.events import Event, Layer
from tracer.proxy.exchange import FRAME_EXCERPT, Exchange, split_target
from tracer.proxy.frames import FrameDecoder, looks_multiplexed
from tracer.proxy.h2 import PREFACE, H2Pipe
from tracer.proxy.peer import Peer
from tracer.proxy.rawpipe import C2D, D2C, RawPipe, emit_frame
from tracer.proxy.ttybook import TtyBook, is_hijack_endpoint

MAX_HEAD = 1024 * 1024  # Go's net/http accepts 1 MiB of headers; h11's default is 16 KiB
RAW_STREAM_TYPES = (
    "application/vnd.docker.raw-stream",
    "application/vnd.docker.multiplexed-stream",
)
# What the h11 twins are told: only the headers that change how the conversation goes on
# (keep-alive, upgrades). Bodies' framing is left out, since their bytes are not replayed.
_STATE_HEADERS = (b"host", b"connection", b"upgrade")


def _header(headers: h11._headers.Headers, name: bytes) -> str:
    return b", ".join(v for n, v in headers if n == name).decode("latin-1")


class ConnectionCore:
    """Follows one client connection. Each method takes what happened (bytes, end of a
    direction, close) with its CLOCK_MONOTONIC time and returns the events it produced."""

    def __init__(self, conn: int, peer: Peer, book: TtyBook | None = None) -> None:
        self.conn = conn
        self.peer = peer
        self.book = book if book is not None else TtyBook()
        self.mode = "sniff"  # sniff → http → raw | h2 | junk | opaque
        self.bytes_in = 0  # client → daemon
        self.bytes_out = 0  # daemon → client
        self._sniffed = b""
        self._req = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self._resp = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        self._seq = 0
        self._reading: Exchange | None = None  # the request whose body is being read
        self._unsent: deque[Exchange] = deque()  # requests not yet told to the response side
        self._inflight: Exchange | None = None  # the exchange whose response is being read
        self._req_mark: int | None = None  # time of the first unparsed client byte
        self._resp_mark: int | None = None
        self._t_client = 0
        self._t_daemon = 0
        self._raw: RawPipe | None = None
        self._h2: H2Pipe | None = None
        self._out: list[Event] = []

    # -- inputs ---------------------------------------------------------------------------

    def accepted(self, t: int) -> list[Event]:
        p = self.peer
        self._emit(
            "conn.accept",
            t,
            peer_pid=p.pid,
            peer_uid=p.uid,
            peer_gid=p.gid,
            peer_comm=p.comm,
            peer_argv=list(p.argv),
        )
        return self._take()

    def unreachable(self, upstream: str, error: str, t: int) -> Event:
        self._emit("upstream.unreachable", t, layer="proxy", upstream=upstream, error=error)
        return self._take()[0]

    def client_data(self, data: bytes, t: int) -> list[Event]:
        self.bytes_in += len(data)
        self._t_client = t
        if self.mode == "sniff":
            data = self._sniff(data)
            if not data:
                return self._take()
        if self.mode == "http":
            if self._req_mark is None:
                self._req_mark = t
            self._req.receive_data(data)
            self._pump(t)
        elif self.mode == "raw" and self._raw is not None:
            self._raw.data(self._emit, C2D, data, t)
        elif self.mode == "h2" and self._h2 is not None:
            self._h2.data(self._emit, C2D, data, t)
        return self._take()

    def daemon_data(self, data: bytes, t: int) -> list[Event]:
        self.bytes_out += len(data)
        self._t_daemon = t
        if self.mode in ("http", "sniff", "junk"):
            if self._resp_mark is None:
                self._resp_mark = t
            self._resp.receive_data(data)
            self._pump(t)
        elif self.mode == "raw" and self._raw is not None:
            self._raw.data(self._emit, D2C, data, t)
        elif self.mode == "h2" and self._h2 is not None:
            self._h2.data(self._emit, D2C, data, t)
        return self._take()

    def client_eof(self, t: int) -> list[Event]:
        self._emit("conn.halfclose", t, direction=C2D)
        if self.mode == "sniff":
            self._sniff(b"", final=True)
        if self.mode == "http" and self._req.their_state is not h11.ERROR:
            self._req.receive_data(b"")
            self._pump(t, eof=True)
        return self._take()

    def daemon_eof(self, t: int) -> list[Event]:
        self._emit("conn.halfclose", t, layer="dockerd", direction=D2C)
        if self.mode in ("http", "sniff", "junk") and self._resp.their_state is not h11.ERROR:
            self._resp.receive_data(b"")
            self._pump(t, eof=True)
        return self._take()

    def closed(self, reason: str, t: int) -> list[Event]:
        """The connection is gone: report what was cut short, then the close itself."""
        if self._reading is not None:
            self._request_done(self._reading, t, complete=False)
        if self._inflight is not None and self._inflight.status is not None:
            self._response_done(self._inflight, t, complete=False)
        if self._raw is not None and not self._raw.announced:
            self._raw.announce(self._emit, tty=False)
        if self._h2 is not None:
            self._h2.close(self._emit, t)
        self._emit("conn.close", t, bytes_in=self.bytes_in, bytes_out=self.bytes_out, reason=reason)
        return self._take()

    # -- HTTP/1.1 -------------------------------------------------------------------------

    def _sniff(self, data: bytes, final: bool = False) -> bytes:
        """Hold the first bytes until they show HTTP/2's preface or not."""
        self._sniffed += data
        if len(self._sniffed) < len(PREFACE) and PREFACE.startswith(self._sniffed) and not final:
            return b""
        data, self._sniffed = self._sniffed, b""
        if data.startswith(PREFACE):  # a gRPC server may have spoken first: h11 holds that
            self.mode, self._h2 = "h2", H2Pipe()
            self._h2.data(self._emit, D2C, self._resp.trailing_data[0], self._t_daemon)
            return data
        self.mode = "http"
        if final and data:
            self._req.receive_data(data)
        return data

    def _pump(self, t: int, eof: bool = False) -> None:
        while self.mode in ("http", "junk"):
            progressed = self.mode == "http" and self._pump_requests(t, eof)
            if self.mode not in ("http", "junk"):
                break
            progressed = self._pump_responses(t, eof) or progressed
            if not progressed:
                break

    def _pump_requests(self, t: int, eof: bool) -> bool:
        progressed = False
        while self.mode == "http" and self._req.their_state is not h11.ERROR:
            try:
                ev = self._req.next_event()
            except h11.RemoteProtocolError as e:
                if eof and self._reading is None and self._req.their_state is not h11.IDLE:
                    return True
                self._junk_request(str(e) if not eof else f"request cut short: {e}", t)
                return True
            if ev is h11.NEED_DATA or ev is h11.PAUSED or isinstance(ev, h11.ConnectionClosed):
                break
            progressed = True
            if isinstance(ev, h11.Request):
                self._request_head(ev, t)
            elif isinstance(ev, h11.Data) and self._reading is not None:
                self._reading.request_body.add(ev.data)
            elif isinstance(ev, h11.EndOfMessage) and self._reading is not None:
                self._request_done(self._reading, t)
        self._next_cycle(self._req, "req")
        return progressed

    def _request_head(self, ev: h11.Request, t: int) -> None:
        self._seq += 1
        target = ev.target.decode("latin-1")
        path, endpoint, version, query = split_target(target)
        mirror = [(n, v) for n, v in ev.headers if n in _STATE_HEADERS]
        if not any(n == b"host" for n, _ in mirror):
            mirror.append((b"host", b"recorded"))
        if (
            ev.http_version == b"1.0"
            and b"keep-alive" not in _header(ev.headers, b"connection").encode()
        ):
            mirror.append((b"connection", b"close"))
        x = Exchange(
            seq=self._seq,
            method=ev.method.decode("latin-1"),
            target=target,
            path=path,
            endpoint=endpoint,
            api_version=version,
            query=query,
            headers=redact.headers(ev.headers.raw_items()),
            t_request=self._req_mark if self._req_mark is not None else t,
            upgrade=_header(ev.headers, b"upgrade").lower(),
        )
        x.request_content_type = _header(ev.headers, b"content-type")
        x.mirror = mirror
        self._req_mark = None
        self._reading = x
        self._unsent.append(x)

    def _request_done(self, x: Exchange, t: int, complete: bool = True) -> None:
        self._reading = None
        body = x.request_body.describe(x.request_content_type)
        x.request_json = body["body_json"]
        extra: dict[str, Any] = {} if complete else {"complete": False}
        self._emit(
            "http.request",
            x.t_request,
            seq=x.seq,
            method=x.method,
            target=x.target,
            path=x.path,
            endpoint=x.endpoint,
            api_version=x.api_version,
            query=x.query,
            headers=x.headers,
            **body,
            **extra,
        )

    def _pump_responses(self, t: int, eof: bool) -> bool:
        progressed = False
        while self.mode in ("http", "junk") and self._resp.their_state is not h11.ERROR:
            if self._inflight is None:
                if not self._unsent or self._resp.our_state is not h11.IDLE:
                    break
                x = self._unsent.popleft()
                try:
                    request = h11.Request(
                        method=x.method or "GET", target=x.target or "/", headers=x.mirror
                    )
                    self._resp.send(request)
                    self._resp.send(h11.EndOfMessage())
                except h11.LocalProtocolError as e:
                    self._give_up(f"cannot follow request {x.seq}: {e}", t)
                    return True
                self._inflight = x
                progressed = True
            x = self._inflight
            try:
                ev = self._resp.next_event()
            except h11.RemoteProtocolError as e:
                if x.status is not None:  # a body cut short by the daemon's close, or broken
                    self._response_done(x, t, complete=False)
                    self.mode = "opaque"
                    if not eof:
                        self._give_up(f"malformed response body: {e}", t)
                elif not eof:
                    self._give_up(f"malformed response from the daemon: {e}", t)
                return True
            if ev is h11.NEED_DATA or ev is h11.PAUSED or isinstance(ev, h11.ConnectionClosed):
                break
            progressed = True
            if isinstance(ev, h11.InformationalResponse):
                if ev.status_code == 101:
                    self._response_head(x, ev, t)
                    self._hijack(x, x.upgrade or "upgrade", t)
            elif isinstance(ev, h11.Response):
                self._response_head(x, ev, t)
                if self._is_raw_stream(x, ev):
                    self._hijack(x, "raw-stream (200)", t)
                else:
                    self._tell_request_side(
                        h11.Response(
                            status_code=ev.status_code,
                            reason=ev.reason,
                            headers=[(n, v) for n, v in ev.headers if n in _STATE_HEADERS],
                        ),
                        t,
                    )
            elif isinstance(ev, h11.Data):
                x.response_body.add(ev.data)
                if x.streaming:
                    self._stream_data(x, ev.data, t)
            elif isinstance(ev, h11.EndOfMessage):
                self._response_done(x, t)
                if self.mode == "junk":
                    self.mode = "opaque"
                    break
                self._tell_request_side(h11.EndOfMessage(), t)
                self._next_cycle(self._resp, "resp")
                self._next_cycle(self._req, "req")
        return progressed

    def _response_head(
        self, x: Exchange, ev: h11.InformationalResponse | h11.Response, t: int
    ) -> None:
        x.status = ev.status_code
        x.reason = ev.reason.decode("latin-1")
        x.response_headers = redact.headers(ev.headers.raw_items())
        x.content_type = _header(ev.headers, b"content-type")
        x.t_first = self._resp_mark if self._resp_mark is not None else t
        self._resp_mark = None
        bodyless = x.method == "HEAD" or x.status in (101, 204, 304)
        chunked = "chunked" in _header(ev.headers, b"transfer-encoding").lower()
        sized = bool(_header(ev.headers, b"content-length"))
        x.streaming = x.status == 101 or (not bodyless and (chunked or not sized))
        if x.streaming and "/logs" in x.endpoint:
            tty = self.book.for_stream(x.endpoint, x.request_json)
            x.frames = FrameDecoder(FRAME_EXCERPT) if tty is not True else None
            x.frames_decided = tty is not None
        if x.streaming and "json" in x.content_type:
            x.json_lines = bytearray()

    def _is_raw_stream(self, x: Exchange, ev: h11.Response) -> bool:
        return (
            ev.status_code == 200
            and x.content_type.startswith(RAW_STREAM_TYPES)
            and is_hijack_endpoint(x.endpoint)
            and not _header(ev.headers, b"content-length")
        )

    def _tell_request_side(self, ev: h11.Response | h11.EndOfMessage, t: int) -> None:
        if self.mode == "junk":  # the request side is past following
            return
        try:
            self._req.send(ev)
        except h11.LocalProtocolError as e:
            self._give_up(f"lost step with the conversation: {e}", t)

    def _next_cycle(self, conn: h11.Connection, side: str) -> None:
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
            if side == "resp":
                self._inflight = None
                self._resp_mark = self._t_daemon if conn.trailing_data[0] else None
            else:
                self._req_mark = self._t_client if conn.trailing_data[0] else None

    def _response_done(self, x: Exchange, t: int, complete: bool = True) -> None:
        if x.reported:
            return
        x.reported = True
        x.t_last = t
        body = x.response_body.describe(x.content_type)
        extra: dict[str, Any] = {} if complete else {"complete": False}
        self._emit(
            "http.response",
            x.t_first,
            layer="dockerd",
            seq=x.seq,
            method=x.method,
            path=x.path,
            endpoint=x.endpoint,
            status=x.status,
            reason=x.reason,
            headers=x.response_headers,
            **body,
            request_ns=x.t_request,
            first_byte_ns=x.t_first,
            last_byte_ns=x.t_last,
            streaming=x.streaming,
            **extra,
        )
        self.book.learn_exchange(x.method, x.endpoint, x.query, x.request_json, body["body_json"])

    # -- streams --------------------------------------------------------------------------

    def _stream_data(self, x: Exchange, data: bytes, t: int) -> None:
        if x.frames is not None and not x.frames_decided:
            x.frames_decided = True
            if not looks_multiplexed(data):
                x.frames = None
        if x.frames is not None:
            pieces = x.frames.feed(data)
        else:
            pieces = [("raw", len(data), data[:FRAME_EXCERPT])]
        for stream, size, head in pieces:
            emit_frame(self._emit, x.seq, D2C, stream, size, head, t)
        if x.json_lines is not None:
            self._scan_for_errors(x, data, t)

    def _scan_for_errors(self, x: Exchange, data: bytes, t: int) -> None:
        for message in x.errors_in_stream(data):
            self._emit("stream.error", t, layer="dockerd", seq=x.seq, message=message)

    def _hijack(self, x: Exchange, protocol: str, t: int) -> None:
        """The connection stops being HTTP: report the answer, then follow the raw bytes."""
        x.t_last = t
        self._response_done(x, t)
        client_rest = self._req.trailing_data[0]
        daemon_rest = self._resp.trailing_data[0]
        self._inflight = None
        if protocol == "h2c":
            self.mode, self._h2 = "h2", H2Pipe(x.seq, upgraded=(x.method, x.path, x.t_request))
            self._emit("http.upgrade", t, layer="dockerd", seq=x.seq, protocol=protocol, tty=False)
            self._h2.data(self._emit, D2C, daemon_rest, t)
            self._h2.data(self._emit, C2D, client_rest, self._t_client)
            return
        tty = self.book.for_stream(x.endpoint, x.request_json)
        self._raw = pipe = RawPipe(x.seq, protocol, tty, t, FrameDecoder(FRAME_EXCERPT))
        self.mode = "raw"
        if tty is not None:
            pipe.announce(self._emit, tty)
        if daemon_rest:
            pipe.data(self._emit, D2C, daemon_rest, t)
        if client_rest:
            pipe.data(self._emit, C2D, client_rest, self._t_client)

    # -- what cannot be followed ----------------------------------------------------------

    def _junk_request(self, error: str, t: int) -> None:
        """The client sent something that is not HTTP/1.1. The bytes went on to the daemon
        unchanged (the proxy forwards before it parses), so the daemon answers it (Go's
        net/http: 400 Bad Request, then close); the record notes the error and that answer."""
        self._emit("proxy.error", t, layer="proxy", error=f"malformed request: {error}")
        self._reading = None
        if self._inflight is not None or self._unsent:
            self.mode = "opaque"  # answers to earlier requests are due first: stop here
            return
        rest = self._resp.trailing_data[0]
        self._resp = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        junk = Exchange(self._seq + 1, "", "", "", "", None, {}, {}, t)
        junk.mirror = [(b"host", b"?"), (b"connection", b"close")]
        self._unsent.append(junk)
        self.mode = "junk"  # only the daemon's answer is left to read
        if rest:
            self._resp.receive_data(rest)
        self._pump_responses(t, eof=False)

    def _give_up(self, error: str, t: int) -> None:
        """Stop parsing this connection (its bytes keep flowing) and say so."""
        self._emit("proxy.error", t, layer="proxy", error=error)
        self.mode = "opaque"

    # -- events ---------------------------------------------------------------------------

    def _emit(self, kind: str, t: int, layer: Layer = "cli", **detail: Any) -> None:
        self._out.append(
            Event(
                time_ns=t,
                source="proxy",
                layer=layer,
                kind=kind,
                pid=self.peer.pid,
                comm=self.peer.comm,
                detail={"conn": self.conn, **detail},
            )
        )

    def _take(self) -> list[Event]:
        out, self._out = self._out, []
        return out
