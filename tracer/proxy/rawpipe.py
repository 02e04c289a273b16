"""An upgraded (hijacked) connection: the raw two-way bytes of `docker run`'s attach, as frames.

After `101 UPGRADED` (or the `200` raw-stream form older clients get) the connection is no longer
HTTP. Without a TTY the daemon multiplexes stdout and stderr in 8-byte-headed frames, decoded
here; with one the bytes are raw. Whether there is a TTY is known from the create request when
the proxy saw it, else guessed from the first bytes the daemon sends. The create exchange can
be parsed just after the upgrade (each connection's copies reach the recorder in their own
batches), so an unknown pipe asks the book again at the end of every batch until then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tracer.events import Layer
from tracer.proxy.exchange import FRAME_EXCERPT, text
from tracer.proxy.frames import FrameDecoder, looks_multiplexed

C2D = "client->daemon"
D2C = "daemon->client"


class Emit(Protocol):
    def __call__(self, kind: str, t: int, layer: Layer = "cli", **detail: Any) -> None: ...


class Follower(Protocol):
    """What follows a connection that is no longer HTTP/1.1 (an upgraded raw pipe, HTTP/2):
    the core hands it every chunk of either direction, then the close."""

    def data(self, emit: Emit, direction: str, data: bytes | memoryview, t: int) -> None: ...

    def flush(self, emit: Emit) -> None:
        """Emit what is held back to be merged with what follows (the recorder calls this at
        the end of each batch it reads)."""

    def close(self, emit: Emit, t: int) -> None: ...


def emit_frame(
    emit: Emit, seq: int, direction: str, stream: str, size: int, head: bytes | memoryview, t: int
) -> None:
    emit(
        "stream.frame",
        t,
        layer="cli" if direction == C2D else "dockerd",
        seq=seq,
        direction=direction,
        stream=stream,
        size=size,
        excerpt=text(bytes(head[:FRAME_EXCERPT])),
    )


@dataclass
class RawPipe:
    """An upgraded connection: which exchange it came from and how to read its bytes."""

    seq: int
    protocol: str
    tty: bool | None  # None until the first daemon bytes show it
    t_upgrade: int
    frames: FrameDecoder
    announced: bool = False
    # Asks the TTY book again (None: nobody to ask): until the pipe is announced, at each batch's
    # end, so that the upgrade is recorded when the create exchange is, not at the first output.
    ask: Callable[[], bool | None] | None = None
    # The daemon's last piece (stream, size, first bytes, time), held until the stream changes
    # or the batch ends: a fast stream becomes one event per batch, not one per read.
    held: tuple[str, int, bytes, int] | None = None

    def announce(self, emit: Emit, tty: bool) -> None:
        self.tty, self.announced = tty, True
        emit(
            "http.upgrade",
            self.t_upgrade,
            layer="dockerd",
            seq=self.seq,
            protocol=self.protocol,
            tty=tty,
        )

    def close(self, emit: Emit, t: int) -> None:
        self.flush(emit)
        if not self.announced:  # the daemon never sent a byte: nothing says it was multiplexed
            self.announce(emit, tty=False)

    @property
    def waiting(self) -> bool:
        """Whether it waits to be told if there is a TTY (the book may learn it any batch)."""
        return not self.announced and self.ask is not None

    def flush(self, emit: Emit) -> None:
        if self.waiting and self.ask is not None and (tty := self.ask()) is not None:
            self.announce(emit, tty)
        if self.held is not None:
            stream, size, head, t = self.held
            self.held = None
            emit_frame(emit, self.seq, D2C, stream, size, head, t)

    def data(self, emit: Emit, direction: str, data: bytes | memoryview, t: int) -> None:
        if direction == C2D:
            self.flush(emit)  # the record keeps the order in which the two sides spoke
            emit_frame(emit, self.seq, C2D, "stdin", len(data), data[:FRAME_EXCERPT], t)
            return
        if not self.announced:
            told = self.ask() if self.ask is not None else None
            self.announce(emit, tty=not looks_multiplexed(data) if told is None else told)
        if self.tty:
            self._hold(emit, "raw", len(data), bytes(data[:FRAME_EXCERPT]), t)
        else:
            for stream, size, head in self.frames.feed(data):
                self._hold(emit, stream, size, head, t)

    def _hold(self, emit: Emit, stream: str, size: int, head: bytes, t: int) -> None:
        held = self.held
        if held is not None and held[0] == stream:  # more of the same: one event for both
            keep = held[2] + head[: FRAME_EXCERPT - len(held[2])]
            self.held = (stream, held[1] + size, keep, held[3])
            return
        self.flush(emit)
        self.held = (stream, size, head, t)
