"""One line that says what an event is, for the timeline and the chain's labels."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from tracer.describe import short_ids
from tracer.events import Event

__all__ = ["argv_text", "describe", "excerpt_text", "hop_label", "short_ids"]


def hop_label(label: str) -> str:
    """A hop's label as the story writes it: unshare(NEWNS|NEWPID), short ids."""
    return short_ids(label.replace("CLONE_", ""))


def short_flags(names: Sequence[str]) -> str:
    """CLONE_NEWNS, CLONE_NEWUTS -> NEWNS|NEWUTS (how the syscall is usually written)."""
    return "|".join(str(n).removeprefix("CLONE_") for n in names)


def argv_text(argv: object, limit: int = 0) -> str:
    if not isinstance(argv, list | tuple):
        return ""
    text = shlex.join(str(a) for a in argv)
    return text if not limit or len(text) <= limit else text[: limit - 1] + "…"


def excerpt_text(excerpt: object) -> str:
    """A stream excerpt as a quoted string with visible escapes: "hi\\n"."""
    s = str(excerpt or "")
    return '"' + s.encode("unicode_escape").decode("ascii", "replace").replace('"', '\\"') + '"'


def describe(ev: Event) -> str:
    """What happened, in a line: `POST /v1.41/containers/create`, `unshare(NEWNS|NEWPID)`."""
    return short_ids(_describe(ev))


def _describe(ev: Event) -> str:
    d = ev.detail
    k = ev.kind
    if k == "http.request":
        return f"{d.get('method', '?')} {d.get('target') or d.get('path', '')}"
    if k == "http.response":
        text = f"{d.get('status', '?')} {d.get('reason', '')}".strip()
        if d.get("path"):
            text += f" ← {d.get('method', '')} {d.get('path')}".replace("  ", " ")
        return text
    if k == "http.upgrade":
        return (
            f"upgraded to {d.get('protocol', 'tcp')} (raw stream{', tty' if d.get('tty') else ''})"
        )
    if k == "stream.frame":
        return f"{d.get('stream', 'raw')} {excerpt_text(d.get('excerpt'))}"
    if k == "conn.accept":
        who = d.get("peer_comm") or "?"
        return f"accepted a connection from {who} (pid {d.get('peer_pid', '?')})"
    if k == "conn.close":
        return f"connection closed ({d.get('bytes_in', 0)} B in, {d.get('bytes_out', 0)} B out)"
    if k == "proc.exec":
        return f"exec {argv_text(d.get('argv'), 90) or d.get('filename', '')}"
    if k == "proc.fork":
        return f"fork → pid {d.get('child_pid', '?')} {d.get('child_comm', '')}".rstrip()
    if k == "proc.exit":
        sig = d.get("signal")
        return f"exit {d.get('exit_code', '?')}" + (f" (signal {sig})" if sig else "")
    if k in ("sys.clone", "sys.clone3", "sys.unshare"):
        name = k.removeprefix("sys.")
        ret = f" → {d['ret']}" if d.get("ret") else ""
        return f"{name}({short_flags(d.get('flag_names') or []) or d.get('flags', '')}){ret}"
    if k == "sys.setns":
        return f"setns({d.get('nstype_name') or d.get('nstype', '')})"
    if k == "sys.mount":
        names = [str(n).removeprefix("MS_").lower() for n in d.get("flag_names") or []]
        # a remount or bind has no filesystem type: say which it is instead
        kind = d.get("fstype") or "/".join(names) or d.get("source") or "?"
        return f"mount {kind} on {d.get('target', '?')}"
    if k == "sys.pivot_root":
        return f"pivot_root({d.get('new_root', '')})"
    if k == "sys.connect":
        return f"connect {d.get('path', '')}"
    if k == "proc.seen":
        return f"{d.get('role', 'process')}: {argv_text(d.get('cmdline'), 80)}"
    if k in ("upstream.unreachable", "proxy.error", "stream.error"):
        return str(d.get("error") or d.get("message") or k)
    return k
