"""The proxy's I/O: a listening socket, a byte relay per connection, and one recorder thread.

Forwarding and recording are kept apart. Each connection gets two blocking threads, one per
direction, that read a chunk, queue a copy for the recorder and write the chunk on at once
(measured faster than an asyncio relay: see bench/proxy.md). The recorder thread feeds the
copies to a `ConnectionCore` per connection and hands its events to the sink, so parsing never
delays a forwarded byte. A direction that ends is passed on with shutdown(SHUT_WR); the other
direction stays open until it ends too. Nothing times out.

Honest failures: if the daemon's socket cannot be reached when a client connects, the proxy
records `upstream.unreachable` and closes the client's connection without writing a byte (the
docker CLI then reports a failed connection, never an answer "from the daemon"). A malformed
request is forwarded unchanged like everything else: the daemon itself answers it (Go's
net/http sends `400 Bad Request` and closes that connection); the record says which request
could not be parsed and what the daemon answered. Other connections are not affected.

Listening on TCP requires TLS with verified client certificates (see tracer/proxy/tls.py).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import select
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from tracer.endpoint import current_endpoint
from tracer.events import Event, EventSink, monotonic_ns
from tracer.proxy.core import ConnectionCore
from tracer.proxy.listen import TlsConfig, bind_listener, parse_address, release_listener
from tracer.proxy.peer import describe_peer, peer_credentials
from tracer.proxy.ttybook import TtyBook

DEFAULT_SOCKET = "/run/dockertrace/docker.sock"
DEFAULT_LISTEN = f"unix://{DEFAULT_SOCKET}"
CHUNK = 64 * 1024
BACKLOG_LIMIT = 16 * 1024 * 1024  # bytes a direction may run ahead of the recorder

# Items on the recorder's queue: (what, connection id, payload, time_ns).
Item = tuple[str, int, Any, int]


def _ignore(_: Event) -> None:
    pass


class Proxy:
    """Listen, forward to the daemon, record. Usable from synchronous code and as a context
    manager: start() returns once listening; close() stops everything and removes the socket."""

    def __init__(
        self,
        listen: str = DEFAULT_LISTEN,
        upstream: str | None = None,
        sink: EventSink | None = None,
        tls: TlsConfig | None = None,
    ) -> None:
        self.listen = listen
        self.upstream = upstream or current_endpoint().url
        self.sink: EventSink = sink or _ignore
        self.tls = tls
        self._upstream_family, self._upstream_addr = parse_address(self.upstream)
        self._listener: socket.socket | None = None
        self._socket_path: str | None = None
        self._wake_r, self._wake_w = -1, -1
        self._ids = itertools.count(1)
        self._relays: dict[int, Relay] = {}
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[Item] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._closing = False
        self.address = ""

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> Proxy:
        self._listener, self._socket_path, self.address = bind_listener(self.listen, self.tls)
        self._wake_r, self._wake_w = os.pipe()
        for name, target in (("recorder", self._record), ("acceptor", self._accept)):
            thread = threading.Thread(target=target, name=f"dockertrace-proxy-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def close(self) -> None:
        if self._closing or self._listener is None:
            return
        self._closing = True
        os.write(self._wake_w, b"x")
        with self._lock:
            relays = list(self._relays.values())
        for relay in relays:
            relay.abort("proxy closing")
        for relay in relays:
            relay.join(2.0)
        self._queue.put(("stop", 0, None, 0))
        for thread in self._threads:
            thread.join(5.0)
        release_listener(self._listener, self._socket_path)
        os.close(self._wake_r)
        os.close(self._wake_w)

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- threads --------------------------------------------------------------------------

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._closing:
            ready, _, _ = select.select([self._listener.fileno(), self._wake_r], [], [])
            if self._wake_r in ready:
                return
            try:
                client, _ = self._listener.accept()
            except OSError:
                continue
            conn = next(self._ids)
            relay = Relay(self, conn, client)
            with self._lock:
                self._relays[conn] = relay
            relay.start()

    def _record(self) -> None:
        """The recorder: feeds each connection's core, in order, and emits its events."""
        cores: dict[int, ConnectionCore] = {}
        book = TtyBook()
        get, sink = self._queue.get, self.sink
        while True:
            what, conn, payload, t = get()
            if what == "stop":
                return
            core = cores.get(conn)
            events: list[Event] = []
            try:
                if what == "c":
                    events = core.client_data(payload, t) if core else []
                elif what == "d":
                    events = core.daemon_data(payload, t) if core else []
                elif what == "open":
                    core = cores[conn] = ConnectionCore(conn, describe_peer(payload), book)
                    events = core.accepted(t)
                elif what == "ceof" and core:
                    events = core.client_eof(t)
                elif what == "deof" and core:
                    events = core.daemon_eof(t)
                elif what == "unreachable" and core:
                    events = [core.unreachable(self.upstream, payload, t)]
                elif what == "close" and core:
                    events = core.closed(payload, t)
                    del cores[conn]
            except Exception as e:  # a recorder bug must never stop the forwarding
                events = [_proxy_error(conn, f"recorder: {type(e).__name__}: {e}", t)]
                if core is not None:
                    core.mode = "opaque"
            if what in ("c", "d"):
                relay = self._relays.get(conn)
                if relay is not None:
                    relay.recorded[what] += len(payload)
            for event in events:
                with contextlib.suppress(Exception):  # the sink's problem; keep recording
                    sink(event)

    def _forget(self, conn: int) -> None:
        with self._lock:
            self._relays.pop(conn, None)

    def connect_upstream(self) -> socket.socket:
        sock = socket.socket(self._upstream_family, socket.SOCK_STREAM)
        try:
            sock.connect(self._upstream_addr)
        except OSError:
            sock.close()
            raise
        if self._upstream_family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


