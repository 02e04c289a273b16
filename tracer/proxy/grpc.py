"""gRPC on an HTTP/2 stream: the length-prefixed messages of each direction, and the call's summary.

A gRPC message on the wire is a 1-byte compressed flag, a 4-byte big-endian length, then the
protobuf bytes; DATA frames cut them anywhere. Only the first bytes of each message are kept
(MESSAGE_KEEP) and only the first few messages of a direction are decoded, so a long stream
(content uploads, `Events/Subscribe`) costs memory for its counts only.
"""

from __future__ import annotations

import urllib.parse
import zlib
from dataclasses import dataclass, field
from typing import Any

from tracer.proxy.protobuf import ProtobufError, decode

MESSAGE_KEEP = 64 * 1024
MESSAGES_SHOWN = 4
# grpc-status codes (grpc/doc/statuscodes.md), for a learner who reads names, not numbers.
STATUS_NAMES = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
]


@dataclass
class Messages:
    """One direction of a call: gRPC messages cut out of its DATA bytes, the first decoded."""

    encoding: str = "identity"  # grpc-encoding of this direction
    size: int = 0  # DATA bytes, prefixes included
    count: int = 0
    shown: list[Any] = field(default_factory=list)
    _head: bytes = b""  # a 5-byte prefix not yet whole
    _left: int = 0  # bytes of the current message still to come
    _length: int = 0
    _compressed: bool = False
    _kept: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[str]:
        """Take DATA bytes; returns why a finished message could not be decoded (if one could
        not), for the proxy to report."""
        self.size += len(data)
        problems: list[str] = []
        pos, n = 0, len(data)
        while pos < n:
            if self._left:
                take = min(self._left, n - pos)
                if len(self._kept) < MESSAGE_KEEP and self.count < MESSAGES_SHOWN:
                    self._kept += data[pos : pos + min(take, MESSAGE_KEEP - len(self._kept))]
                self._left -= take
                pos += take
                if not self._left:
                    problems += self._finished()
                continue
            need = 5 - len(self._head)
            self._head += data[pos : pos + need]
            pos += min(need, n - pos)
            if len(self._head) == 5:
                self._compressed = self._head[0] == 1
                self._length = self._left = int.from_bytes(self._head[1:], "big")
                self._head = b""
                if not self._left:
                    problems += self._finished()
        return problems

    @property
    def partial(self) -> bool:
        return bool(self._head) or self._left > 0

    def _finished(self) -> list[str]:
        self.count += 1
        kept, self._kept = bytes(self._kept), bytearray()
        if self.count > MESSAGES_SHOWN:
            return []
        number = f"message {self.count} ({self._length} bytes)"
        if self._compressed:
            if self.encoding != "gzip":
                self.shown.append({"undecoded": f"compressed ({self.encoding})"})
                return []
            try:
                kept = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(kept, MESSAGE_KEEP)
            except zlib.error as e:
                self.shown.append({"undecoded": f"gzip: {e}"})
                return [f"{number}: not gzip ({e})"]
        try:
            self.shown.append(decode(kept, truncated=self._length > len(kept)))
        except ProtobufError as e:
            self.shown.append({"undecoded": str(e), "bytes": self._length})
            return [f"{number} is not a protobuf ({e})"]
        return []


def split_path(path: str) -> tuple[str, str]:
    """`/containerd.services.tasks.v1.Tasks/Start` -> (`containerd.services.tasks.v1.Tasks`,
    `Start`); a path of another shape gives ("", "")."""
    service, sep, method = path.lstrip("/").rpartition("/")
    return (service, method) if sep and service and method and "/" not in service else ("", "")


def status_detail(trailers: dict[str, str]) -> dict[str, Any]:
    """grpc-status (a number, and its name) and grpc-message (percent-decoded) from trailers."""
    raw = trailers.get("grpc-status", "")
    status = int(raw) if raw.isdigit() else None
    name = STATUS_NAMES[status] if status is not None and status < len(STATUS_NAMES) else None
    message = urllib.parse.unquote(trailers.get("grpc-message", ""))
    return {"status": status, "status_name": name, "message": message}
