"""`dockertrace run`, `record` and `replay`: the chain without a screen, as text or JSON."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tracer.record.format import Recording, RecordingError, read_recording, write_recording
from tracer.redact import argv as redact_argv
from tracer.text.describe import printable
from tracer.text.narrate import narrate, to_json
from tracer.text.story import fold, runs

if TYPE_CHECKING:
    from tracer.sources.session import LiveSession

BUNDLED = "assets/run-echo-hi.jsonl"


def bundled_path(name: str = "run-echo-hi.jsonl") -> str:
    """A bundled recording: beside the package in a checkout."""
    return str(Path(__file__).resolve().parents[2] / "assets" / name)


def main(argv: list[str]) -> int:
    """Run one of these commands from code (the main job): `main([])` is a live `run`."""
    parser = argparse.ArgumentParser(prog="dockertrace")
    register(parser.add_subparsers(dest="command", metavar="COMMAND"))
    args = parser.parse_args(argv or ["run"])
    return int(args.func(args))


def main_job() -> int:
    """The main job without a terminal: narrated text of a live run when this machine can trace
    (the picker's verdict), else of the bundled recording, after the doctor's lines saying why."""
    # lazy: only the main job asks the doctor; `replay` must not import it (nor the probes)
    from tracer.cli.doctor import render
    from tracer.sources.picker import live_verdict

    verdict = live_verdict()
    if verdict.possible:
        return main([])
    print("Live tracing is not possible here; the ✗ lines say why and how to fix it:")
    print(render(verdict.report))
    print(f"\nReplaying the bundled recording instead ({BUNDLED}):\n")
    return main(["replay", bundled_path()])


def _need_root() -> str | None:
    if os.geteuid() != 0:
        return (
            "live tracing needs root (the proxy socket lives in /run/dockertrace and the probes "
            f"load into the kernel); without root, replay a recording: dockertrace replay {BUNDLED}"
        )
    return None


def _start(backend: str | None) -> LiveSession:
    # lazy: only run and record start a session; `replay` must start fast without the proxy,
    # the probes and httpx (~0.1 s of imports)
    from tracer.sources.picker import describe as describe_choices
    from tracer.sources.session import LiveSession

    session = LiveSession(backend=backend).start()
    print(
        f"probe backend: {session.backend} (ready in {session.ready_seconds:.2f} s)\n"
        + describe_choices(session.choices, session.backend),
        file=sys.stderr,
    )
    return session


def cmd_run(args: argparse.Namespace) -> int:
    from tracer.sources.sweep import LABEL, label_args  # lazy: as in _start, not for `replay`

    if (why := _need_root()) is not None:
        print(f"dockertrace run: {why}", file=sys.stderr)
        return 2
    command = args.command or ["echo", "hi"]
    client = args.client or ("docker" if shutil.which("docker") else "httpx")
    session = _start(args.backend)
    image = args.image or session.default_image
    try:
        if client == "docker":
            result = session.run_docker(["run", "--rm", *label_args(), image, *command])
            code = result.returncode
            cli_err = result.stderr.decode(errors="replace")
        else:
            from tracer.sources.api_client import run_container  # lazy: only without a docker CLI

            try:
                ran = run_container(
                    session.docker_host.removeprefix("unix://"),
                    image,
                    command,
                    labels={LABEL: str(os.getpid())},
                )
                code, cli_err = ran.exit_code, ran.stderr.decode(errors="replace")
            except RuntimeError as e:
                code, cli_err = 125, str(e)
        events = session.snapshot()
        header = session.header
    finally:
        session.close()
    if args.record:
        write_recording(args.record, header, events)
    trace = fold(events, backend=header["backend"])
    if args.json:
        print(json.dumps(to_json(trace), indent=2))
    else:
        print(f"$ docker run --rm {image} {' '.join(command)}   (client: {client})")
        print(narrate(trace, evidence=not args.brief))
        if cli_err.strip():
            print(f"\nthe client said: {cli_err.strip()}")
        if args.record:
            print(f"\nrecording written to {args.record}")
    return code


def cmd_record(args: argparse.Namespace) -> int:
    if (why := _need_root()) is not None:
        print(f"dockertrace record: {why}", file=sys.stderr)
        return 2
    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print(
            "dockertrace record: name a command: record -o FILE -- docker ARGS...", file=sys.stderr
        )
        return 2
    session = _start(args.backend)
    try:
        result = session.run_argv(argv, capture=False, timeout=None)
        events = session.snapshot()
        header = session.header | {"command": redact_argv(argv)}
    finally:
        session.close()
    write_recording(args.output, header, events)
    print(f"recorded {len(events)} events to {args.output}", file=sys.stderr)
    return result.returncode


def open_recording(command: str, path: str) -> Recording | None:
    """The recording at `path`, each damaged line named on stderr; None (said why) when it
    cannot be read at all."""
    try:
        rec = read_recording(path)
    except RecordingError as e:
        print(f"dockertrace {command}: {e}", file=sys.stderr)
        return None
    for p in rec.problems:
        print(printable(f"{path}:{p.line}: {p.message}"), file=sys.stderr)
    return rec


def cmd_replay(args: argparse.Namespace) -> int:
    rec = open_recording("replay", args.file)
    if rec is None:
        return 2
    backend = str(rec.header.get("backend", ""))
    traces = runs(rec.events, backend=backend) if args.all else [fold(rec.events, backend)]
    if not rec.events:
        print(f"dockertrace replay: {args.file} holds no readable events", file=sys.stderr)
        return 2
    if args.json:
        docs = [to_json(t) for t in traces]
        print(json.dumps(docs if args.all else docs[0], indent=2))
        return 0
    versions = rec.header.get("versions")
    versions = versions if isinstance(versions, dict) else {}
    print(
        printable(
            f"replay of {args.file} (recorded on kernel {rec.header.get('kernel', '?')}, "
            f"docker {versions.get('docker', '?')}, backend {backend or '?'})"
        )
    )
    if isinstance(rec.header.get("command"), list):
        print(printable("$ " + " ".join(map(str, rec.header["command"]))))
    for i, t in enumerate(traces, 1):
        if len(traces) > 1:
            print(f"\n=== run {i} of {len(traces)}: client pid {t.client_pid} ===")
        print(narrate(t, evidence=not args.brief))
    return 1 if rec.problems else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="trace one docker run and narrate the seven steps")
    p.add_argument("--image", help="image to run (default: alpine, or the offline demo image)")
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    p.add_argument("--backend", choices=("bcc", "tracefs", "proc"), help="force a probe backend")
    p.add_argument("--client", choices=("docker", "httpx"), help="who makes the API calls")
    p.add_argument("--record", metavar="FILE", help="also write the events to a recording")
    p.add_argument("--brief", action="store_true", help="no evidence lines under each step")
    p.add_argument("command", nargs="*", help="the container's command (after --)")
    p.set_defaults(func=cmd_run)

    r = sub.add_parser("record", help="trace any command (docker ARGS...) into a recording")
    r.add_argument("-o", "--output", required=True, metavar="FILE")
    r.add_argument("--backend", choices=("bcc", "tracefs", "proc"), help="force a probe backend")
    r.add_argument("argv", nargs=argparse.REMAINDER, help="-- docker ARGS...")
    r.set_defaults(func=cmd_record)

    y = sub.add_parser("replay", help="print the trace of a recording (no root, no Docker)")
    y.add_argument("file")
    y.add_argument("--plain", action="store_true", help="narrated text (the default here)")
    y.add_argument("--json", action="store_true", help="one JSON object")
    y.add_argument(
        "--all", action="store_true", help="every run in the recording, not only the main one"
    )
    y.add_argument("--brief", action="store_true", help="no evidence lines under each step")
    y.set_defaults(func=cmd_replay)
