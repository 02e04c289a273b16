"""The `dockertrace` command line: one subcommand per module, each registering its own parser."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module has `register(subparsers)`, which adds its parser and sets `func` to a callable
# taking the parsed arguments and returning the exit status.
COMMAND_MODULES: tuple[str, ...] = (
    "tracer.doctor",
    "tracer.trace_command",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockertrace",
        description="Watch how `docker run` really works: the CLI, the API socket, dockerd, "
        "containerd, runc and the kernel, traced live on this machine.",
    )
    parser.add_argument("--version", action="version", version="dockertrace 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def default_job(args: argparse.Namespace) -> int:
    """No subcommand: the main job. Until the app exists, say plainly what can run here."""
    from tracer import doctor

    report = doctor.diagnose()
    print(doctor.render(report))
    print()
    if report.live_possible:
        print("Live tracing is possible here. The interactive app is not built yet;")
        print("`dockertrace doctor` shows each layer this machine offers.")
    else:
        print("Live tracing needs root, a running Docker daemon and a kernel probe backend;")
        print("the lines marked ✗ above say what is missing and how to fix it.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", default_job)
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
