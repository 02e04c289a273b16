"""The proxy as other code uses it: bind safely, forward in a child process, record here.

Forwarding and recording are kept apart. A child process (tracer/proxy/relay.py) accepts the
connections and relays the bytes with blocking threads (one per connection, polling both
sides, while every write goes at once; then one per direction), and streams a copy of every
chunk, time-stamped, over a socket pair. Here a recorder thread (at a lower CPU
priority) feeds the copies to one `ConnectionCore` per connection and hands the events to the
sink. So parsing, the sink, and whatever else this process runs (a Textual app) never delay
a forwarded byte; measured in bench/proxy.md.

Honest failures: if the daemon's socket cannot be reached when a client connects, the proxy
records `upstream.unreachable` and closes the client's connection without writing a byte: the
docker CLI then reports a failed connection ("error during connect … EOF"/"connection reset"),
never an answer that looks as if the daemon gave it. A malformed request is forwarded unchanged
like everything else, because the proxy forwards before it parses: the daemon itself answers it
(Go's net/http: `400 Bad Request`, then it closes that connection); the record has a
`proxy.error` naming the request that could not be parsed, and the daemon's answer. Other
connections are never affected.

Safety: see tracer/proxy/listen.py (root-only directory, mode 0660 group docker, no live
socket replaced, TCP only with TLS and verified client certificates).
"""

from __future__ import annotations

import array
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from types import TracebackType

from tracer.endpoint import current_endpoint
from tracer.events import Event, EventSink
from tracer.proxy import relay
from tracer.proxy.core import ConnectionCore
from tracer.proxy.listen import ProxyError, TlsConfig, bind_listener, parse_address
from tracer.proxy.peer import describe_peer
from tracer.proxy.ttybook import TtyBook

DEFAULT_SOCKET = "/run/dockertrace/docker.sock"
DEFAULT_LISTEN = f"unix://{DEFAULT_SOCKET}"
# How the recorder thread yields the CPU to the client, the daemon and the relay (bench/proxy.md):
#   "idle": SCHED_IDLE, it runs only on otherwise idle CPU time (the best numbers; but if this
#           process also draws a UI, a starved recorder holding the GIL can stall it);
#   "low":  nice 19 (the default: nearly as good, never starved);  "normal": no change.
# On a saturated machine the recorder may fall behind by the channel's buffer (4 MiB); then
# forwarding waits for it: memory stays bounded and nothing is dropped.
RECORDER_PRIORITIES = ("idle", "low", "normal")
# The recorder reads the channel in batches (see Proxy._record): a read shorter than
# BATCH_MIN is followed by a pause of batch_ms, which is also how long the relay holds the
# copies of small chunks. 5 ms for the app's live views (the hold and the pause add at most
# ~10 ms to an event's way to the screen); `dockertrace proxy` takes 20 (events printed or
# written to a file: a quarter of the recorder's wake-ups, and less CPU per /_ping:
# bench/proxy.md). The buffer holds the largest item twice over.
BATCH_MIN = 64 * 1024
BATCH_MS = 5.0
BATCH_MS_RANGE = (1.0, 100.0)  # above 100 ms a person watching sees the events lag
RECORDER_BUFFER = 2 * (relay.PIPE_SIZE + relay.ITEM.size)

