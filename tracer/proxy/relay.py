"""The forwarding process: relays bytes between clients and the daemon, and streams a copy.

It runs apart from the process that parses and records (its own interpreter, so its own GIL:
the recorder's parsing and a Textual front end can never delay a forwarded byte). Each client
connection gets one blocking thread that waits in poll(2) on both sockets, reads a chunk and
writes it on at once (non-blocking: it always goes at once for an API exchange), and only then
takes a framed, time-stamped copy; the copies of small chunks are held a few milliseconds and
written to the channel socket the parent reads together. So a `/_ping` costs the relay what it
costs socat, poll + recv + send per direction, and no thread hands the GIL to another. As soon
as a write would wait (a peer not reading) the connection gets a second thread and becomes two
blocking threads, one per direction, so that one side waiting never stops the other. Each
direction's copies stay in order; the parent copes with the two directions interleaving. A
direction that ends is passed on with shutdown(SHUT_WR); the other stays open until it ends
too. Nothing times out (the hold is on the copies, never on the connection). If the recorder
falls a channel buffer behind, the next write of copies waits, and so does forwarding: memory
stays bounded and no copy is dropped.

Bulk daemon->client bytes (a read of SPLICE_AFTER or more: a container's output, a big log)
switch that direction to splice(2): socket -> pipe -> client socket inside the kernel, the
recorder's copy a tee(2) of the pipe into a copy pipe the recorder reads itself (its read end
passed over the channel once; the channel then only says how many bytes went in), so no byte
is copied through this process (bench/proxy.md); that direction, too, then gets a thread of
its own. Small messages
keep recv/send: fewer system calls per exchange.

The duplex loop runs in C where set-up could build it (_duplex.c, the same calls and copies
with the interpreter out of the forwarded path: bench/proxy.md); Relay.duplex is the same loop
in Python, used where it could not be built, and the tests run both.

Run by tracer.proxy.server:
    python -m tracer.proxy.relay LISTEN_FD CHANNEL_FD UPSTREAM HOLD_MS [TLS_CERT TLS_KEY TLS_CA]
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import gc
import itertools
import os
import select
import signal
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import cast

_duplex: ModuleType | None
try:  # the duplex loop in C (_duplex.c), built where a compiler was; else the Python loop
    from tracer.proxy import _duplex
except ImportError:
    _duplex = None
if os.environ.get("DOCKERTRACE_RELAY") == "python":  # the tests run both
    _duplex = None

CHUNK = 256 * 1024
CHANNEL_BUFFER = 4 * 1024 * 1024  # copies the recorder may fall behind by before relays wait
# A connection's copies of small chunks (an API exchange) wait HOLD_NS (the parent may say
# otherwise: Proxy's batch_ms), or until there are HOLD_BYTES of them, to go to the channel
# together: fewer calls here, fewer reads there.
HOLD_NS = 5_000_000
HOLD_BYTES = 64 * 1024
SPLICE_AFTER = 16 * 1024  # a read this big means bulk data: that direction goes to splice(2)
PIPE_SIZE = 1024 * 1024  # per splicing direction (two pipes), kernel memory, not ours
SPLICE_F_NONBLOCK = getattr(os, "SPLICE_F_NONBLOCK", 2)
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)
# A framed item on the channel: kind, connection id, CLOCK_MONOTONIC ns, payload size.
ITEM = struct.Struct("<BIQI")
SO_SNDBUFFORCE = getattr(socket, "SO_SNDBUFFORCE", 32)
UCRED = struct.Struct("3i")  # SO_PEERCRED: pid, uid, gid
MAX_CMDLINE = 64 * 1024  # of a peer's /proc cmdline: no item is bigger than PIPE_SIZE


def peer_proc(creds: bytes) -> bytes:
    """The peer's /proc comm and cmdline, read at accept time: b"comm\\n" + raw cmdline."""
    if len(creds) != UCRED.size:
        return b""
    pid = UCRED.unpack(creds)[0]
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            comm = f.read().rstrip(b"\n")
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return comm + b"\n" + f.read(MAX_CMDLINE)
    except OSError:
        return b""


def duplex_in_c() -> bool:
    """Whether connections are relayed by the C loop (_duplex.c) rather than the Python one."""
    return _duplex is not None


