"""Connection limits uvicorn lacks (at most so many connections, a request head in time), and
each request's connection handed to the app (the SSE fan-out writes to it directly)."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_CONNECTIONS = 1100  # viewers, plus room for the instructor and a few page loads
HEAD_TIMEOUT_S = 5.0  # a connection that has not sent a whole request head by then is closed
HEAD_BYTES = 16 << 10  # a request head larger than this is refused (h11's own limit)
STALL_S = 10.0  # a connection that takes nothing we write for this long is cut
# The ASGI extension under which a request's scope carries its connection's transport.
TRANSPORT = "dockertrace.transport"

# uvicorn accepts a protocol class as its `http` setting (its documented way to change how
# connections are handled). This one uses what its H11Protocol keeps on itself: the set of
# open connections and the request cycle (and its scope); tests/web/test_server.py fails if
# uvicorn changes.
assert uvicorn.__version__.split(".")[0] == "0", uvicorn.__version__


class LimitedH11(H11Protocol):
    """uvicorn's h11 protocol, closing a connection over MAX_CONNECTIONS at once and one that
    sends no whole request head within HEAD_TIMEOUT_S (a never-speaking or crawling client
    would otherwise hold its socket for ever: uvicorn times out only idle keep-alives)."""

    max_connections = MAX_CONNECTIONS
    head_timeout_s = HEAD_TIMEOUT_S
    stall_s = STALL_S
    _stall_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        if len(self.connections) > self.max_connections:
            transport.abort()
            return
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._too_slow)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.cycle is not None:
            # the request's task has not run yet: it finds its connection in its scope (the
            # ASGI way for a server to offer more: scope["extensions"])
            extensions: dict[str, Any] = self.cycle.scope.setdefault("extensions", {})
            extensions[TRANSPORT] = self.transport
            if self._head_timer is not None:
                self._head_timer.cancel()  # a request came whole: the response's time now
                self._head_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (getattr(self, "_head_timer", None), self._stall_timer):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        # asyncio's word that the peer is not reading (the transport's buffer is full): a
        # viewer that stays so is cut, rather than holding its stream's task and buffers
        super().pause_writing()
        if getattr(self, "_stall_timer", None) is None:
            self._stall_timer = self.loop.call_later(self.stall_s, self.transport.abort)

    def resume_writing(self) -> None:
        super().resume_writing()
        timer, self._stall_timer = getattr(self, "_stall_timer", None), None
        if timer is not None:
            timer.cancel()

    def _too_slow(self) -> None:
        self._head_timer = None
        if self.cycle is None and not self.transport.is_closing():
            self.transport.abort()


def config_for(
    app: Any,
    max_connections: int = MAX_CONNECTIONS,
    stall_s: float = STALL_S,
    head_timeout_s: float = HEAD_TIMEOUT_S,
) -> uvicorn.Config:
    """uvicorn's settings for the classroom: our protocol, quiet logs, keep-alives short."""
    limits = {
        "max_connections": max_connections,
        "stall_s": stall_s,
        "head_timeout_s": head_timeout_s,
    }
    protocol = type("Limited", (LimitedH11,), limits)
    return uvicorn.Config(
        app,
        http=protocol,
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=HEAD_BYTES,
        limit_concurrency=max_connections + 1,  # over it, LimitedH11 closed it already
        backlog=2048,
        timeout_graceful_shutdown=2,
    )
