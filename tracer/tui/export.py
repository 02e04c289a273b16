"""Export what is on screen: the events as a recording, the screen as an SVG, the pictures."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from textual.app import App

from tracer.chain.model import Trace
from tracer.pictures.render import FORMATS, SUFFIXES, render
from tracer.record.format import make_header, write_recording


def export_paths(directory: str | Path, now: float | None = None) -> tuple[Path, Path]:
    """dockertrace-YYYYmmdd-HHMMSS.jsonl and .svg in `directory`, not overwriting a file."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    base = Path(directory) / f"dockertrace-{stamp}"
    n = 1
    jsonl, svg = base.with_suffix(".jsonl"), base.with_suffix(".svg")
    while jsonl.exists() or svg.exists():
        n += 1
        jsonl = Path(f"{base}-{n}.jsonl")
        svg = Path(f"{base}-{n}.svg")
    return jsonl, svg


def export(
    app: App[Any], trace: Trace, header: dict[str, Any], directory: str | Path
) -> tuple[Path, Path]:
    """Write the recording and the screenshot; return their paths."""
    jsonl, svg = export_paths(directory)
    head = dict(header) if header.get("format") else make_header(trace.backend)
    write_recording(jsonl, head, trace.events)
    app.save_screenshot(filename=svg.name, path=str(svg.parent))
    return jsonl, svg


def export_pictures(trace: Trace, recording: Path) -> list[Path]:
    """The sequence diagram (Mermaid, SVG) and the process tree beside the recording."""
    written = []
    for fmt in FORMATS:
        path = recording.with_name(recording.stem + SUFFIXES[fmt])
        path.write_text(render(trace, fmt), encoding="utf-8")
        written.append(path)
    return written