OPEN, CLIENT, DAEMON, CLIENT_EOF, DAEMON_EOF, UNREACHABLE, CLOSE = range(1, 8)
# A bulk daemon->client direction's copies stay in a pipe the recorder reads itself: COPY_PIPE
# hands it the pipe's read end (SCM_RIGHTS, empty payload), each DAEMON_PIPED says that the
# next SIZE bytes in it are that connection's daemon bytes (payload: SIZE, 4 bytes).
COPY_PIPE, DAEMON_PIPED = 8, 9
PIPED = struct.Struct("<I")
_FLUSH, _END, _READ_ERROR, _WRITE_ERROR, _SPLIT = range(1, 6)  # _duplex.run's ways out


def _side(tag: int) -> str:
    """Who reads in direction `tag` ("client" for CLIENT); -tag: who writes."""
    return "client" if tag in (CLIENT, -DAEMON) else "daemon"


def clock() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def _load_tee() -> Callable[[int, int, int, int], int] | None:
    """tee(2) from libc (Python has os.splice but no os.tee); None where there is none."""
    if not hasattr(os, "splice"):
        return None
    try:
        tee = ctypes.CDLL(None, use_errno=True).tee  # a CDLL call releases the GIL
    except (OSError, AttributeError):
        return None
    tee.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_uint]
    tee.restype = ctypes.c_ssize_t
    return cast(Callable[[int, int, int, int], int], tee)


TEE = _load_tee()


def address(url: str) -> tuple[socket.AddressFamily, str | tuple[str, int]]:
    if url.startswith("unix://"):
        return socket.AF_UNIX, url.removeprefix("unix://")
    host, _, port = url.removeprefix("tcp://").rpartition(":")
    return (socket.AF_INET6 if ":" in host else socket.AF_INET), (host.strip("[]"), int(port))


class Forwarder:
    """The accept loop, the relays, and the channel their copies go to."""

    def __init__(
        self,
        listener: socket.socket,
        channel: socket.socket,
        upstream: str,
        tls: ssl.SSLContext | None = None,
        hold_ns: int = HOLD_NS,
    ) -> None:
        self.listener = listener
        self.hold_ns = hold_ns
        self.tls = tls
        self.channel = channel
        self.upstream = upstream
        self.family, self.addr = address(upstream)
        self.lock = threading.Lock()
        self.send_lock = threading.Lock()
        self.relays: dict[int, Relay] = {}
        self.stopping = False

    def run(self) -> None:
        ids = itertools.count(1)
        ctl = self.channel.fileno()
        while True:
            ready, _, _ = select.select([self.listener.fileno(), ctl], [], [])
            if ctl in ready:  # the parent asks us to stop, or is gone
                break
            try:
                client, _ = self.listener.accept()
            except OSError:
                continue
            relay = Relay(self, next(ids), client)
            with self.lock:
                self.relays[relay.conn] = relay
            relay.start()
        self.stop()

    def stop(self) -> None:
        self.stopping = True
        with self.lock:
            relays = list(self.relays.values())
        for relay in relays:
            relay.abort()
        deadline = time.monotonic() + 3
        while self.relays and time.monotonic() < deadline:
            time.sleep(0.01)
        with contextlib.suppress(OSError), self.send_lock:
            self.channel.shutdown(socket.SHUT_WR)

    def put(self, kind: int, conn: int, payload: bytes | memoryview = b"", t: int = 0) -> None:
        """Write one framed copy to the parent. Relays call this after forwarding the chunk,
        so the copy never delays it; a recorder that falls a socket buffer behind makes the
        next read wait (bounded memory, nothing dropped)."""
        head = ITEM.pack(kind, conn, t or clock(), len(payload))
        try:
            with self.send_lock:
                sent = self.channel.sendmsg([head, payload])  # all of it, nearly always
                if sent < len(head) + len(payload):
                    send_buffers(self.channel, [head, payload], sent)
        except OSError:
            os._exit(0)  # the parent is gone: so is the point of relaying

    def put_items(self, items: bytearray | memoryview) -> None:
        """Write copies already framed (held by a relay to go together) to the parent."""
        if not items:
            return
        try:
            with self.send_lock:
                self.channel.sendall(items)
        except OSError:
            os._exit(0)

    def put_pipe(self, conn: int, pipe: int) -> None:
        """Hand the recorder the read end of a connection's copy pipe (it reads it itself)."""
        head = ITEM.pack(COPY_PIPE, conn, clock(), 0)
        try:
            with self.send_lock:
                socket.send_fds(self.channel, [head], [pipe])
        except OSError:
            os._exit(0)

    def put_piped(self, conn: int, size: int, t: int) -> None:
        """The next `size` bytes in the connection's copy pipe are its daemon bytes from t."""
        try:
            with self.send_lock:
                self.channel.sendall(
                    ITEM.pack(DAEMON_PIPED, conn, t, PIPED.size) + PIPED.pack(size)
                )
        except OSError:
            os._exit(0)

    def connect_upstream(self) -> socket.socket:
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        try:
            sock.connect(self.addr)
        except OSError:
            sock.close()
            raise
        if self.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


