"""The one event vocabulary every source produces and every front end reads."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

# containerd: its event service (`ctr events`); file: files the tracer reads (the OCI spec)
Source = Literal["proxy", "bpf", "tracefs", "proc", "replay", "containerd", "file"]
Layer = Literal["cli", "dockerd", "containerd", "shim", "runc", "container", "kernel", "proxy"]

SOURCES: frozenset[str] = frozenset(get_args(Source))
LAYERS: frozenset[str] = frozenset(get_args(Layer))
# The namespaces runc unshares for a container (step 5), as sys.unshare's `flag_names` has them.
NAMESPACE_FLAGS = ("CLONE_NEWNS", "CLONE_NEWUTS", "CLONE_NEWIPC", "CLONE_NEWPID", "CLONE_NEWNET")

# The kinds, grouped by who produces them. `detail` keys are listed beside each.
KINDS: Mapping[str, str] = {
    # proxy (tracer/proxy)
    "conn.accept": "conn, peer_pid, peer_uid, peer_gid, peer_comm, peer_argv",
    "conn.close": "conn, bytes_in, bytes_out, reason",
    "conn.halfclose": "conn, direction (client->daemon | daemon->client)",
    "http.request": "conn, seq, method, target, path, endpoint, api_version, query, headers, "
    "body_size, body_excerpt, body_json",
    "http.response": "conn, seq, method, path, endpoint, status, reason, headers, body_size, "
    "body_excerpt, body_json, first_byte_ns, last_byte_ns, streaming",
    "http.upgrade": "conn, seq, protocol, tty",
    "stream.frame": "conn, seq, direction, stream (stdin|stdout|stderr|raw), size, excerpt",
    "stream.error": "conn, seq, message (an error reported inside a 200 stream)",
    "h2.stream": "conn, seq, bytes_in, bytes_out, calls (an HTTP/2 connection's summary)",
    "grpc.call": "conn, seq, stream_id, path, service, method, authority, status (grpc-status), "
    "status_name, message, http_status, request_size, response_size, request_messages, "
    "response_messages, request, response (the first messages, protobuf fields by number), "
    "request_ns, first_byte_ns, last_byte_ns, complete, reset, reset_by, headers_lost",
    "h2.exchange": "conn, seq, stream_id, path, method, http_status, request_size, "
    "response_size, request_ns, first_byte_ns, last_byte_ns, complete, headers_lost "
    "(HTTP/2 that is not gRPC, or whose headers could not be decoded)",
    "upstream.unreachable": "conn, upstream, error",
    "proxy.error": "conn, error",
    # kernel (tracer/probes: bcc or tracefs)
    "proc.exec": "filename, argv",
    "proc.fork": "child_pid, child_comm",
    "proc.exit": "exit_code, signal",
    "sys.clone": "flags, flag_names, ret (child pid)",
    "sys.clone3": "flags, flag_names, ret",
    "sys.unshare": "flags, flag_names",
    "sys.setns": "fd, nstype, nstype_name",
    "sys.mount": "source, target, fstype, flags, data (the option string; None in tracefs)",
    "sys.pivot_root": "new_root, put_old",
    "sys.connect": "path, family",
    "cgroup.mkdir": "path, root (hierarchy id; 0 is cgroup v2), level, id, container_id",
    "cgroup.attach": "path, root, level, pid (the task attached), attached_comm, container_id",
    "sys.openat": "path, flags, flag_names, ret (fd), purpose (metadata | fifo), container_id",
    "sys.rename": "path (the new name), old_path, ret, container_id",
    "sys.write": "fd, size (bytes asked), ret, excerpt (at most 64 bytes), path (a FIFO's)",
    "sys.read": "fd, size (bytes read), excerpt (at most 64 bytes), path (a FIFO's)",
    # containerd's event service (tracer/probes/containerd_events)
    "containerd.event": "topic, namespace, container_id, payload, wall_time, wall_ns, clock",
    "source.unavailable": "source (e.g. containerd-events), reason",
    # files read while they exist (tracer/probes/oci_spec)
    "oci.spec": "bundle, path, container_id, namespaces, args, root, readonly_root, "
    "cgroups_path, mounts (count), capabilities (count), hostname, runc_pid, error",
    # processes (tracer/probes/procs, psutil)
    "proc.seen": "role, cmdline, create_time, listens, nspid",
}


# One encoder for every event: json.dumps with options builds a new one per call (µs each,
# and the proxy's recorder writes thousands of events a second).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _event_encoder() -> Callable[[Any], str]:
    """`_ENCODER.encode`, without the C encoder it builds on every call (half its time for
    an event). `json.encoder.c_make_encoder` is what `JSONEncoder.iterencode` itself calls,
    with the same arguments, but it is not documented: where it is missing (PyPy, a future
    CPython) this falls back to `_ENCODER.encode`; tests/unit/test_events.py checks both
    give the same text. No circular-reference check: an event is a tree."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _ENCODER.encode
    try:
        c_encode = make(
            None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",",
            False, False, True,
        )  # fmt: skip
    except TypeError:  # the signature changed
        return _ENCODER.encode
    join = "".join
    return lambda obj: join(c_encode(obj, 0))


