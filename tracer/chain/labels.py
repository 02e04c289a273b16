"""An arrow's short label, from its events: method and path, syscall and flags, a count."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from tracer.events import Event

LONG_ID = re.compile(r"\b([0-9a-f]{12})[0-9a-f]{52}\b")
STATUS_CODE = re.compile(r'"StatusCode":\s*(-?\d+)')
API_VERSION = re.compile(r"^/v\d+\.\d+(?=/)")
RUNC_VERBS = ("create", "start", "delete", "kill", "state", "init", "run", "exec")
TMP_FILE = re.compile(r"^\.tmp-(.+?)\d+$")  # dockerd's temporary name for a file it saves
EXCERPT = 16  # characters of a stream's bytes shown on an arrow


def short(text: str) -> str:
    """Container ids cut to the 12 characters docker shows."""
    return LONG_ID.sub(r"\1", text)


def flags(names: object) -> str:
    """["CLONE_NEWNS", "CLONE_PARENT"] -> "NEWNS|PARENT"."""
    if not isinstance(names, list | tuple):
        return ""
    return "|".join(str(n).removeprefix("CLONE_") for n in names if n != "SIGCHLD")


def quoted(text: object, limit: int = EXCERPT) -> str:
    s = str(text or "").encode("unicode_escape").decode("ascii", "replace")
    return '"' + (s[:limit] + "…" if len(s) > limit else s) + '"'


def count(n: int) -> str:
    return f" ×{n}" if n > 1 else ""


def first(events: Sequence[Event], *kinds: str) -> Event:
    return next((e for e in events if e.kind in kinds), events[0])


def _request(evs: Sequence[Event]) -> str:
    d = evs[0].detail
    if evs[0].kind == "h2.stream":
        return "HTTP/2 stream"
    path = API_VERSION.sub("", str(d.get("path") or d.get("target") or "?"))
    return short(f"{d.get('method', '?')} {path}")


def _response(evs: Sequence[Event]) -> str:
    """The answer's status line, with what came with it: the upgrade, its body's chunks."""
    resp = first(evs, "http.response")
    frames = [e for e in evs if e.kind == "stream.frame"]
    if resp.kind != "http.response":  # a body whose status line came earlier
        if len(frames) == 1:
            return _frame(frames)
        return f"body ×{len(frames)} ({sum(int(e.detail.get('size') or 0) for e in frames)} B)"
    line = _status(resp)
    if any(e.kind == "http.upgrade" for e in evs):
        line += ", raw stream"
    if frames:
        size = sum(int(e.detail.get("size") or 0) for e in frames)
        line += f" + {len(frames)} chunk{'s' if len(frames) > 1 else ''} ({size} B)"
    return line


def _status(resp: Event) -> str:
    d = resp.detail
    body = d.get("body_json")
    tail = ""
    if d.get("streaming") or (
        isinstance(d.get("headers"), dict)
        and "chunked" in str(d["headers"].get("Transfer-Encoding", ""))
    ):
        body = None  # its body comes later, as frames of its own: not at the header's time
    if isinstance(body, dict) and "Id" in body:
        tail = f" Id {str(body['Id'])[:12]}"
    elif isinstance(body, dict) and isinstance(body.get("message"), str):
        tail = f": {body['message'][:24]}"
    return f"{d.get('status', '?')} {d.get('reason', '')}".strip() + tail


def _frame(evs: Sequence[Event]) -> str:
    d = evs[0].detail
    code = STATUS_CODE.search(str(d.get("excerpt") or ""))
    if len(evs) == 1 and d.get("stream") == "raw" and code:
        return f"body: StatusCode {code.group(1)}"  # /wait's answer, the container's exit
    if len(evs) == 1:
        return f"{d.get('stream', 'raw')} {quoted(d.get('excerpt'))}"
    size = sum(int(e.detail.get("size") or 0) for e in evs)
    return f"{d.get('stream', 'raw')} ×{len(evs)} ({size} B)"


def _connect(evs: Sequence[Event]) -> str:
    c = first(evs, "sys.connect")
    if c.kind != "sys.connect":
        return f"connect (conn {c.detail.get('conn')})"
    path = str(c.detail.get("path", "?"))
    name = path.rstrip("/").rsplit("/", 1)[-1]
    failed = isinstance(c.detail.get("ret"), int) and c.detail["ret"] < 0
    n = sum(1 for e in evs if e.kind == "sys.connect")
    return short(f"connect {name[:24]}{' ✗' if failed else ''}{count(n)}")


def exec_label(ev: Event) -> str:
    argv = [str(a) for a in ev.detail.get("argv") or [ev.detail.get("filename", "?")]]
    prog = argv[0].rsplit("/", 1)[-1]
    if prog == "runc" or ev.layer == "runc":
        verb = next((a for a in argv if a in RUNC_VERBS), None)
        if verb is not None:
            return f"exec runc {verb}"
    if prog.startswith("containerd-shim"):
        tail = f" {argv[-1]}" if argv[-1] in ("start", "delete") else ""
        if "-id" in argv and argv.index("-id") + 1 < len(argv):
            return short(f"exec {prog} -id {argv[argv.index('-id') + 1]}{tail}")
        return f"exec {prog}{tail}"
    words = " ".join([prog, *argv[1:]])
    return short(f"exec {words[:40]}{'…' if len(words) > 40 else ''}")


def _exec(evs: Sequence[Event]) -> str:
    """The exec, and the end of a helper that did nothing else."""
    end = first(evs, "proc.exit")
    tail = f", {_exit([end])}" if end.kind == "proc.exit" else ""
    return exec_label(first(evs, "proc.exec")) + tail


def _clone(evs: Sequence[Event], names: Mapping[int, Sequence[str]]) -> str:
    c = first(evs, "sys.clone", "sys.clone3")
    child = c.detail.get("child_pid") if c.kind == "proc.fork" else c.detail.get("ret")
    # a child is named at fork after its parent; the name it took next says what it is
    # (runc:[1:CHILD], runc:[2:INIT])
    seen = names.get(child, ()) if isinstance(child, int) else ()
    name = f" {seen[1] if len(seen) > 1 else seen[0]}" if seen else ""
    if c.kind == "proc.fork":
        return f"fork → {child}{name}"
    return f"{c.kind[4:]}({flags(c.detail.get('flag_names'))}) → {child}{name}"


def _exit(evs: Sequence[Event]) -> str:
    d = evs[0].detail
    sig = d.get("signal_name") or d.get("signal")
    return (f"killed by {sig}" if sig else f"exit {d.get('exit_code', '?')}") + count(len(evs))


def _mount(evs: Sequence[Event]) -> str:
    types = [str(e.detail.get("fstype") or "") or _mount_how(e) for e in evs]
    if len(evs) == 1:
        target = str(evs[0].detail.get("target", "?"))
        return short(f"mount {types[0]} {target[-28:]}")
    kinds = list(dict.fromkeys(types))
    more = "…" if len(kinds) > 3 else ""
    return f"mount ×{len(evs)} ({', '.join(kinds[:3])}{more})"


def _mount_how(ev: Event) -> str:
    names = [str(n).removeprefix("MS_").lower() for n in ev.detail.get("flag_names") or []]
    return next((n for n in ("bind", "remount", "shared", "slave", "private") if n in names), "?")


def _setns(evs: Sequence[Event]) -> str:
    d = evs[0].detail
    return f"setns({d.get('nstype_name') or d.get('nstype')}){count(len(evs))}"


def _close(evs: Sequence[Event]) -> str:
    conns = sorted({int(e.detail["conn"]) for e in evs if isinstance(e.detail.get("conn"), int)})
    whole = any(e.kind == "conn.close" for e in evs)
    what = "close" if whole else "half-close"
    return f"{what} conn {', '.join(map(str, conns))}"


def _error(evs: Sequence[Event]) -> str:
    d = evs[0].detail
    text = d.get("message") or d.get("error") or evs[0].kind
    return f"error: {str(text)[:30]}"


def _newer(evs: Sequence[Event]) -> str:
    e, d = evs[0], evs[0].detail
    if e.kind == "containerd.event":
        return f"event {d.get('topic', '?')}"
    if e.kind == "grpc.call":
        return f"gRPC {d.get('method') or d.get('path') or '?'}"
    if e.kind == "oci.spec":
        if d.get("error"):
            return "config.json unreadable"
        return f"config.json ({len(d.get('namespaces') or [])} namespaces)"
    if e.kind.startswith("cgroup."):
        verb = "mkdir" if e.kind == "cgroup.mkdir" else f"attach {d.get('pid', '?')} to"
        return short(f"cgroup {verb} {d.get('path', '?')}{count(len(evs))}")
    size = sum(int(x.detail.get("size") or 0) for x in evs)
    if len(evs) == 1 and d.get("excerpt"):
        return f"{e.kind[4:]} {quoted(d.get('excerpt'))}"
    return f"{e.kind[4:]} {size} B{count(len(evs))}"


def _file(evs: Sequence[Event]) -> str:
    """dockerd's metadata saved (the files it wrote, ×renames), the stdio FIFOs opened."""
    names = [str(e.detail.get("path", "?")).rsplit("/", 1)[-1] for e in evs]
    if len(evs) == 1:
        verb = "open" if evs[0].kind == "sys.openat" else "rename →"
        return short(f"{verb} {names[0][:28]}")
    files = ", ".join(dict.fromkeys(TMP_FILE.sub(r"\1", n) for n in names))
    purpose = evs[0].detail.get("purpose", "metadata")
    if purpose == "metadata":  # each rename over the real name is one file saved
        saves = sum(1 for e in evs if e.kind == "sys.rename")
        return f"write {files}{count(saves)}" if saves else f"open {files}{count(len(evs))}"
    if purpose == "fifo":
        return f"open {files}{count(len(evs))}"
    return f"files ×{len(evs)} ({', '.join(list(dict.fromkeys(names))[:2])}…)"