def send_buffers(sock: socket.socket, buffers: list[bytes | memoryview], sent: int = 0) -> None:
    """sendall for a list of buffers, without joining them (one copy less per chunk); `sent`
    bytes of them have gone already."""
    views = [memoryview(b) for b in buffers if b]
    while True:
        while sent:
            if sent >= len(views[0]):
                sent -= len(views.pop(0))
            else:
                views[0] = views[0][sent:]
                sent = 0
        if not views:
            return
        sent = sock.sendmsg(views[:512])


def _pipes() -> tuple[tuple[int, int], tuple[int, int], int] | None:
    """Two pipes of equal size (the forwarded bytes, the recorder's tee of them), or None."""
    made: list[int] = []
    try:
        for _ in range(2):
            made += os.pipe2(os.O_CLOEXEC)
        sizes = []
        for fd in made[1::2]:
            with contextlib.suppress(OSError):  # past pipe-max-size for a non-root user
                fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)
            sizes.append(min(PIPE_SIZE, fcntl.fcntl(fd, F_GETPIPE_SZ)))
    except OSError:
        for fd in made:
            os.close(fd)
        return None
    return (made[0], made[1]), (made[2], made[3]), min(sizes)


class Relay:
    """One client connection: one thread for both directions (duplex) while writes go at
    once, then two threads copying bytes, one per direction (pump)."""

    def __init__(self, fwd: Forwarder, conn: int, client: socket.socket) -> None:
        self.fwd = fwd
        self.conn = conn
        self.client = client
        self.upstream: socket.socket | None = None
        self.ended = 0
        self.reason = ""
        self.lock = threading.Lock()

    def start(self) -> None:
        threading.Thread(target=self.client_side, daemon=True).start()

    def client_side(self) -> None:
        creds = b""
        with contextlib.suppress(OSError):
            creds = self.client.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, UCRED.size)
        # Name the peer now: a short-lived client (curl) may be gone by the time the recorder,
        # at low priority, gets to this connection.
        self.fwd.put(OPEN, self.conn, creds + peer_proc(creds))
        try:
            if self.fwd.tls is not None:
                self.client = self.fwd.tls.wrap_socket(self.client, server_side=True)
        except (OSError, ssl.SSLError) as e:
            self.finish(f"TLS handshake failed: {e}")
            return
        try:
            self.upstream = self.fwd.connect_upstream()
        except OSError as e:
            self.fwd.put(UNREACHABLE, self.conn, (e.strerror or str(e)).encode())
            self.finish(f"upstream unreachable: {e.strerror or e}")
            return
        if isinstance(self.client, ssl.SSLSocket):
            self.tls_pump(self.client, self.upstream)
            return
        if _duplex is not None:
            self.duplex_c(self.client, self.upstream)
        else:
            self.duplex(self.client, self.upstream)

    def tls_pump(self, client: ssl.SSLSocket, upstream: socket.socket) -> None:
        """TLS: one thread for both directions (an SSL object must not be read and written
        from two threads at once). TLS has no half-close, so the daemon's end closes both."""
        fwd, conn = self.fwd, self.conn
        open_dirs = {CLIENT, DAEMON}
        reason = ""
        while open_dirs:
            wait: list[socket.socket] = [
                s for s, tag in ((client, CLIENT), (upstream, DAEMON)) if tag in open_dirs
            ]
            ready: list[socket.socket] = (
                [client] if client.pending() and CLIENT in open_dirs else []
            )
            if not ready:
                ready, _, _ = select.select(wait, [], [])
            for src in ready:
                tag = CLIENT if src is client else DAEMON
                dst = upstream if tag == CLIENT else client
                try:
                    data = src.recv(CHUNK)
                    if data:
                        t = clock()
                        dst.sendall(data)
                        fwd.put(tag, conn, data, t)
                        continue
                except ssl.SSLWantReadError:
                    continue
                except OSError as e:
                    reason = reason or f"{'client' if tag == CLIENT else 'daemon'}: {e}"
                    open_dirs.clear()
                    break
                open_dirs.discard(tag)
                fwd.put(CLIENT_EOF if tag == CLIENT else DAEMON_EOF, conn)
                reason = reason or f"{'client' if tag == CLIENT else 'daemon'} closed first"
                with contextlib.suppress(OSError):
                    upstream.shutdown(socket.SHUT_WR)
                if tag == DAEMON:
                    open_dirs.clear()
        self.finish(reason)

    def duplex(self, client: socket.socket, upstream: socket.socket) -> None:
        """Both directions on this one thread, for as long as every write completes at once
        (an API exchange: a request, its answer, the next request). No second thread means
        no GIL handed over per exchange, and the copies of small chunks are held (for the
        Forwarder's hold_ns at most, or HOLD_BYTES of them) and sent to the channel together:
        per exchange the relay makes socat's calls, poll + recv + send per direction, no more.

        A write that cannot complete at once (a peer not reading) or a bulk daemon read hands
        the connection to one blocking thread per direction (pump): one direction waiting
        must never stop the other. A direction that ends leaves the other to pump as well."""
        conn, pack, put_items = self.conn, ITEM.pack, self.fwd.put_items
        now, mono, dontwait = time.clock_gettime_ns, time.CLOCK_MONOTONIC, socket.MSG_DONTWAIT
        hold_ns, hold_bytes = self.fwd.hold_ns, HOLD_BYTES
        no_splice = CHUNK + 1  # (a read never reaches it)
        # Per side: what the loop needs, looked up once (this loop runs twice per exchange).
        sides = {
            client.fileno(): (client.recv_into, upstream.send, client, upstream, CLIENT, no_splice),
            upstream.fileno(): (
                upstream.recv_into,
                client.send,
                upstream,
                client,
                DAEMON,
                SPLICE_AFTER if TEE is not None else no_splice,
            ),
        }
        poller = select.poll()
        for fd in sides:
            poller.register(fd, select.POLLIN)
        poll = poller.poll
        buffer = bytearray(CHUNK)  # both directions': each chunk is forwarded and its copy
        view = memoryview(buffer)  # taken before the next read
        held = bytearray()  # framed copies not yet on the channel
        due = t = 0  # when the held copies must go; the time of the last chunk
        while True:
            if held:  # wait no longer than the held copies may
                ready = poll(-(-(due - t) // 1_000_000))
                if not ready:
                    put_items(held)
                    held.clear()
                    continue
            else:
                ready = poll()
            for fd, _ in ready:
                recv_into, send, src, dst, tag, splice_at = sides[fd]
                try:
                    n = recv_into(buffer)
                except OSError as e:
                    put_items(held)
                    self.half_done(src, dst, tag, f"{_side(tag)} read: {e.strerror or e}")
                    return
                if not n:
                    put_items(held)
                    self.half_done(src, dst, tag, "")
                    return
                t = now(mono)
                data = view[:n]
                try:
                    sent = send(data, dontwait)
                except BlockingIOError:
                    sent = 0
                except OSError as e:
                    held += pack(tag, conn, t, n)
                    held += data
                    put_items(held)
                    self.half_done(src, dst, tag, f"{_side(-tag)} write: {e.strerror or e}")
                    return
                if sent < n or n >= splice_at:  # from here on, one thread per direction
                    put_items(held)
                    self.split(src, dst, tag, data, sent, t, n >= splice_at)
                    return
                if not held:
                    due = t + hold_ns
                held += pack(tag, conn, t, n)
                held += data
                if t >= due or len(held) >= hold_bytes:
                    put_items(held)
                    held.clear()

    def duplex_c(self, client: socket.socket, upstream: socket.socket) -> None:
        """duplex() with its loop in C (_duplex.c): the same calls, the same copies, the same
        ways out, but the interpreter runs only when the held copies go to the channel (under
        the Forwarder's lock) and when the connection leaves duplex mode."""
        assert _duplex is not None
        run, put_items, hold_ns = _duplex.run, self.fwd.put_items, self.fwd.hold_ns
        socks, tags = (client, upstream), (CLIENT, DAEMON)
        fds = client.fileno(), upstream.fileno()
        bulk = CHUNK + 1, (SPLICE_AFTER if TEE is not None else CHUNK + 1)
        buffer = bytearray(CHUNK)
        held = bytearray(HOLD_BYTES + ITEM.size + CHUNK)  # C appends a chunk before it checks
        view, held_view = memoryview(buffer), memoryview(held)
        held_len = due = 0
        while True:
            event, side, n, sent, t, err, held_len, due = run(
                *fds, *tags, self.conn, buffer, held, held_len, due, hold_ns, HOLD_BYTES, *bulk
            )
            put_items(held_view[:held_len])  # every way out sends the held copies first
            held_len = 0
            if event == _FLUSH:
                continue
            src, dst, tag = socks[side], socks[1 - side], tags[side]
            if event == _END:
                self.half_done(src, dst, tag, "")
            elif event == _READ_ERROR:
                self.half_done(src, dst, tag, f"{_side(tag)} read: {os.strerror(err)}")
            elif event == _WRITE_ERROR:
                self.half_done(src, dst, tag, f"{_side(-tag)} write: {os.strerror(err)}")
            else:  # _SPLIT: a write that would wait, or a bulk read
                self.split(src, dst, tag, view[:n], sent, t, n >= bulk[side])
            return

    def half_done(self, src: socket.socket, dst: socket.socket, tag: int, error: str) -> None:
        """Leave duplex(): one direction has ended; this thread pumps the other."""
        self.end(src, dst, tag, error)
        self.pump(dst, src, DAEMON if tag == CLIENT else CLIENT)

    def split(
        self,
        src: socket.socket,
        dst: socket.socket,
        tag: int,
        data: memoryview,
        sent: int,
        t: int,
        bulk: bool,
    ) -> None:
        """Leave duplex(): the other direction gets a thread of its own, this one finishes
        forwarding `data` (of which `sent` bytes went) and pumps on."""
        other = DAEMON if tag == CLIENT else CLIENT
        threading.Thread(target=self.pump, args=(dst, src, other), daemon=True).start()
        error = ""
        try:
            dst.sendall(data[sent:])
        except OSError as e:
            error = f"{'daemon' if tag == CLIENT else 'client'} write: {e.strerror or e}"
        self.fwd.put(tag, self.conn, data, t)
        if not error and bulk:
            spliced = self.splice_rest(src, dst)
            if spliced is None:
                self.pump(src, dst, tag)
                return
            error = spliced
        elif not error:
            self.pump(src, dst, tag)
            return
        self.end(src, dst, tag, error)

    def pump(self, src: socket.socket, dst: socket.socket, tag: int) -> None:
        put, conn = self.fwd.put, self.conn
        recv_into, send = src.recv_into, dst.sendall
        # One buffer per direction, reused: the chunk is forwarded, then its copy written to
        # the channel, before the next read. No allocation per chunk.
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        error = ""
        while True:
            try:
                n = recv_into(buffer)
            except OSError as e:
                error = f"{'client' if tag == CLIENT else 'daemon'} read: {e.strerror or e}"
                break
            if not n:
                break
            t = clock()
            data = view[:n]
            try:
                send(data)
            except OSError as e:
                error = f"{'daemon' if tag == CLIENT else 'client'} write: {e.strerror or e}"
                put(tag, conn, data, t)
                break
            put(tag, conn, data, t)
            if n >= SPLICE_AFTER and tag == DAEMON and TEE is not None:
                spliced = self.splice_rest(src, dst)
                if spliced is not None:
                    error = spliced
                    break
        self.end(src, dst, tag, error)

    def splice_rest(self, src: socket.socket, dst: socket.socket) -> str | None:
        """Relay the rest of a bulk daemon->client direction through a pipe (splice: the bytes
        never enter Python). The recorder's copy is a tee of that pipe into a second pipe whose
        read end the recorder holds and reads itself (no byte copied through this process or
        the channel); the channel only says how many bytes went in, one item per burst (until
        the daemon pauses, or the copy pipe is full). A recorder that falls a pipe behind makes
        the next tee wait for room: bounded, nothing dropped. Returns the error that ended it
        ("" at EOF), or None if splicing is not possible here (the caller goes on with
        recv/send)."""
        pipes = _pipes()
        if pipes is None:
            return None
        (pipe_r, pipe_w), (copy_r, copy_w), size = pipes
        s, d = src.fileno(), dst.fileno()
        self.fwd.put_pipe(self.conn, copy_r)
        os.close(copy_r)  # the recorder has its own
        put = self.fwd.put_piped
        room = select.poll()
        room.register(copy_w, select.POLLOUT)
        held, t_held = 0, 0  # bytes teed into the copy pipe, not yet said; the first one's time
        try:
            while True:
                try:
                    try:  # more already waiting? (non-blocking: never waits for the daemon)
                        n = os.splice(s, pipe_w, size, flags=os.SPLICE_F_NONBLOCK)
                    except BlockingIOError:  # a pause: the copies so far go to the recorder
                        if held:
                            put(self.conn, held, t_held)
                            held = 0
                        n = os.splice(s, pipe_w, size)
                except OSError as e:
                    return f"daemon read: {e.strerror or e}"
                if not n:
                    return ""
                t = clock()
                while n:  # tee what is in the pipe, then forward that much of it
                    copied = TEE(pipe_r, copy_w, n, SPLICE_F_NONBLOCK) if TEE else -1
                    if copied < 0 and ctypes.get_errno() == errno.EAGAIN:
                        # The copy pipe is full (by its bytes, or by its slots: a pipe buffer
                        # per piece the daemon wrote): the recorder reads what it was told of,
                        # and forwarding waits for the room it makes.
                        if held:
                            put(self.conn, held, t_held)
                            held = 0
                        room.poll()
                        continue
                    if copied <= 0:  # never seen: tee refused; back to recv
                        if held:
                            put(self.conn, held, t_held)
                            held = 0
                        self.unsplice(pipe_r, n, dst, t)
                        return None
                    t_held = t if not held else t_held
                    held += copied
                    n -= copied
                    try:
                        while copied:
                            copied -= os.splice(pipe_r, d, copied)
                    except OSError as e:
                        return f"client write: {e.strerror or e}"
        finally:
            if held:  # every forwarded byte's copy reaches the recorder
                put(self.conn, held, t_held)
            for fd in (pipe_r, pipe_w, copy_w):
                os.close(fd)

    def unsplice(self, pipe_r: int, n: int, dst: socket.socket, t: int) -> None:
        """tee failed: take the n bytes out of the pipe and relay them the ordinary way."""
        data = b""
        while len(data) < n:
            data += os.read(pipe_r, n - len(data))
        try:
            dst.sendall(data)
        finally:
            self.fwd.put(DAEMON, self.conn, data, t)

    def end(self, src: socket.socket, dst: socket.socket, tag: int, error: str) -> None:
        """A direction ended: pass the half-close on; close when both have ended."""
        self.fwd.put(CLIENT_EOF if tag == CLIENT else DAEMON_EOF, self.conn)
        with self.lock:
            if not self.reason:
                self.reason = error or f"{'client' if tag == CLIENT else 'daemon'} closed first"
        if error and tag == DAEMON:  # the client is gone: nobody will read the daemon's answer
            self.abort()
        else:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)
            if error:
                with contextlib.suppress(OSError):
                    src.shutdown(socket.SHUT_RD)
        with self.lock:
            self.ended += 1
            last = self.ended == 2
        if last:
            self.finish(self.reason)

    def abort(self) -> None:
        """Wake both pumps: shut both sockets in both directions."""
        with self.lock:
            if self.fwd.stopping:
                self.reason = "proxy stopped"
        for sock in (self.client, self.upstream):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def finish(self, reason: str) -> None:
        for sock in (self.client, self.upstream):
            if sock is not None:
                sock.close()
        self.fwd.put(CLOSE, self.conn, reason.encode())
        with self.fwd.lock:
            self.fwd.relays.pop(self.conn, None)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us
    listen_fd, channel_fd, upstream = int(argv[0]), int(argv[1]), argv[2]
    hold_ns = int(float(argv[3]) * 1_000_000)
    listener = socket.socket(fileno=listen_fd)
    channel = socket.socket(fileno=channel_fd)
    for option in (SO_SNDBUFFORCE, socket.SO_SNDBUF):  # FORCE exceeds wmem_max, as root
        with contextlib.suppress(OSError):
            channel.setsockopt(socket.SOL_SOCKET, option, CHANNEL_BUFFER)
            break
    tls = None
    if len(argv) == 7:  # cert, key, ca: listening on TCP requires verified client certs
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.minimum_version = ssl.TLSVersion.TLSv1_2
        tls.load_cert_chain(argv[4], argv[5])
        tls.load_verify_locations(argv[6])
        tls.verify_mode = ssl.CERT_REQUIRED
    gc.freeze()  # start-up's objects live as long as we do: keep them out of full collections
    Forwarder(listener, channel, upstream, tls, hold_ns).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
