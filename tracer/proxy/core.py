"""The sans-I/O heart of the proxy: the bytes of one connection in, events out (h11 parses).

The server forwards bytes itself and hands this core a copy of each chunk, tagged with its
direction and the time it was read. HTTP/1.1 is followed with h11 (http1.py). After an upgrade
(`101 UPGRADED`, or the `200` raw-stream form older clients get) the bytes are a raw two-way
pipe, decoded into stdout/stderr frames where the container has no TTY (rawpipe.py). HTTP/2
(prior knowledge or h2c) goes to h2.py, which decodes its gRPC calls.

The seam for a second protocol: a connection's first bytes decide, in `_choose_protocol`, whether
it is HTTP/1.1 (followed here) or HTTP/2; an upgrade decides again in `_hijack`. Whatever is not
HTTP/1.1 is handed to a `Follower` (rawpipe.py), which gets every later chunk and the close.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import h11

from tracer.events import EncodedDetail, Event, Layer
from tracer.proxy.exchange import FRAME_EXCERPT, Exchange
from tracer.proxy.frames import FrameDecoder
from tracer.proxy.h2 import PREFACE, H2Pipe
from tracer.proxy.http1 import Http1
from tracer.proxy.peer import Peer
from tracer.proxy.rawpipe import C2D, D2C, Follower, RawPipe
from tracer.proxy.ttybook import TtyBook

FOLLOWED = ("raw", "h2")  # the modes in which a Follower has the bytes


class ConnectionCore(Http1):
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
        self._init_http()
        self._t_client = 0
        self._t_daemon = 0
        self._follower: Follower | None = None  # what follows the bytes once not HTTP/1.1
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

    def client_data(self, chunk: bytes | memoryview, t: int) -> list[Event]:
        """Bytes the client sent. A memoryview is only read during the call (the recorder
        passes views into its buffer: bulk raw streams are never copied whole)."""
        self.bytes_in += len(chunk)
        self._t_client = t
        if self._follower is not None and self.mode in FOLLOWED:
            self._follower.data(self._emit, C2D, chunk, t)
            return self._take()
        data = bytes(chunk)
        if self.mode == "sniff":
            data = self._sniff(data)
            if not data:
                return self._take()
        if self.mode == "http":
            self._client_http(data, t)
        return self._take()

    def daemon_data(self, chunk: bytes | memoryview, t: int) -> list[Event]:
        """Bytes the daemon sent (a memoryview as for client_data)."""
        self.bytes_out += len(chunk)
        self._t_daemon = t
        if self._follower is not None and self.mode in FOLLOWED:
            self._follower.data(self._emit, D2C, chunk, t)
            return self._take()
        data = bytes(chunk)
        if self.mode in ("http", "sniff", "junk"):
            self._daemon_http(data, t)
        return self._take()

    def flush(self) -> list[Event]:
        """What a follower held back to merge with later bytes (the end of a batch)."""
        self.flush_held()
        return self._take()

    def client_eof(self, t: int) -> list[Event]:
        self.flush_held()
        self._emit("conn.halfclose", t, direction=C2D)
        if self.mode == "sniff":
            self._sniff(b"", final=True)
        if self.mode == "http" and self._req.their_state is not h11.ERROR:
            self._feed_req(b"")
            self._pump(t, eof=True)
        return self._take()

    def daemon_eof(self, t: int) -> list[Event]:
        self.flush_held()
        self._emit("conn.halfclose", t, layer="dockerd", direction=D2C)
        if self.mode in ("http", "sniff", "junk") and self._resp.their_state is not h11.ERROR:
            self._feed_resp(b"")
            self._pump(t, eof=True)
        return self._take()

    def closed(self, reason: str, t: int) -> list[Event]:
        """The connection is gone: report what was cut short, then the close itself."""
        self.flush_held()
        if self._reading is not None:
            self._request_done(self._reading, t, complete=False)
        if self._inflight is not None and self._inflight.status is not None:
            self._response_done(self._inflight, t, complete=False)
        if self._follower is not None:
            self._follower.close(self._emit, t)
        self._emit("conn.close", t, bytes_in=self.bytes_in, bytes_out=self.bytes_out, reason=reason)
        return self._take()

    # -- HTTP/1.1 or not ----------------------------------------------------------------

    def _sniff(self, data: bytes, final: bool = False) -> bytes:
        """Hold the first bytes until they show HTTP/2's preface or not."""
        self._sniffed += data
        if len(self._sniffed) < len(PREFACE) and PREFACE.startswith(self._sniffed) and not final:
            return b""
        data, self._sniffed = self._sniffed, b""
        if self._choose_protocol(data) == "h2":
            self._follow("h2", H2Pipe())
            held = self._resp.trailing_data[0]  # a gRPC server may have spoken first: h11 has it
            if held:
                self._follower_data(D2C, held, self._t_daemon)
            self._follower_data(C2D, data, self._t_client)
            return b""
        self.mode = "http"
        if final and data:
            self._feed_req(data)
        return data

    def _hijack(self, x: Exchange, protocol: str, t: int) -> None:
        """The connection stops being HTTP: report the answer, then follow the raw bytes."""
        x.t_last = t
        self._response_done(x, t)
        client_rest = self._req.trailing_data[0]
        daemon_rest = self._resp.trailing_data[0]
        self._inflight = None
        if protocol == "h2c":
            self._emit("http.upgrade", t, layer="dockerd", seq=x.seq, protocol=protocol, tty=False)
            self._follow("h2", H2Pipe(x.seq, upgraded=(x.method, x.path, x.t_request)))
        else:
            tty = self.book.for_stream(x.endpoint, x.request_json)
            pipe = RawPipe(x.seq, protocol, tty, t, FrameDecoder(FRAME_EXCERPT))
            if tty is not None:
                pipe.announce(self._emit, tty)
            else:  # the create exchange may come next, from another connection's batch
                pipe.ask = partial(self.book.for_stream, x.endpoint, x.request_json)
            self._follow("raw", pipe)
        if daemon_rest:
            self._follower_data(D2C, daemon_rest, t)
        if client_rest:
            self._follower_data(C2D, client_rest, self._t_client)

    # -- the seam: which protocol follows -------------------------------------------------

    def _choose_protocol(self, first: bytes) -> str:
        """A connection's first bytes decide: "h2" (HTTP/2's preface: prior knowledge, as gRPC
        clients send it) or "http" (HTTP/1.1, which may upgrade later: see _hijack)."""
        return "h2" if first.startswith(PREFACE) else "http"

    def _follow(self, mode: str, follower: Follower) -> None:
        self.mode = mode
        self._follower = follower

    def _follower_data(self, direction: str, data: bytes, t: int) -> None:
        if self._follower is not None:
            self._follower.data(self._emit, direction, data, t)

    # -- events ---------------------------------------------------------------------------

    def _emit(self, kind: str, t: int, layer: Layer = "cli", **detail: Any) -> None:
        self._append(kind, t, layer, {"conn": self.conn, **detail})

    def _emit_encoded(
        self, kind: str, t: int, layer: Layer, detail: dict[str, Any], json_after_conn: str
    ) -> None:
        """_emit for a detail whose JSON text (what follows "conn") a template made: the
        recorder then writes it without encoding it again (events.EncodedDetail)."""
        text = f'{{"conn":{self.conn}{json_after_conn}'
        self._append(kind, t, layer, EncodedDetail({"conn": self.conn, **detail}, text))

    def _append(self, kind: str, t: int, layer: Layer, detail: dict[str, Any]) -> None:
        self._out.append(
            Event(
                time_ns=t,
                source="proxy",
                layer=layer,
                kind=kind,
                pid=self.peer.pid,
                comm=self.peer.comm,
                detail=detail,
            )
        )

    def flush_held(self) -> None:
        if self._follower is not None:
            self._follower.flush(self._emit)

    @property
    def waiting(self) -> bool:
        """Whether its raw pipe waits for the TTY book: to be flushed at every batch's end."""
        return isinstance(self._follower, RawPipe) and self._follower.waiting

    def _take(self) -> list[Event]:
        out, self._out = self._out, []
        return out
