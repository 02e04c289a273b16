"""An upgraded (hijacked) connection: the raw two-way bytes of `docker run`'s attach, as frames.

After `101 UPGRADED` (or the `200` raw-stream form older clients get) the connection is no longer
HTTP. Without a TTY the daemon multiplexes stdout and stderr in 8-byte-headed frames, decoded
here; with one the bytes are raw. Whether there is a TTY is known from the create request when
the proxy saw it, else guessed from the first bytes the daemon sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from tracer.events import Layer
from tracer.proxy.exchange import FRAME_EXCERPT, text
from tracer.proxy.frames import FrameDecoder, looks_multiplexed

C2D = "client->daemon"
D2C = "daemon->client"


class Emit(Protocol):
    def __call__(self, kind: str, t: int, layer: Layer = "cli", **detail: Any) -> None: ...


def emit_frame(
    emit: Emit, seq: int, direction: str, stream: str, size: int, head: bytes, t: int
) -> None:
    emit(
        "stream.frame",
        t,
        layer="cli" if direction == C2D else "dockerd",
        seq=seq,
        direction=direction,
        stream=stream,
        size=size,
        excerpt=text(head, FRAME_EXCERPT),
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

    def data(self, emit: Emit, direction: str, data: bytes, t: int) -> None:
        if direction == C2D:
            emit_frame(emit, self.seq, C2D, "stdin", len(data), data[:FRAME_EXCERPT], t)
            return
        if not self.announced:
            self.announce(emit, tty=not looks_multiplexed(data))
        if self.tty:
            emit_frame(emit, self.seq, D2C, "raw", len(data), data[:FRAME_EXCERPT], t)
        else:
            for stream, size, head in self.frames.feed(data):
                emit_frame(emit, self.seq, D2C, stream, size, head, t)
