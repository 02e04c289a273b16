"""The `dockertrace` command line: one subcommand per module, each registering its own parser."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

# Each subcommand's module, which has `register(subparsers)`: it adds its parsers and sets `func`
# to a callable taking the parsed arguments and returning the exit status. `dockertrace run`
# imports only what `run` needs (the others cost a third of a second of imports).
COMMANDS: dict[str, str] = {
    "doctor": "tracer.cli.doctor",
    "probe": "tracer.cli.probe",
    "run": "tracer.cli.trace",
    "record": "tracer.cli.trace",
    "replay": "tracer.cli.trace",
    "diagram": "tracer.cli.diagram",
    "proxy": "tracer.cli.proxy",
    "lessons": "tracer.cli.lessons",
    "lesson": "tracer.cli.lessons",
    "tui": "tracer.cli.tui",
    "serve": "tracer.cli.serve",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))  # in help order, each once


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; or, when `argv` names a subcommand first, one with only its module's."""
    parser = argparse.ArgumentParser(
        prog="dockertrace",
        description="Watch how `docker run` really works: the CLI, the API socket, dockerd, "
        "containerd, runc and the kernel, traced live on this machine.",
    )
    parser.add_argument("--version", action="version", version="dockertrace 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    first = next(iter(argv or ()), None)
    for name in (COMMANDS[first],) if first in COMMANDS else COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def default_job(args: argparse.Namespace) -> int:
    """No subcommand: the main job. The app where there is a terminal; otherwise narrated text of
    a live run when this machine can trace, or of the bundled recording when it cannot."""
    # lazy dispatch, as for the subcommands: each job imports only its own modules
    if sys.stdout.isatty() and importlib.util.find_spec("tracer.tui.app") is not None:
        return int(importlib.import_module("tracer.cli.tui").main_job())
    return int(importlib.import_module("tracer.cli.trace").main_job())


def main(argv: Sequence[str] | None = None) -> int:
    try:
        if argv is None:
            argv = sys.argv[1:]
        args = build_parser(argv).parse_args(argv)
        func = getattr(args, "func", default_job)
        return int(func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