__all__ = ["DEFAULT_LISTEN", "DEFAULT_SOCKET", "Proxy", "ProxyError", "TlsConfig"]


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
        recorder_priority: str = "low",
        batch_ms: float = BATCH_MS,
    ) -> None:
        if recorder_priority not in RECORDER_PRIORITIES:
            raise ValueError(f"recorder_priority must be one of {RECORDER_PRIORITIES}")
        if not BATCH_MS_RANGE[0] <= batch_ms <= BATCH_MS_RANGE[1]:
            low, high = BATCH_MS_RANGE
            raise ValueError(f"batch_ms must be between {low:g} and {high:g} ms, not {batch_ms:g}")
        self.recorder_priority = recorder_priority
        self.batch_ms = batch_ms
        self.listen = listen
        self.upstream = upstream or current_endpoint().url
        self.sink: EventSink = sink or _ignore
        self.tls = tls
        if _same_socket(listen, self.upstream):  # (also: a bad URL fails here, not in the child)
            raise ProxyError(
                f"the upstream {self.upstream} is the proxy's own socket (is DOCKER_HOST set to "
                "the proxy?); pass --upstream unix:///var/run/docker.sock"
            )
        self.address = ""
        self._socket_path: str | None = None
        self._channel: socket.socket | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._recorder: threading.Thread | None = None
        self._closed = False

    def start(self) -> Proxy:
        listener, self._socket_path, self.address = bind_listener(self.listen, self.tls)
        ours, theirs = socket.socketpair()
        argv = [
            sys.executable,
            "-m",
            "tracer.proxy.relay",
            str(listener.fileno()),
            str(theirs.fileno()),
            self.upstream,
            f"{self.batch_ms:g}",
        ]
        if self.tls is not None:
            argv += [self.tls.cert, self.tls.key, self.tls.ca]
        try:
            self._child = subprocess.Popen(
                argv,
                pass_fds=(listener.fileno(), theirs.fileno()),
                stdin=subprocess.DEVNULL,
                cwd=_package_root(),
            )
        except OSError as e:
            self._remove_socket()
            raise ProxyError(f"cannot start the forwarding process: {e}") from e
        finally:
            listener.close()  # the child has its own copy; the backlog keeps queueing
            theirs.close()
        self._channel = ours
        self._recorder = threading.Thread(
            target=self._record, name="dockertrace-proxy-recorder", daemon=True
        )
        self._recorder.start()
        return self

    def close(self) -> None:
        """Stop forwarding (open connections are closed), record what is left, remove the
        socket file."""
        if self._closed or self._channel is None:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._channel.shutdown(socket.SHUT_WR)  # the child's signal to stop
        if self._recorder is not None:
            self._recorder.join(10)
        if self._child is not None:
            try:
                self._child.wait(5)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()
        self._channel.close()
        self._remove_socket()

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _remove_socket(self) -> None:
        if self._socket_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._socket_path)

    # -- the recorder ---------------------------------------------------------------------

    def _record(self) -> None:
        """Read the child's framed copies until it closes the channel; feed and emit.

        Copies are read in batches: after a short read the recorder sleeps batch_ms before
        reading again, so a keep-alive poll costs it one wake-up per batch, not two per
        exchange (and the relay's writes to the channel wake nobody). A full read means bulk
        traffic: it reads on at once. Payloads are views into one reused buffer."""
        _lower_priority(self.recorder_priority)
        pause = self.batch_ms / 1000
        assert self._channel is not None
        recvmsg_into = self._channel.recvmsg_into
        feed = _Feeder(self.upstream, self.sink)
        head = relay.ITEM.size
        unpack = relay.ITEM.unpack_from
        buffer = bytearray(RECORDER_BUFFER)
        view = memoryview(buffer)
        pipes = _CopyPipes()
        start = end = 0  # buffer[start:end] holds bytes of items not yet complete
        try:
            while True:
                try:
                    n, ancillary, _, _ = recvmsg_into([view[end:]], _ANCILLARY, _CLOEXEC)
                except OSError:
                    n, ancillary = 0, []
                pipes.received(ancillary)
                if not n:
                    break
                end += n
                got = n  # the batch's bytes: the channel's, and those read from copy pipes
                while end - start >= head:
                    kind, conn, t, size = unpack(buffer, start)
                    if end - start - head < size:
                        break
                    payload = view[start + head : start + head + size]
                    if kind == relay.COPY_PIPE:
                        pipes.claim(conn)
                    elif kind == relay.DAEMON_PIPED:
                        got += pipes.read(conn, relay.PIPED.unpack(payload)[0], t, feed)
                    else:
                        feed(kind, conn, t, payload)
                        if kind == relay.CLOSE:
                            pipes.drop(conn)
                    start += head + size
                feed.flush()
                if start == end:
                    start = end = 0
                elif len(buffer) - end < relay.PIPE_SIZE + head:  # room for a whole item again
                    buffer[: end - start] = buffer[start:end]
                    start, end = 0, end - start
                if got < BATCH_MIN:  # else bulk traffic: read on at once
                    time.sleep(pause)
            feed.close_all()
        finally:
            pipes.close()


# Room for the descriptors one read of the channel may bring (a copy pipe per bulk stream).
_ANCILLARY = socket.CMSG_SPACE(64 * array.array("i").itemsize)
# Received descriptors close on exec: the docker CLI a live session starts must not hold them.
_CLOEXEC = getattr(socket, "MSG_CMSG_CLOEXEC", 0x40000000)