def _proxy_error(conn: int, error: str, t: int) -> Event:
    return Event(t, "proxy", "proxy", "proxy.error", detail={"conn": conn, "error": error})


class Relay:
    """One client connection: two threads copying bytes, one per direction."""

    def __init__(self, proxy: Proxy, conn: int, client: socket.socket) -> None:
        self.proxy = proxy
        self.conn = conn
        self.client = client
        self.upstream: socket.socket | None = None
        self.recorded = {"c": 0, "d": 0}  # bytes the recorder has taken (it alone writes)
        self.queued = {"c": 0, "d": 0}  # bytes handed to it (each pump writes its own)
        self._ended = 0
        self._lock = threading.Lock()
        self._reason = ""
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._spawn(self._client_side, "c2d")

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=f"proxy-{self.conn}-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def join(self, timeout: float) -> None:
        for thread in list(self._threads):
            thread.join(timeout)

    def _client_side(self) -> None:
        put = self.proxy._queue.put
        t = monotonic_ns()
        put(("open", self.conn, peer_credentials(self.client), t))
        try:
            self.upstream = self.proxy.connect_upstream()
        except OSError as e:
            put(("unreachable", self.conn, e.strerror or str(e), monotonic_ns()))
            self._close_all(f"upstream unreachable: {e.strerror or e}")
            return
        self._spawn(self._daemon_side, "d2c")
        self._pump(self.client, self.upstream, "c")

    def _daemon_side(self) -> None:
        assert self.upstream is not None
        self._pump(self.upstream, self.client, "d")

    def _pump(self, src: socket.socket, dst: socket.socket, tag: str) -> None:
        put, recv, send, conn = self.proxy._queue.put, src.recv, dst.sendall, self.conn
        queued, recorded = self.queued, self.recorded
        clock = monotonic_ns
        error = ""
        while True:
            try:
                data = recv(CHUNK)
            except OSError as e:
                error = f"{'client' if tag == 'c' else 'daemon'} read: {e.strerror or e}"
                break
            if not data:
                break
            put((tag, conn, data, clock()))
            try:
                send(data)
            except OSError as e:
                error = f"{'daemon' if tag == 'c' else 'client'} write: {e.strerror or e}"
                break
            queued[tag] += len(data)
            while queued[tag] - recorded[tag] > BACKLOG_LIMIT and not self.proxy._closing:
                time.sleep(0.001)  # the recorder is behind: bound memory, not the stream
        self._end(src, dst, tag, error)

    def _end(self, src: socket.socket, dst: socket.socket, tag: str, error: str) -> None:
        """A direction ended: pass the half-close on, and close when both have ended."""
        self.proxy._queue.put((tag + "eof", self.conn, None, monotonic_ns()))
        with self._lock:
            if not self._reason:
                side = "client" if tag == "c" else "daemon"
                self._reason = error or f"{side} closed first"
        if error and tag == "d":  # the client is gone: nobody will read what the daemon says
            self.abort(error)
        else:
            with contextlib.suppress(OSError):
                if self.proxy.tls is not None and tag == "d":
                    dst.shutdown(socket.SHUT_RDWR)  # TLS cannot half-close; see tls.py
                else:
                    dst.shutdown(socket.SHUT_WR)
            if error:
                with contextlib.suppress(OSError):
                    src.shutdown(socket.SHUT_RD)
        with self._lock:
            self._ended += 1
            last = self._ended == 2
        if last:
            self._close_all(self._reason)

    def abort(self, reason: str) -> None:
        """Wake both pumps: shut both sockets in both directions."""
        with self._lock:
            if not self._reason or reason == "proxy closing":
                self._reason = reason
        for sock in (self.client, self.upstream):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _close_all(self, reason: str) -> None:
        for sock in (self.client, self.upstream):
            if sock is not None:
                sock.close()
        self.proxy._queue.put(("close", self.conn, reason, monotonic_ns()))
        self.proxy._forget(self.conn)