def _fifo(evs: Sequence[Event]) -> str:
    """The shim's write to the stdio FIFO and dockerd's read of it: one crossing."""
    path = str(next((e.detail.get("path") for e in evs if e.detail.get("path")), "") or "FIFO")
    size = sum(int(e.detail.get("size") or 0) for e in evs if e.kind == "sys.write")
    if not size:
        size = sum(int(e.detail.get("size") or 0) for e in evs)
    return f"{path.rsplit('/', 1)[-1]} {size} B"


LABELS: dict[str, Callable[[Sequence[Event]], str]] = {
    "fifo": _fifo,
    "request": _request,
    "response": _response,
    "frame": _frame,
    "connect": _connect,
    "exec": _exec,
    "tried": lambda evs: _connect(evs),
    "threads": lambda evs: f"+{len(evs)} thread{'s' if len(evs) > 1 else ''}",
    "exit": _exit,
    "namespace": lambda evs: f"unshare({flags(evs[0].detail.get('flag_names'))})",
    "setns": _setns,
    "mount": _mount,
    "pivot": lambda evs: f"pivot_root({evs[0].detail.get('new_root', '?')})",
    "close": _close,
    "error": _error,
    "file": _file,
}


def label(kind: str, events: Sequence[Event], names: Mapping[int, Sequence[str]]) -> str:
    """The arrow's label; `names`: each pid's names as they changed (from the process tree)."""
    if kind == "clone":
        return _clone(events, names)
    return LABELS.get(kind, _newer)(events)
