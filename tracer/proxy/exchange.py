"""One request/response pair as the core assembles it, and the bounded capture of a body."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tracer import redact
from tracer.proxy.frames import FrameDecoder

BODY_KEEP = 64 * 1024  # bytes of a body kept to parse as JSON
BODY_EXCERPT = 2048  # characters of a body put in an event
FRAME_EXCERPT = 256  # characters of a stream frame put in an event
_VERSIONED = re.compile(r"^/v(\d+\.\d+)(/.*)?$")


def split_target(target: str) -> tuple[str, str, str | None, dict[str, str]]:
    """(path, endpoint, api_version, query) of a target like /v1.41/containers/json?all=1."""
    parts = urlsplit(target)
    path = parts.path
    m = _VERSIONED.match(path)
    endpoint, version = (m[2] or "/", m[1]) if m else (path, None)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    return path, endpoint, version, redact.query(query)


class Body:
    """Counts every byte and keeps only the first BODY_KEEP of them."""

    __slots__ = ("kept", "size")

    def __init__(self) -> None:
        self.size = 0
        self.kept = bytearray()

    def add(self, data: bytes) -> None:
        self.size += len(data)
        room = BODY_KEEP - len(self.kept)
        if room > 0:
            self.kept += data[:room]

    def parsed_json(self, content_type: str) -> Any:
        """The whole body as JSON (secrets redacted), or None if it is not JSON or was cut."""
        if self.size == 0 or self.size > BODY_KEEP:
            return None
        head = self.kept.lstrip()[:1]
        if "json" not in content_type and head not in (b"{", b"["):
            return None
        try:
            return redact.json_value(json.loads(self.kept))
        except ValueError:
            return None

    def describe(self, content_type: str) -> dict[str, Any]:
        """body_size, body_excerpt (pretty when JSON) and body_json for an event's detail."""
        if not self.size:
            return {"body_size": 0, "body_excerpt": "", "body_json": None}
        parsed = self.parsed_json(content_type)
        if parsed is not None:
            excerpt = json.dumps(parsed, indent=2, ensure_ascii=False)
        else:
            excerpt = redact.text(text(bytes(self.kept[: BODY_EXCERPT * 4])))
        if len(excerpt) > BODY_EXCERPT:
            excerpt = excerpt[:BODY_EXCERPT] + "…"
        return {"body_size": self.size, "body_excerpt": excerpt, "body_json": parsed}


def text(data: bytes, limit: int = 0) -> str:
    """Bytes as text for a person: UTF-8 with replacement characters, optionally bounded."""
    return (data[:limit] if limit else data).decode("utf-8", errors="replace")


@dataclass
class Exchange:
    """A request, and (once it comes) the daemon's answer to it."""

    seq: int
    method: str
    target: str
    path: str
    endpoint: str
    api_version: str | None
    query: dict[str, str]
    headers: dict[str, str]
    t_request: int
    upgrade: str = ""  # the protocol the client asked to switch to ("tcp", "h2c")
    request_content_type: str = ""
    mirror: list[tuple[bytes, bytes]] = field(default_factory=list)  # headers for the h11 twin
    wire_method: bytes = b""  # the method as sent, for the twin
    mirror_key: tuple[bytes, ...] = ()  # the method and mirror headers: how a response parses
    request_body: Body = field(default_factory=Body)
    request_json: Any = None
    status: int | None = None
    reason: str = ""
    response_headers: dict[str, str] = field(default_factory=dict)
    t_first: int = 0
    t_last: int = 0
    streaming: bool = False
    sized: bool = False  # the response has a Content-Length
    response_body: Body = field(default_factory=Body)
    frames: FrameDecoder | None = None  # multiplexed log frames in a streamed body
    frames_decided: bool = True  # False: decide from the first bytes (TTY not known)
    json_lines: bytearray | None = None  # partial line of a JSON-lines progress stream
    content_type: str = ""
    described: dict[str, Any] | None = None  # the response body's description, once made
    reported: bool = False
    # What a remembered parse made of the request and of the response (facts.py), where the
    # exchange came from the memo: their events' JSON is then filled into a template.
    remembered: Any = None
    remembered_response: Any = None

    def errors_in_stream(self, data: bytes) -> list[str]:
        """Pull, push, build and load report failures as JSON lines inside a 200 stream:
        {"error": ..., "errorDetail": {"message": ...}}. Returns the messages seen in `data`
        (lines split across reads are joined; a line longer than BODY_KEEP is dropped)."""
        if self.json_lines is None:
            return []
        self.json_lines += data
        *lines, rest = self.json_lines.split(b"\n")
        self.json_lines = bytearray(rest[-BODY_KEEP:])
        messages = []
        for line in lines:
            if b'"error' not in line:
                continue
            try:
                obj: Any = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and ("error" in obj or "errorDetail" in obj):
                detail = obj.get("errorDetail")
                nested = detail.get("message") if isinstance(detail, dict) else None
                messages.append(str(obj.get("error") or nested or ""))
        return messages
