"""One readable line for any event: what the timeline, the narration and the hops print."""

from __future__ import annotations

import json
import re
from typing import Any

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


def describe(ev: Event, compact: bool = False) -> str:
    """What happened, in a line: `POST /v1.41/containers/create`, `unshare(NEWNS|NEWPID)`.
    `compact` (a narrow timeline column): clone flags without their CLONE_ prefix."""
    d = ev.detail
    k = ev.kind
    if k == "http.request":
        return request_line(ev)
    if k == "http.response":
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
    if k == "stream.frame":
        return f"{d.get('stream', 'raw')} {excerpt(d.get('excerpt', ''))} ({d.get('size', 0)} B)"
    if k == "conn.accept":
        return f"connection {d.get('conn')} from pid {d.get('peer_pid')} ({d.get('peer_comm', '')})"
    if k == "conn.close":
        sizes = f"{d.get('bytes_in', 0)} B in, {d.get('bytes_out', 0)} B out"
        return f"connection {d.get('conn')} closed ({sizes})"
    if k == "conn.halfclose":
        return f"half-close {d.get('direction', '')} on connection {d.get('conn')}"
    if k == "http.upgrade":
        tty = ", tty" if d.get("tty") else ""
        return f"upgraded to a raw stream ({d.get('protocol', 'tcp')}{tty})"
    if k == "stream.error":
        return f"error inside the stream: {excerpt(d.get('message', ''), 60)}"
    if k == "upstream.unreachable":
        return f"daemon unreachable: {d.get('error', '')}"
    if k == "proxy.error":
        return f"proxy: {d.get('error', '')}"
    if k == "proc.exec":
        return exec_brief(ev)
    if k == "proc.fork":
        return f"fork → pid {d.get('child_pid')} {d.get('child_comm') or ''}".rstrip()
    if k == "proc.exit":
        sig = d.get("signal_name") or d.get("signal")
        return f"killed by {sig}" if sig else f"exit {d.get('exit_code', '?')}"
    if k in ("sys.clone", "sys.clone3"):
        flags = short_flags(d.get("flag_names", []))
        flags = flags.replace("CLONE_", "") if compact else flags
        return f"{k[4:]}({flags}) → pid {d.get('ret')}"
    if k == "sys.unshare":
        return f"unshare({short_flags(d.get('flag_names', []))})"
    if k == "sys.setns":
        return f"setns({d.get('nstype_name') or d.get('nstype')})"
    if k == "sys.mount":
        # a bind or a remount has no filesystem type: say which it is instead
        flags = "/".join(str(n).removeprefix("MS_").lower() for n in d.get("flag_names") or [])
        kind = d.get("fstype") or flags or d.get("source") or "?"
        return short_ids(f"mount {kind} on {d.get('target', '?')}")
    if k == "sys.pivot_root":
        return f"pivot_root({d.get('new_root', '?')}, {d.get('put_old', '?')})"
    if k == "sys.connect":
        return f"connect({d.get('path', '?')})"
    if k == "proc.seen":
        return f"{d.get('role', 'process')} running: {' '.join(d.get('cmdline') or [])[:80]}"
    return k
