"""Protobuf messages read without their schema: field numbers, varints, strings, nested messages.

The wire format says only a field's number and how its bytes are laid out (varint, 64-bit,
length-delimited, 32-bit), not what they mean. A length-delimited field may be a string, raw
bytes or a nested message; it is shown as a string when it is printable UTF-8 (most of
containerd's ids, images and paths), else as a nested message when its bytes parse as one to the
end, else as bytes. Fields are keyed by number ("1", "2"); a repeated number becomes a list. The
output is bounded (depth, fields, text), so a huge or hostile message cannot blow up an event.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 8
MAX_FIELDS = 64  # per message; the rest is counted, not shown
MAX_TEXT = 160  # characters of a string, hex digits of bytes
WIRE_TYPES = {0: "varint", 1: "fixed64", 2: "bytes", 5: "fixed32"}  # 3, 4: groups, long gone


class ProtobufError(ValueError):
    """Bytes that are not a protobuf message; the message says where and why."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    for i in range(pos, min(pos + 10, len(data))):
        b = data[i]
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i + 1
        shift += 7
    if len(data) - pos >= 10:
        raise ProtobufError(f"varint longer than 10 bytes at byte {pos}")
    raise ProtobufError(f"truncated varint at byte {pos}")


def _printable(raw: bytes) -> str | None:
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return s if all(c.isprintable() or c in "\t\n\r" for c in s) else None


def _shown(raw: bytes, depth: int) -> Any:
    """A length-delimited field as a string, a nested message, or bytes (hex)."""
    text = _printable(raw)
    if text is not None:
        return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + f"… ({len(raw)} bytes)"
    if depth < MAX_DEPTH:
        try:
            return decode(raw, _depth=depth + 1)
        except ProtobufError:
            pass
    shown = raw[: MAX_TEXT // 2].hex()
    return {"bytes": len(raw), "hex": shown + ("…" if len(raw) > MAX_TEXT // 2 else "")}


def decode(data: bytes, *, truncated: bool = False, _depth: int = 0) -> dict[str, Any]:
    """A message's fields by number. Raises ProtobufError if the bytes are not a message, unless
    `truncated` (the bytes are only the message's start): then it stops quietly at the cut."""
    fields: dict[str, Any] = {}
    pos, shown, n = 0, 0, len(data)
    if not n and _depth:
        raise ProtobufError("empty")  # as a nested message, b"" says nothing: keep it bytes
    while pos < n:
        start = pos
        try:
            key, pos = _varint(data, pos)
            number, wire = key >> 3, key & 7
            if number == 0 or wire not in WIRE_TYPES:
                raise ProtobufError(f"field {number} with wire type {wire} at byte {start}")
            value: Any
            if wire == 0:
                value, pos = _varint(data, pos)
            elif wire in (1, 5):
                size = 8 if wire == 1 else 4
                if pos + size > n:
                    raise ProtobufError(f"truncated {WIRE_TYPES[wire]} at byte {pos}")
                value, pos = int.from_bytes(data[pos : pos + size], "little"), pos + size
            else:
                size, pos = _varint(data, pos)
                if pos + size > n:
                    raise ProtobufError(
                        f"field {number} says {size} bytes at byte {pos}, {n - pos} are left"
                    )
                value, pos = _shown(data[pos : pos + size], _depth), pos + size
        except ProtobufError:
            if truncated:
                fields["…"] = f"cut at byte {start} of the kept {n}"
                break
            raise
        shown += 1
        if shown > MAX_FIELDS:
            fields["…"] = f"{shown - MAX_FIELDS} more fields"
            continue
        _add(fields, str(number), value)
    return fields


def _add(fields: dict[str, Any], key: str, value: Any) -> None:
    # Values are str, int or dict, so a list can only be a repeated field's values.
    if key not in fields:
        fields[key] = value
    elif isinstance(fields[key], list):
        fields[key].append(value)
    else:
        fields[key] = [fields[key], value]
