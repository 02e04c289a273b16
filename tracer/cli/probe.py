"""`dockertrace probe`: watch the engine's processes and namespace syscalls, one line per event."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
from typing import Any

from tracer.events import Event, monotonic_ns
from tracer.probes.base import exit_on_sigterm
from tracer.probes.bcc.probe import build_program
from tracer.probes.leftovers import leftovers
from tracer.probes.procs import moving_parts
from tracer.redact import event_argv
from tracer.sources.picker import BACKENDS, BackendUnavailable, describe, start_best


def summary(e: Event) -> str:
    """The detail of one event in a few words (what a person reading the stream needs)."""
    d = e.detail

    def unread(key: str) -> str:
        return "?" if d.get(key) is None else str(d[key])

    if e.kind == "proc.exec":
        argv = d.get("argv")
        return f"{d.get('filename')} {' '.join(argv) if argv else '(argv unreadable)'}"
    if e.kind == "proc.fork":
        return f"-> child {d.get('child_pid')} ({d.get('child_comm')})"
    if e.kind == "proc.exit":
        if d.get("signal") is not None:
            return f"killed by {d.get('signal_name', d['signal'])}"
        return f"exit code {unread('exit_code')}"
    if e.kind in ("sys.clone", "sys.clone3", "sys.unshare"):
        names = "|".join(d.get("flag_names") or []) or unread("flags")
        return f"{names} = {d.get('ret')}"
    if e.kind == "sys.setns":
        return f"fd {d.get('fd')} {d.get('nstype_name')} = {d.get('ret')}"
    if e.kind == "sys.mount":
        text = f"{unread('fstype')} {unread('source')} on {unread('target')} = {d.get('ret')}"
        new = d.get("new_in_mount_table")
        if new:
            text += " (new in its mount table: "
            text += ", ".join(f"{m['fstype']} on {m['target']}" for m in new) + ")"
        return text
    if e.kind == "sys.pivot_root":
        return f"{unread('new_root')} {unread('put_old')} = {d.get('ret')}"
    if e.kind == "sys.connect":
        return f"{unread('path')} = {d.get('ret')}"
    if e.kind == "proc.seen":
        return f"{d.get('role')}: {' '.join(d.get('cmdline') or [])}"
    return json.dumps(dict(d), default=str)


def line(e: Event, t0: int) -> str:
    dt = (e.time_ns - t0) / 1e9
    return f"{dt:+9.3f}s {e.layer:<10} {e.pid:>7} {e.comm[:16]:<16} {e.kind:<14} {summary(e)}"


def dump_bpf() -> int:
    print(build_program(), end="")
    return 0


def check_clean() -> int:
    left = leftovers()
    for item in left:
        print(item)
    if not left:
        print("clean: no BPF maps named dt_*, no dockertrace-* tracefs instance")
    return 1 if left else 0


def parts(as_json: bool) -> int:
    for part in moving_parts():
        if as_json:
            print(part.to_event().to_json())
        else:
            listens = f" listens {', '.join(part.listens)}" if part.listens else ""
            nspid = f" nspid {part.nspid}" if len(part.nspid) > 1 else ""
            print(f"{part.pid:>7} {part.role:<12} ppid {part.ppid:<7}{listens}{nspid}")
            print(f"        {' '.join(part.cmdline)}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.dump_bpf:
        return dump_bpf()
    if args.check_clean:
        return check_clean()
    if args.parts:
        return parts(args.json)
    t0 = monotonic_ns()
    out_lock = threading.Lock()

    def sink(e: Event) -> None:
        e = event_argv(e)  # secrets on command lines (`-e DB_PASSWORD=…`) are not printed
        text = e.to_json() if args.json else line(e, t0)
        with out_lock, contextlib.suppress(BrokenPipeError):
            print(text, flush=True)

    exit_on_sigterm()  # SIGTERM unwinds through `finally` like Ctrl-C does
    try:
        source, choices = start_best(sink, [os.getpid(), *args.pid], forced=args.backend)
    except BackendUnavailable as e:
        print(f"dockertrace probe: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print(describe(choices, source.name), file=sys.stderr)
    print(f"ready in {source.ready_seconds:.3f} s ({source.name}); Ctrl-C stops", file=sys.stderr)
    try:
        deadline = time.monotonic() + args.seconds if args.seconds else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    finally:
        source.close()
        stats: dict[str, Any] = {}
        for name in ("lost_events", "status"):
            fn = getattr(source, name, None)
            if callable(fn):
                stats[name] = fn()
        print(f"stopped {source.name} {stats}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "probe",
        help="trace the engine's processes and namespace syscalls (eBPF, tracefs or psutil)",
        description="Trace dockerd, containerd, the shims, runc and what they start, plus any "
        "pid given; one line (or JSON object) per event. Run docker from another terminal with "
        "--pid $$ of that shell to follow its CLI too.",
    )
    p.add_argument("--backend", choices=BACKENDS, help="force a backend (default: best available)")
    p.add_argument("--json", action="store_true", help="one JSON event per line")
    p.add_argument("--pid", type=int, action="append", default=[], help="also trace this process")
    p.add_argument("--seconds", type=float, default=0.0, help="stop after this long (0: Ctrl-C)")
    p.add_argument(
        "--dump-bpf", action="store_true", help="print the BPF program (no root needed) and exit"
    )
    p.add_argument("--parts", action="store_true", help="list the engine's processes and exit")
    p.add_argument(
        "--check-clean", action="store_true", help="list BPF maps/tracefs instances of ours left"
    )
    p.set_defaults(func=run)
