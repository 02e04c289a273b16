"""The container config runc gets: DIR/config.json (the OCI runtime spec), read when `runc
create --bundle DIR` is seen, into an `oci.spec` event.

The file is read on a thread of its own, never on the probe's event-reading thread: a slow disk
must not stall the ring buffer. There is time: containerd writes the bundle before it starts
the shim, and removes it only when the container is deleted.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from tracer.events import Event, EventSink

MAX_SPEC_BYTES = 1 << 20  # a spec is a few KiB; anything near this is not one


def bundle_of(argv: Sequence[str]) -> str | None:
    """DIR of `--bundle DIR`, `--bundle=DIR` or `-b DIR` in a runc argv; None without one."""
    for i, arg in enumerate(argv):
        if arg in ("--bundle", "-b") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--bundle="):
            return arg.split("=", 1)[1]
    return None


def is_runc_create(ev: Event) -> bool:
    """An exec of runc with a bundle (create, or run, which creates too)."""
    if ev.kind != "proc.exec":
        return False
    argv = [str(a) for a in ev.detail.get("argv") or []]
    prog = os.path.basename(str(ev.detail.get("filename") or (argv[0] if argv else "")))
    runc = prog == "runc" or (ev.layer == "runc" and not prog.startswith("containerd-shim"))
    return runc and bundle_of(argv) is not None


def spec_detail(text: str | bytes) -> dict[str, Any]:
    """What a lesson shows of a spec; `error` (and nothing else) when it is not one."""
    try:
        spec = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        where = (
            f" at line {e.lineno} column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
        )
        return {"error": f"config.json is not JSON: {getattr(e, 'msg', str(e))}{where}"}
    if not isinstance(spec, dict):
        return {"error": f"config.json is JSON but not an object ({type(spec).__name__})"}
    linux = _map(spec.get("linux"))
    process = _map(spec.get("process"))
    root = _map(spec.get("root"))
    caps = _map(process.get("capabilities"))
    namespaces = [_map(n) for n in _list(linux.get("namespaces"))]
    return {
        "oci_version": spec.get("ociVersion"),
        "namespaces": [str(n.get("type", "?")) for n in namespaces],
        # a namespace with a path is joined (setns), not made: e.g. a network set up by dockerd
        "joined_namespaces": {
            str(n.get("type")): str(n["path"]) for n in namespaces if n.get("path")
        },
        "args": [str(a) for a in _list(process.get("args"))],
        "root": root.get("path"),
        "readonly_root": bool(root.get("readonly", False)),
        "cgroups_path": linux.get("cgroupsPath"),
        "mounts": len(_list(spec.get("mounts"))),
        "capabilities": len(_list(caps.get("bounding"))),
        "hostname": spec.get("hostname"),
    }


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def read_spec(bundle: str) -> dict[str, Any]:
    """spec_detail() of DIR/config.json, or `error` saying why it could not be read."""
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        return {"error": f"gone: {path} no longer exists (the bundle was removed)"}
    except OSError as e:
        return {"error": f"cannot read {path}: {e.strerror}"}
    if len(raw) > MAX_SPEC_BYTES:
        return {"error": f"{path} is larger than {MAX_SPEC_BYTES} bytes: not a spec"}
    return spec_detail(raw)


def spec_event(exec_ev: Event, detail: Mapping[str, Any]) -> Event:
    """The `oci.spec` event for runc's exec: stamped with the exec's time (the config runc got
    then), from runc's pid; `read_delay_ms` says how much later it was read."""
    argv = [str(a) for a in exec_ev.detail.get("argv") or []]
    bundle = bundle_of(argv) or ""
    full: dict[str, Any] = {
        "bundle": bundle,
        "path": os.path.join(bundle, "config.json"),
        "container_id": argv[-1] if argv and argv[-1] != bundle else os.path.basename(bundle),
        "runc_pid": exec_ev.pid,
        **detail,
    }
    return Event(
        time_ns=exec_ev.time_ns,
        source="file",
        layer="runc",
        kind="oci.spec",
        pid=exec_ev.pid,
        tid=exec_ev.tid,
        ppid=exec_ev.ppid,
        comm=exec_ev.comm,
        detail=full,
    )


class SpecReader:
    """Watches events for runc creates; reads each bundle's spec on its own thread."""

    def __init__(self, sink: EventSink) -> None:
        self.sink = sink
        self._queue: queue.SimpleQueue[Event | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="dockertrace-spec", daemon=True)
        self._thread.start()

    def see(self, ev: Event) -> None:
        """Cheap, from any thread: only runc creates are queued."""
        if is_runc_create(ev):
            self._queue.put(ev)

    def _run(self) -> None:
        while (ev := self._queue.get()) is not None:
            bundle = bundle_of([str(a) for a in ev.detail.get("argv") or []]) or ""
            detail = read_spec(bundle)
            delay = time.clock_gettime_ns(time.CLOCK_MONOTONIC) - ev.time_ns
            detail["read_delay_ms"] = round(delay / 1e6, 2)
            self.sink(spec_event(ev, detail))

    def close(self, timeout: float = 2.0) -> None:
        """Read what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout)
