"""Parses of byte-identical messages, remembered: keep-alive polls repeat themselves.

A client polling the daemon (a health check's `GET /_ping`, a dashboard's `GET /containers/json`
every second) sends the same request bytes again and again, and within one second (the `Date`
header) gets the same answer bytes. h11 parses each distinct message once; a message that arrives
whole, in one chunk, into an idle parser, byte for byte equal to one parsed that way before,
reuses that parse. Only messages that h11 read completely, with nothing after them, are
remembered, so what is reused is exactly what h11 would say again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import h11

MAX_ENTRIES = 256  # distinct messages remembered (then forgotten all at once)
MAX_BYTES = 16 * 1024  # a message larger than this is never remembered


@dataclass(frozen=True, slots=True)
class Parsed:
    """What h11 made of a message: its head event and (responses) its whole body."""

    head: h11.Request | h11.Response
    body: bytes = b""
    facts: Any = None  # what the core made of the head (facts.py): reused with the parse


class ParseMemo:
    """A bounded map from a message's bytes (with whatever else decides its parse) to it."""

    def __init__(self) -> None:
        self._seen: dict[object, Parsed] = {}

    def clear(self) -> None:
        self._seen.clear()

    def get(self, key: object) -> Parsed | None:
        return self._seen.get(key)

    def put(self, key: object, parsed: Parsed) -> None:
        if len(self._seen) >= MAX_ENTRIES:
            self._seen.clear()
        self._seen[key] = parsed


REQUESTS = ParseMemo()  # key: the request's bytes (into a fresh server-side parser)
RESPONSES = ParseMemo()  # key: (what the twin was told of the request, the response's bytes)
