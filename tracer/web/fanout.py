"""The room's fan-out: each burst of the session framed once, the same bytes to every viewer."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

from tracer.events import monotonic_ns

log = logging.getLogger("dockertrace.web")

GATHER_S = 0.02  # the first news after a quiet spell waits this long for the rest of its burst
# and a flush follows the last one no sooner than this: each is a write to, and a wake-up of,
# every viewer. Measured with 200 viewers, in one run of 9 rounds: 0.1 s halved the flushes (21
# to 9 a run) and the clients' CPU, the run with viewers 1.03x its time with none (1.12x with
# no gap), p99 at the viewers' sockets 111 ms (165 ms).
GAP_S = 0.1
# After a flush, the next waits SPREAD times the CPU that one took: the fan-out takes at most
# a fifth of a core, however many viewers (more viewers: fewer, larger writes). CPU, not wall
# time: a flush preempted by the run (the server is nicer than the run) is not a dear one.
SPREAD = 4.0
VIEWER_BYTES = 4 << 20  # what one viewer may have waiting before it is dropped
PING = b": ping\n\n"
PING_S = 15.0  # a comment line after this long with nothing sent: a dead connection shows


def chunked(data: bytes) -> bytes:
    """One HTTP/1.1 chunk (the response's framing, as h11 writes it)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


class Viewer:
    """One browser's stream: the fan-out writes to its connection directly (a viewer costs one
    write a burst, no task and no HTTP encoding of its own). What the connection cannot take
    waits in its transport, bounded: over the bound the viewer is cut at once, so a slow or
    stalled one never holds the run, the others or the server's memory (its browser comes
    back and gets everything so far)."""

    def __init__(self, transport: asyncio.WriteTransport, framed: bool, limit: int) -> None:
        self.transport = transport
        self.framed = framed  # HTTP/1.1: chunks; HTTP/1.0: the bytes as they are
        self.limit = limit
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.dropped = False

    @property
    def waiting(self) -> int:
        """Bytes written for this viewer that its connection has not taken yet."""
        return self.transport.get_write_buffer_size()

    def write(self, raw: bytes, framed: bytes) -> bool:
        """Write to the connection; False when what went before is still waiting there (the
        viewer is behind) or the viewer is gone."""
        if self.ended.done():
            return False
        if self.transport.is_closing():  # the browser went: its request's task ends it
            self.end()
            return False
        data = framed if self.framed else raw
        waiting = self.waiting
        if waiting + len(data) > self.limit:
            self.dropped = True
            self.transport.abort()  # its backlog is freed now, not after a slow goodbye
            self.end()
            return False
        self.transport.write(data)
        return waiting == 0

    def end(self) -> None:
        if not self.ended.done():
            self.ended.set_result(None)


class Fanout:
    """The viewers, and what waits to be sent to all of them. Everything on one asyncio loop."""

    def __init__(
        self,
        viewer_bytes: int = VIEWER_BYTES,
        max_viewers: int = 1000,
        gather_s: float = GATHER_S,
        gap_s: float = GAP_S,
        clock: Callable[[], float] = time.perf_counter,
        cpu_clock: Callable[[], float] = time.thread_time,
    ) -> None:
        self.viewers: set[Viewer] = set()
        self.dropped = 0  # viewers dropped for not keeping up
        # flushes, their wall and CPU time and the largest write (for /api/state: the bench's)
        # and the writes that found the viewer behind (its client not reading: on this machine,
        # the bench's own clients starved of CPU)
        self.stats = {"flushes": 0, "wall_s": 0.0, "cpu_s": 0.0, "max_bytes": 0, "behind": 0}
        self._viewer_bytes = viewer_bytes
        self._max_viewers = max_viewers
        self._gather_s = gather_s
        self._gap_s = gap_s
        self._clock = clock
        self._cpu_clock = cpu_clock
        self._pending: list[bytes] = []
        self._pending_ns: list[int] = []  # the kernel's time stamps of the events waiting
        # kernel event to written to every viewer, in ms (the last ones): for the server's own
        # account of its delay (/api/state), apart from what the viewers' clients add
        self.sent_ms: deque[float] = deque(maxlen=50_000)
        self._due: asyncio.TimerHandle | None = None
        self._next_at = 0.0  # no flush before this (clock time)
        self._last_sent = clock()
        self._pinger: asyncio.TimerHandle | None = None

    def full(self) -> bool:
        return len(self.viewers) >= self._max_viewers

    def add(self, transport: asyncio.WriteTransport, framed: bool, first: bytes) -> Viewer | None:
        """A new viewer, written `first` (everything so far) at once; None when full."""
        if self.full():
            return None
        self.flush()  # what the others have waiting is in `first` already
        viewer = Viewer(transport, framed, self._viewer_bytes + len(first))
        self.viewers.add(viewer)
        viewer.write(first, chunked(first))
        if self._pinger is None:
            self._pinger = asyncio.get_running_loop().call_later(PING_S, self._ping)
        return viewer

    def remove(self, viewer: Viewer) -> None:
        viewer.end()
        if viewer in self.viewers:
            self.viewers.discard(viewer)
            if viewer.dropped:
                self.dropped += 1
                log.warning("a viewer was dropped: it did not keep up (%d so far)", self.dropped)

    def publish(self, chunk: bytes, kernel_ns: Sequence[int] = ()) -> None:
        """`chunk` to every viewer, with the rest of its burst: at the next flush."""
        if not self.viewers:
            return
        self._pending.append(chunk)
        self._pending_ns += kernel_ns
        if self._due is None:
            loop = asyncio.get_running_loop()
            wait = max(self._gather_s, self._next_at - self._clock())
            self._due = loop.call_later(wait, self.flush)

    def flush(self) -> None:
        """Write what waits to every viewer now: one write each, the same bytes for all."""
        if self._due is not None:
            self._due.cancel()
            self._due = None
        if not self._pending:
            return
        raw = b"".join(self._pending)
        self._pending.clear()
        began, cpu = self._clock(), self._cpu_clock()
        self._send(raw)
        cpu = self._cpu_clock() - cpu
        now = monotonic_ns()
        self.sent_ms.extend((now - t) / 1e6 for t in self._pending_ns)
        self._pending_ns.clear()
        self._next_at = max(began + self._gap_s, self._clock() + SPREAD * cpu)
        stats = self.stats
        stats["flushes"] += 1
        stats["wall_s"] += self._clock() - began
        stats["cpu_s"] += cpu
        stats["max_bytes"] = max(stats["max_bytes"], len(raw))

    def _send(self, raw: bytes) -> None:
        framed = chunked(raw)
        behind = 0
        for viewer in list(self.viewers):
            behind += not viewer.write(raw, framed)
        self.stats["behind"] += behind
        self._last_sent = self._clock()

    def _ping(self) -> None:
        self._pinger = None
        if not self.viewers:
            return
        quiet = self._clock() - self._last_sent
        if quiet >= PING_S * 0.9:
            self._send(PING)
            quiet = 0.0
        self._pinger = asyncio.get_running_loop().call_later(PING_S - quiet, self._ping)

    def close(self) -> None:
        """The server stops: every viewer's stream ends."""
        self.flush()
        for viewer in list(self.viewers):
            viewer.end()
        for timer in (self._due, self._pinger):
            if timer is not None:
                timer.cancel()
        self._due = self._pinger = None
