"""`dockertrace doctor`: one line per layer, what was found, and how to fix what is missing."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from tracer.sources.doctor import Report, diagnose
from tracer.sources.picker import verdict


def render(report: Report) -> str:
    lines = []
    for c in report.checks:
        mark = "✓" if c.ok else "✗"
        line = f"{mark} {c.name:<11} {c.found}"
        if c.fix:
            line += f"\n  {'':<11} fix: {c.fix}"
        if c.warning:
            line += f"\n  {'':<11} warning: {c.warning}"
        lines.append(line)
    possible = verdict(report).possible
    lines.append("live tracing: possible" if possible else "live tracing: not possible")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    report = diagnose(load_bcc=not args.no_bpf)
    possible = verdict(report).possible
    if args.json:
        doc = {"live_possible": possible, "checks": [asdict(c) for c in report.checks]}
        print(json.dumps(doc, indent=2, default=str))
    else:
        print(render(report))
    return 0 if possible else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check each layer this machine offers for live tracing")
    p.add_argument("--json", action="store_true", help="one JSON object, for machines")
    p.add_argument("--no-bpf", action="store_true", help="do not load a test BPF program")
    p.set_defaults(func=run)