encode_json = _event_encoder()
encode_string = json.encoder.encode_basestring  # a str as JSON (C where there is C), no escapes


class EncodedDetail(dict[str, Any]):
    """An event's detail whose JSON text was made already, by filling in a template (the
    proxy's recorder, for a message it has seen before): `Event.to_json` then only writes the
    event's own fields around it. The text must be what encoding the dict gives, key for key
    and byte for byte; tests/unit/test_proxy_core.py and the fuzzing check it on every event."""

    __slots__ = ("json",)

    def __init__(self, items: Mapping[str, Any], json_text: str) -> None:
        super().__init__(items)
        self.json = json_text


def monotonic_ns() -> int:
    """CLOCK_MONOTONIC in ns: the clock bpf_ktime_get_ns() reads, so proxy and kernel events
    interleave correctly."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


class EventFormatError(ValueError):
    """A mapping that is not a valid event; the message says which field is wrong."""


@dataclass(frozen=True, slots=True)
class Event:
    """One thing observed: who (pid, comm, layer), what (kind, detail), when (time_ns)."""

    time_ns: int
    source: Source
    layer: Layer
    kind: str
    pid: int = 0
    tid: int = 0
    ppid: int = 0
    comm: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "time_ns": self.time_ns,
            "source": self.source,
            "layer": self.layer,
            "kind": self.kind,
            "pid": self.pid,
            "tid": self.tid,
            "ppid": self.ppid,
            "comm": self.comm,
            "detail": dict(self.detail),
        }

    def to_json(self) -> str:
        d = self.detail
        if type(d) is EncodedDetail:  # the same text encode_json(self.to_dict()) gives
            s = encode_string
            return (
                f'{{"time_ns":{self.time_ns},"source":{s(self.source)},"layer":{s(self.layer)},'
                f'"kind":{s(self.kind)},"pid":{self.pid},"tid":{self.tid},"ppid":{self.ppid},'
                f'"comm":{s(self.comm)},"detail":{d.json}}}'
            )
        return encode_json(self.to_dict())

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Event:
        """Validate and build; raises EventFormatError naming the bad field."""
        if not isinstance(d, Mapping):
            raise EventFormatError(f"expected a JSON object, got {type(d).__name__}")
        for name, typ in (("time_ns", int), ("source", str), ("layer", str), ("kind", str)):
            if name not in d:
                raise EventFormatError(f"missing field {name!r}")
            if not isinstance(d[name], typ) or isinstance(d[name], bool):
                raise EventFormatError(f"field {name!r} must be {typ.__name__}")
        if d["source"] not in SOURCES:
            raise EventFormatError(f"unknown source {d['source']!r}")
        if d["layer"] not in LAYERS:
            raise EventFormatError(f"unknown layer {d['layer']!r}")
        for name in ("pid", "tid", "ppid"):
            if not isinstance(d.get(name, 0), int):
                raise EventFormatError(f"field {name!r} must be int")
        if not isinstance(d.get("comm", ""), str):
            raise EventFormatError("field 'comm' must be str")
        detail = d.get("detail", {})
        if not isinstance(detail, Mapping):
            raise EventFormatError("field 'detail' must be an object")
        return cls(
            time_ns=d["time_ns"],
            source=d["source"],
            layer=d["layer"],
            kind=d["kind"],
            pid=d.get("pid", 0),
            tid=d.get("tid", 0),
            ppid=d.get("ppid", 0),
            comm=d.get("comm", ""),
            detail=dict(detail),
        )

    @classmethod
    def from_json(cls, line: str) -> Event:
        try:
            data = json.loads(line)
        except json.JSONDecodeError as e:
            raise EventFormatError(f"not JSON: {e.msg} at column {e.colno}") from e
        return cls.from_dict(data)


EventSink = Callable[[Event], None]
"""Where a source hands each event it observes; it must not block."""
