"""Recordings: a header line, then one event per line; a writer and a tolerant reader."""

from __future__ import annotations

import json
import os
import platform
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tracer.events import Event, EventFormatError

FORMAT = "dockertrace-recording"
# 2: events of new sources (containerd's own events, files read) and kinds (grpc.call,
# containerd.event, cgroup.*, oci.spec, sys.write/read/openat/rename), new detail fields (a
# mount's option string). A reader of version 1 would skip those lines as bad ones, so the
# number tells it plainly that the file is newer than it is.
VERSION = 2
READS = (2,)


class RecordingError(ValueError):
    """A recording that cannot be read at all (not a recording, or a version we do not read)."""


@dataclass(frozen=True)
class Problem:
    """A line that was skipped, and why."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class Recording:
    header: dict[str, Any]
    events: list[Event]
    problems: list[Problem] = field(default_factory=list)
    path: str = ""


def make_header(
    backend: str, versions: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    """The first line: format, version, host kernel, engine versions, probe backend."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "kernel": platform.release(),
        "versions": dict(versions or {}),
        "backend": backend,
        **extra,
    }


class Recorder:
    """Writes events as they come (thread-safe); usable as an EventSink."""

    def __init__(self, path: str | os.PathLike[str], header: dict[str, Any]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._file: IO[str] = open(self.path, "w", encoding="utf-8")  # noqa: SIM115
        self._file.write(json.dumps(header, separators=(",", ":")) + "\n")
        self.count = 0

    def __call__(self, event: Event) -> None:
        line = event.to_json() + "\n"
        with self._lock:
            if not self._file.closed:
                self._file.write(line)
                self.count += 1

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_recording(
    path: str | os.PathLike[str], header: dict[str, Any], events: Iterable[Event]
) -> None:
    with Recorder(path, header) as rec:
        for ev in events:
            rec(ev)


# The detail fields the chain and the narration read, and the JSON types they must have in a
# recording from elsewhere: a line with any other type is skipped as a problem, so an untrusted
# file can never crash a replay with a TypeError deep in the chain.
_INT = (int,)
_STR = (str,)
DETAIL_TYPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(("conn", "seq", "status", "child_pid", "peer_pid", "first_byte_ns"), _INT),
    **dict.fromkeys(("last_byte_ns", "size", "exit_code", "ret", "flags"), _INT),
    **dict.fromkeys(("method", "path", "endpoint", "target", "stream", "excerpt"), _STR),
    **dict.fromkeys(("direction", "filename", "fstype", "body_excerpt", "protocol"), _STR),
    # version 2: what the claims read of the new kinds (tracer/chain/claims.py)
    **dict.fromkeys(("topic", "container_id", "service", "namespace", "data"), _STR),
    **dict.fromkeys(("stream_id", "fd"), _INT),
    "payload": (dict,),
    "argv": (list,),
    "flag_names": (list,),
    "nspid": (list,),
    "namespaces": (list,),
    "query": (dict,),
    "headers": (dict,),
}
_LISTS_OF = {"argv": str, "flag_names": str, "nspid": int, "namespaces": str}


def detail_problem(detail: Any) -> str | None:
    """Why an event's detail cannot be replayed (a field of the wrong type), or None."""
    if not isinstance(detail, dict):
        return None
    for key, types in DETAIL_TYPES.items():
        if key not in detail or (detail[key] is None and key not in ("conn", "seq")):
            continue
        value: Any = detail[key]
        if not isinstance(value, types) or isinstance(value, bool):
            return f"detail field {key!r} must be {types[0].__name__}"
        item = _LISTS_OF.get(key)
        if (
            item
            and isinstance(value, list)
            and not all(isinstance(v, item) and not isinstance(v, bool) for v in value)
        ):
            return f"detail field {key!r} must be a list of {item.__name__}"
    return None


def _from_v1(header: dict[str, Any], events: list[dict[str, Any]]) -> None:
    """Version 1 had a subset of version 2's kinds and fields, with the same meaning: its events
    stay as they are (the new fields are simply absent), and the header says what it was."""
    header["version"] = 2
    header["migrated_from"] = 1


# Migrations from older versions: version -> function turning that header+event dicts into the
# next version's, applied in turn until the current one.
MIGRATIONS: dict[int, Callable[[dict[str, Any], list[dict[str, Any]]], None]] = {1: _from_v1}


def read_recording(path: str | os.PathLike[str]) -> Recording:
    """Read what can be read. A bad event line becomes a Problem naming the line; a missing or
    foreign header or an unknown version raises RecordingError."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise RecordingError(f"{p}: cannot read: {e.strerror or e}") from e
    text = raw.decode("utf-8", errors="replace")
    # Split at "\n" only: str.splitlines() would also break at U+0085 or U+2028 inside a string.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or not lines[0].strip():
        raise RecordingError(f"{p}: empty file, not a dockertrace recording")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError as e:
        raise RecordingError(f"{p}:1: the header line is not JSON ({e.msg})") from e
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise RecordingError(f"{p}:1: not a dockertrace recording (no '{FORMAT}' header)")
    version = header.get("version")
    if not isinstance(version, int) or (version not in READS and version not in MIGRATIONS):
        raise RecordingError(
            f"{p}:1: recording format version {version!r}; this dockertrace reads versions "
            f"{', '.join(map(str, sorted({*READS, *MIGRATIONS})))}"
        )
    events: list[Event] = []
    problems: list[Problem] = []
    dicts: list[tuple[int, dict[str, Any]]] = []
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(Problem(n, f"not JSON ({e.msg} at column {e.colno}); skipped"))
            continue
        if not isinstance(d, dict):
            problems.append(Problem(n, "not a JSON object; skipped"))
            continue
        dicts.append((n, d))
    while header["version"] in MIGRATIONS:
        MIGRATIONS[header["version"]](header, [d for _, d in dicts])
    for n, d in dicts:
        if (why := detail_problem(d.get("detail"))) is not None:
            problems.append(Problem(n, f"{why}; skipped"))
            continue
        try:
            events.append(Event.from_dict(d))
        except EventFormatError as e:
            problems.append(Problem(n, f"{e}; skipped"))
    if not text.endswith("\n"):
        problems.append(Problem(len(lines), "the file ends mid-line (truncated recording?)"))
    events.sort(key=lambda ev: ev.time_ns)
    return Recording(header=header, events=events, problems=problems, path=str(p))
