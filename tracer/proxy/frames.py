"""Docker's multiplexed stream framing: 8-byte headers (stream id, 3 zero bytes, size)."""

from __future__ import annotations

import struct

# The stream id in byte 0 of each header. 3 is the daemon's own "system error" stream (logs).
STREAM_NAMES: dict[int, str] = {0: "stdin", 1: "stdout", 2: "stderr", 3: "system"}
HEADER = struct.Struct(">BxxxI")
Piece = tuple[str, int, bytes]  # (stream name, payload size, its first bytes)


def looks_multiplexed(data: bytes | memoryview) -> bool:
    """Whether bytes start like a frame header (id 0-3, then three zero bytes). Used only when
    the proxy has not seen whether the container has a TTY."""
    return len(data) >= 4 and data[0] in STREAM_NAMES and data[1:4] == b"\0\0\0"


class FrameDecoder:
    """Incremental decoder: feed() any slices of the byte stream, get back (stream, payload)
    pieces. Headers and payloads split across reads are carried over; consecutive payload of
    one stream within a feed is merged into one piece, so a fast stream yields few records.
    A piece is (stream, size, the first `keep` bytes): payloads are never copied whole."""

    def __init__(self, keep: int = 256) -> None:
        self.keep = keep
        self._header = b""  # a partial header carried from the last feed
        self._stream = "raw"
        self._left = 0  # payload bytes of the current frame still to come
        self.broken = False  # a header that cannot be one: the rest is passed on as raw

    def feed(self, data: bytes | memoryview) -> list[Piece]:
        """Pieces of `data` (bytes, or a view that is only read during the call)."""
        out: list[Piece] = []
        pos, n = 0, len(data)
        while pos < n:
            if self.broken:
                self._add(out, "raw", data, pos, n)
                break
            if self._left:
                take = min(self._left, n - pos)
                self._add(out, self._stream, data, pos, pos + take)
                self._left -= take
                pos += take
                continue
            need = 8 - len(self._header)
            head = self._header + data[pos : pos + need]
            pos += len(head) - len(self._header)
            if len(head) < 8:
                self._header = head
                break
            self._header = b""
            if not looks_multiplexed(head):
                self.broken = True
                self._add(out, "raw", head, 0, 8)
                continue
            sid, size = HEADER.unpack(head)
            self._stream = STREAM_NAMES[sid]
            self._left = size
        return out

    @property
    def partial(self) -> bool:
        """A frame is cut in the middle (at a stream's end this means bytes were lost)."""
        return bool(self._header) or self._left > 0

    def _add(
        self, out: list[Piece], stream: str, data: bytes | memoryview, start: int, end: int
    ) -> None:
        if end <= start:
            return
        if out and out[-1][0] == stream:
            _, size, head = out[-1]
            if len(head) < self.keep:
                head += data[start : min(end, start + self.keep - len(head))]  # bytes += view
            out[-1] = (stream, size + end - start, head)
        else:
            out.append((stream, end - start, bytes(data[start : min(end, start + self.keep)])))
