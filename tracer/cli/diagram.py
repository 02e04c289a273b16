"""`dockertrace diagram RECORDING --format mermaid|svg|tree`: a recording's pictures, no root."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tracer.chain.model import STEP_TITLES, Step, Trace
from tracer.cli.trace import open_recording
from tracer.events import Event
from tracer.text.story import fold

FORMATS = ("mermaid", "svg", "tree")  # tracer.pictures.render.FORMATS, known without its imports


def trace_of(events: list[Event], backend: str) -> Trace:
    """The main run's trace; with no run in the events, a trace of them all, steps missing."""
    try:
        return fold(events, backend=backend)
    except IndexError:  # no run at all: nothing the chain can fold
        reason = "no docker run in this recording"
        return Trace(
            steps=tuple(Step(n, "missing", reason=reason) for n in STEP_TITLES),
            hops=(),
            events=tuple(sorted(events, key=lambda ev: ev.time_ns)),
            backend=backend,
        )


def cmd_diagram(args: argparse.Namespace) -> int:
    from tracer.chain.sequence import sequence
    from tracer.pictures.render import render
    from tracer.text.pictures import missing_lines

    rec = open_recording("diagram", args.file)
    if rec is None:
        return 2
    trace = trace_of(rec.events, str(rec.header.get("backend", "")))
    diagram = sequence(trace)
    for line in missing_lines(diagram):
        print(f"dockertrace diagram: {line}", file=sys.stderr)
    text = render(trace, args.format, diagram)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as e:
            print(f"dockertrace diagram: cannot write {args.output}: {e}", file=sys.stderr)
            return 2
        print(f"{args.format} written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 1 if rec.problems else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "diagram",
        help="a recording as a sequence diagram (Mermaid, SVG) or a process tree (no root)",
    )
    p.add_argument("file", metavar="RECORDING")
    p.add_argument("--format", choices=FORMATS, default="mermaid", help="what to draw")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.set_defaults(func=cmd_diagram)
