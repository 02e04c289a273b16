"""What a message head says, derived once per distinct message: memo hits reuse it (memo.py).

h11 parses each distinct message once (memo.py); turning its head into what the events carry
(the target split and redacted, headers decoded and redacted, what the twin parser is told) cost
as much again, per message. These records are that work's result: immutable, so a remembered
parse can hand the same facts to every later copy of the message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import h11

from tracer import redact
from tracer.proxy.exchange import split_target

# What the h11 twins are told: only the headers that change how the conversation goes on
# (keep-alive, upgrades). Bodies' framing is left out, since their bytes are not replayed.
STATE_HEADERS = (b"host", b"connection", b"upgrade")


def header_fields(raw: Sequence[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    """Header values by lower-case name (repeats joined by ", "), from one pass over h11's
    `raw_items()`: cheaper than walking `event.headers` once per header looked up."""
    out: dict[bytes, bytes] = {}
    for name, value in raw:
        name = name.lower()
        out[name] = out[name] + b", " + value if name in out else value
    return out


@dataclass(frozen=True, slots=True)
class RequestFacts:
    method: str
    target: str
    path: str
    endpoint: str
    api_version: str | None
    query: dict[str, str]  # redacted (copied into each exchange: never changed here)
    headers: dict[str, str]  # redacted
    upgrade: str  # the protocol asked for, lower case
    content_type: str
    mirror: list[tuple[bytes, bytes]]  # the headers the response side's parser is told
    wire_method: bytes
    mirror_key: tuple[bytes, ...]  # the method and mirror headers: how a response parses


def request_facts(ev: h11.Request) -> RequestFacts:
    target = ev.target.decode("latin-1")
    path, endpoint, version, query = split_target(target)
    raw = ev.headers.raw_items()
    fields = header_fields(raw)
    mirror = [(n, fields[n]) for n in STATE_HEADERS if n in fields]
    if b"host" not in fields:
        mirror.append((b"host", b"recorded"))
    if ev.http_version == b"1.0" and b"keep-alive" not in fields.get(b"connection", b""):
        mirror.append((b"connection", b"close"))
    return RequestFacts(
        method=ev.method.decode("latin-1"),
        target=target,
        path=path,
        endpoint=endpoint,
        api_version=version,
        query=query,
        headers=redact.headers(raw, fields),
        upgrade=fields.get(b"upgrade", b"").decode("latin-1").lower(),
        content_type=fields.get(b"content-type", b"").decode("latin-1"),
        mirror=mirror,
        wire_method=ev.method,
        mirror_key=(ev.method, *(n + b":" + v for n, v in mirror)),
    )


@dataclass(frozen=True, slots=True)
class ResponseFacts:
    status: int
    reason: str
    headers: dict[str, str]  # redacted
    content_type: str
    chunked: bool
    sized: bool  # a Content-Length
    # The body's description (body_size, excerpt, no JSON) for a remembered response whose
    # body is no JSON: strings and numbers only, safe to share. None: described each time.
    body: dict[str, Any] | None = None


def response_facts(ev: h11.InformationalResponse | h11.Response) -> ResponseFacts:
    raw = ev.headers.raw_items()
    fields = header_fields(raw)
    return ResponseFacts(
        status=ev.status_code,
        reason=ev.reason.decode("latin-1"),
        headers=redact.headers(raw, fields),
        content_type=fields.get(b"content-type", b"").decode("latin-1"),
        chunked=b"chunked" in fields.get(b"transfer-encoding", b"").lower(),
        sized=bool(fields.get(b"content-length")),
    )