class _CopyPipes:
    """The copy pipes of bulk streams, which the recorder reads itself (relay.splice_rest):
    their read ends arrive with COPY_PIPE items; DAEMON_PIPED items say how much to read."""

    def __init__(self) -> None:
        self.arrived: deque[int] = deque()  # descriptors not yet claimed by their item
        self.by_conn: dict[int, int] = {}
        self.buffer = bytearray(relay.PIPE_SIZE)

    def received(self, ancillary: list[tuple[int, int, bytes]]) -> None:
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
                self.arrived.extend(fds)

    def claim(self, conn: int) -> None:
        self.drop(conn)
        if self.arrived:  # (a read's descriptors come with its first byte, so before this)
            self.by_conn[conn] = self.arrived.popleft()

    def read(self, conn: int, size: int, t: int, feed: _Feeder) -> int:
        """Feed the next `size` bytes of the connection's copy pipe (already in it); returns
        how many were read."""
        fd = self.by_conn.get(conn)
        view = memoryview(self.buffer)
        wanted = size
        while size:
            try:
                n = os.readv(fd, [view[: min(size, len(view))]]) if fd is not None else 0
            except OSError:
                n = 0
            if not n:  # never seen: the descriptor was lost (more of them than _ANCILLARY)
                detail = {"conn": conn, "error": f"recorder: a copy pipe was lost; {size} B"}
                feed.emit([Event(t, "proxy", "proxy", "proxy.error", detail=detail)])
                break
            feed(relay.DAEMON, conn, t, view[:n])
            size -= n
        return wanted - size

    def drop(self, conn: int) -> None:
        fd = self.by_conn.pop(conn, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        for fd in [*self.by_conn.values(), *self.arrived]:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.by_conn.clear()
        self.arrived.clear()


class _Feeder:
    """Dispatches the child's items to each connection's core and its events to the sink."""

    def __init__(self, upstream: str, sink: EventSink) -> None:
        self.upstream = upstream
        self.sink = sink
        self.cores: dict[int, ConnectionCore] = {}
        self.book = TtyBook()
        # connections whose cores may hold back a stream piece, or whose upgraded pipe waits to
        # learn from the TTY book whether its container has a TTY
        self.holding: set[int] = set()

    def __call__(self, kind: int, conn: int, t: int, chunk: bytes | memoryview) -> None:
        """One item; `chunk` may be a view into the reader's buffer, valid during this call."""
        core = self.cores.get(conn)
        try:
            if kind == relay.CLIENT and core:
                events = core.client_data(chunk, t)
            elif kind == relay.DAEMON and core:
                events = core.daemon_data(chunk, t)
                self.holding.add(conn)
            elif kind == relay.OPEN:
                payload = bytes(chunk)
                creds = relay_creds(payload[: relay.UCRED.size])
                peer = describe_peer(creds, payload[relay.UCRED.size :] or None)
                core = self.cores[conn] = ConnectionCore(conn, peer, self.book)
                events = core.accepted(t)
            elif kind == relay.CLIENT_EOF and core:
                events = core.client_eof(t)
            elif kind == relay.DAEMON_EOF and core:
                events = core.daemon_eof(t)
            elif kind == relay.UNREACHABLE and core:
                error = bytes(chunk).decode(errors="replace")
                events = [core.unreachable(self.upstream, error, t)]
            elif kind == relay.CLOSE and core:
                events = core.closed(bytes(chunk).decode(errors="replace"), t)
                del self.cores[conn]
            else:
                events = []
        except Exception as e:  # a recorder bug must never stop the recording of others
            if core is not None:
                core.mode = "opaque"
            detail = {"conn": conn, "error": f"recorder: {type(e).__name__}: {e}"}
            events = [Event(t, "proxy", "proxy", "proxy.error", detail=detail)]
        self.emit(events)

    def emit(self, events: list[Event]) -> None:
        for event in events:
            with contextlib.suppress(Exception):  # the sink's problem; keep recording
                self.sink(event)

    def flush(self) -> None:
        """The end of a batch: stream pieces held back to be merged are recorded now."""
        waiting = set()
        for conn in self.holding:
            core = self.cores.get(conn)
            if core is not None:
                try:
                    self.emit(core.flush())
                except Exception:  # as in __call__: never stop the recording of others
                    core.mode = "opaque"
                if core.waiting:  # asks the TTY book again at the next batch's end
                    waiting.add(conn)
        self.holding = waiting

    def close_all(self) -> None:
        """The child is gone: whatever is still open was closed with it."""
        for conn in list(self.cores):
            self(relay.CLOSE, conn, relay.clock(), b"proxy stopped")


def _same_socket(listen: str, upstream: str) -> bool:
    (family, addr), (up_family, up_addr) = parse_address(listen), parse_address(upstream)
    if family != socket.AF_UNIX or up_family != socket.AF_UNIX:
        return False
    return os.path.abspath(str(addr)) == os.path.abspath(str(up_addr))


def _lower_priority(priority: str) -> None:
    """Applies to the calling thread only (on Linux a thread is a schedulable task)."""
    tid = threading.get_native_id()
    if priority == "idle":
        try:
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
            return
        except (OSError, AttributeError):
            priority = "low"
    if priority == "low":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, tid, 19)


def relay_creds(raw: bytes) -> tuple[int, int, int] | None:
    if len(raw) != 12:
        return None
    pid, uid, gid = relay.UCRED.unpack(raw)
    return pid, uid, gid


def _package_root() -> str:
    """The directory holding the `tracer` package, so the child imports this same code."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
