"""HTTP/2 on a connection (prior knowledge or an h2c upgrade): passed through, counted only.

This is the follower the core hands a connection once its first bytes are HTTP/2's preface, or
once an `Upgrade: h2c` was accepted. A decoder (hyperframe/hpack, for gRPC) can take its place
behind the same two methods (rawpipe.Follower) without the core changing.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracer.proxy.rawpipe import C2D, Emit


@dataclass
class H2Passthrough:
    """Counts the bytes of each direction; at the close, one `h2.stream` event says how many."""

    seq: int = 0  # the exchange that upgraded (0: prior knowledge)
    bytes_in: int = 0
    bytes_out: int = 0

    def data(self, emit: Emit, direction: str, data: bytes | memoryview, t: int) -> None:
        if direction == C2D:
            self.bytes_in += len(data)
        else:
            self.bytes_out += len(data)

    def flush(self, emit: Emit) -> None:
        pass  # nothing is held

    def close(self, emit: Emit, t: int) -> None:
        emit("h2.stream", t, seq=self.seq, bytes_in=self.bytes_in, bytes_out=self.bytes_out)
