"""One readable line for any event: what the timeline, the narration and the hops print."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from tracer.chain.paths import overlay_layers
from tracer.events import Event

NS_SHORT = {
    "CLONE_NEWNS": "NEWNS",
    "CLONE_NEWUTS": "NEWUTS",
    "CLONE_NEWIPC": "NEWIPC",
    "CLONE_NEWPID": "NEWPID",
    "CLONE_NEWNET": "NEWNET",
    "CLONE_NEWUSER": "NEWUSER",
    "CLONE_NEWCGROUP": "NEWCGROUP",
    "CLONE_NEWTIME": "NEWTIME",
}


def short_flags(names: Any) -> str:
    """["CLONE_NEWNS", "CLONE_NEWPID"] -> "NEWNS|NEWPID" (other flags keep their full name)."""
    if not isinstance(names, list | tuple):
        return str(names)
    return "|".join(NS_SHORT.get(str(n), str(n)) for n in names)


def excerpt(text: Any, limit: int = 40) -> str:
    s = str(text)
    shown = json.dumps(s[:limit], ensure_ascii=False)
    return shown[:-1] + '…"' if len(s) > limit else shown


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text safe for a terminal: control characters (escape sequences from a recording or a
    container's output) shown as \\xNN instead of acted on; newlines and tabs kept."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


LONG_ID = re.compile(r"\b([0-9a-f]{12})[0-9a-f]{52}\b")


def short_ids(text: str) -> str:
    """Container and image ids cut to the 12 characters docker shows."""
    return LONG_ID.sub(r"\1…", text)


def request_line(ev: Event) -> str:
    d = ev.detail
    return short_ids(f"{d.get('method', '?')} {d.get('target') or d.get('path', '?')}")


RUNC_VERBS = ("create", "start", "delete", "kill", "state", "init", "run", "exec")


def exec_brief(ev: Event) -> str:
    """An exec as the lesson needs it: runc's verb and bundle, the shim's container id."""
    argv = [str(a) for a in ev.detail.get("argv") or [ev.detail.get("filename", "?")]]
    prog = argv[0].rsplit("/", 1)[-1]
    if prog == "runc" or ev.layer == "runc":
        verb = next((i for i, a in enumerate(argv) if a in RUNC_VERBS), None)
        if verb is not None:
            return short_ids("exec runc " + " ".join(argv[verb:]))
    if prog.startswith("containerd-shim"):
        if "-id" in argv and argv.index("-id") + 1 < len(argv):
            tail = " start" if argv[-1] == "start" else ""
            return short_ids(f"exec {prog} -id {argv[argv.index('-id') + 1]}{tail}")
        return short_ids(f"exec {prog} " + " ".join(argv[1:])[:60])
    return short_ids("exec " + " ".join(argv))[:100]


def _response(d: Mapping[str, Any]) -> str:
    body = d.get("body_json")
    tail = ""
    if isinstance(body, dict):
        if "message" in body:
            tail = f" {excerpt(body['message'], 60)}"
        elif "StatusCode" in body:
            tail = f" StatusCode {body['StatusCode']}"
        elif "Id" in body:
            tail = f" Id {str(body['Id'])[:12]}"
    line = f"{d.get('status', '?')} {d.get('reason', '')} ← {d.get('method', '')} "
    return short_ids(f"{line}{d.get('endpoint') or d.get('path', '')}{tail}".replace("  ", " "))


def _closed(d: Mapping[str, Any]) -> str:
    sizes = f"{d.get('bytes_in', 0)} B in, {d.get('bytes_out', 0)} B out"
    return f"connection {d.get('conn')} closed ({sizes})"


def _upgraded(d: Mapping[str, Any]) -> str:
    tty = ", tty" if d.get("tty") else ""
    return f"upgraded to a raw stream ({d.get('protocol', 'tcp')}{tty})"


def _exited(d: Mapping[str, Any]) -> str:
    sig = d.get("signal_name") or d.get("signal")
    return f"killed by {sig}" if sig else f"exit {d.get('exit_code', '?')}"


def _mounted(d: Mapping[str, Any]) -> str:
    # a bind or a remount has no filesystem type: say which it is instead
    flags = "/".join(str(n).removeprefix("MS_").lower() for n in d.get("flag_names") or [])
    kind = d.get("fstype") or flags or d.get("source") or "?"
    return short_ids(f"mount {kind} on {d.get('target', '?')}{_mount_line(d)}")


def _base(path: Any) -> str:
    return str(path or "?").rsplit("/", 1)[-1]


def _mount_line(d: Mapping[str, Any]) -> str:
    layers = overlay_layers(d.get("data")) if d.get("fstype") == "overlay" else None
    if layers is None:
        return ""
    upper = "a writable upperdir" if layers.upper else "no upperdir"
    return f" ({len(layers.lower)} read-only layers + {upper})"


def _containerd_line(d: Mapping[str, Any]) -> str:
    raw = d.get("payload")
    payload: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    extra = f" pid {payload['pid']}" if payload.get("pid") else ""
    if payload.get("exit_status") is not None:
        extra += f" status {payload['exit_status']}"
    cid = str(d.get("container_id") or payload.get("key") or "")[:12]
    return f"containerd event {d.get('topic', '?')} [{d.get('namespace', '?')}] {cid}{extra}"


def _hierarchy(d: Mapping[str, Any]) -> str:
    return "cgroup v2" if d.get("root") == 0 else f"v1 hierarchy {d.get('root')}"


def _io_line(verb: str, d: Mapping[str, Any]) -> str:
    where = _base(d["path"]) if d.get("path") else f"fd {d.get('fd')}"
    return f"{verb} {where}: {excerpt(d.get('excerpt', ''), 30)} ({d.get('size', 0)} B)"


def _spec_line(d: Mapping[str, Any]) -> str:
    if d.get("error"):
        return f"OCI spec unreadable: {d['error']}"
    args = " ".join(str(a) for a in d.get("args") or [])
    ns = ",".join(str(n) for n in d.get("namespaces") or [])
    return f"OCI spec: run {excerpt(args, 30)}, namespaces {ns}, {d.get('mounts', 0)} mounts"


# the boundaries' kinds (issue 14): what crossed between the engine's parts
BOUNDARY_LINES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "containerd.event": _containerd_line,
    "source.unavailable": lambda d: f"{d.get('source', '?')} unavailable: {d.get('reason', '')}",
    "cgroup.mkdir": lambda d: f"mkdir cgroup {d.get('path', '?')} ({_hierarchy(d)})",
    "cgroup.attach": lambda d: (
        f"pid {d.get('pid')} joins cgroup {d.get('path', '?')} ({_hierarchy(d)})"
    ),
    "oci.spec": _spec_line,
    "sys.openat": lambda d: f"open {_base(d.get('path'))} ({d.get('purpose', 'file')})",
    "sys.rename": lambda d: f"rename {_base(d.get('old_path'))} → {_base(d.get('path'))}",
    "sys.write": lambda d: _io_line("write to", d),
    "sys.read": lambda d: _io_line("read from", d),
}


def _grpc(d: Mapping[str, Any]) -> str:
    service = str(d.get("service") or "?").removeprefix("containerd.services.")
    status = d.get("status_name") or ("cut short" if d.get("complete") is False else "?")
    return f"gRPC {service}/{d.get('method') or '?'} → {status}"


def _h2(d: Mapping[str, Any]) -> str:
    sizes = f"{d.get('bytes_in', 0)} B in, {d.get('bytes_out', 0)} B out"
    return f"HTTP/2 connection {d.get('conn')}: {d.get('calls', 0)} call(s), {sizes}"


# kind -> its line, from the event's detail (proc.exec, http.request and the clones need more)
LINES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "http.response": _response,
    "stream.frame": lambda d: (
        f"{d.get('stream', 'raw')} {excerpt(d.get('excerpt', ''))} ({d.get('size', 0)} B)"
    ),
    "conn.accept": lambda d: (
        f"connection {d.get('conn')} from pid {d.get('peer_pid')} ({d.get('peer_comm', '')})"
    ),
    "conn.close": _closed,
    "conn.halfclose": lambda d: (
        f"half-close {d.get('direction', '')} on connection {d.get('conn')}"
    ),
    "http.upgrade": _upgraded,
    "stream.error": lambda d: f"error inside the stream: {excerpt(d.get('message', ''), 60)}",
    "upstream.unreachable": lambda d: f"daemon unreachable: {d.get('error', '')}",
    "proxy.error": lambda d: f"proxy: {d.get('error', '')}",
    "grpc.call": _grpc,
    "h2.exchange": lambda d: (
        f"HTTP/2 {d.get('method') or '?'} {d.get('path') or '(headers unknown)'}"
    ),
    "h2.stream": _h2,
    "proc.fork": lambda d: f"fork → pid {d.get('child_pid')} {d.get('child_comm') or ''}".rstrip(),
    "proc.exit": _exited,
    "sys.unshare": lambda d: f"unshare({short_flags(d.get('flag_names', []))})",
    "sys.setns": lambda d: f"setns({d.get('nstype_name') or d.get('nstype')})",
    "sys.mount": _mounted,
    "sys.pivot_root": lambda d: f"pivot_root({d.get('new_root', '?')}, {d.get('put_old', '?')})",
    "sys.connect": lambda d: f"connect({d.get('path', '?')})",
    "proc.seen": lambda d: (
        f"{d.get('role', 'process')} running: {' '.join(d.get('cmdline') or [])[:80]}"
    ),
}


def describe(ev: Event, compact: bool = False) -> str:
    """What happened, in a line: `POST /v1.41/containers/create`, `unshare(NEWNS|NEWPID)`.
    `compact` (a narrow timeline column): clone flags without their CLONE_ prefix."""
    k = ev.kind
    line = LINES.get(k)
    if line is not None:
        return line(ev.detail)
    boundary = BOUNDARY_LINES.get(k)
    if boundary is not None:
        return short_ids(boundary(ev.detail))
    if k == "http.request":
        return request_line(ev)
    if k == "proc.exec":
        return exec_brief(ev)
    if k in ("sys.clone", "sys.clone3"):
        flags = short_flags(ev.detail.get("flag_names", []))
        flags = flags.replace("CLONE_", "") if compact else flags
        return f"{k[4:]}({flags}) → pid {ev.detail.get('ret')}"
    return k
