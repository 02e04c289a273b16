"""Shared by the TUI benches: a recording to replay and a child process running the app headless."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracer.record import write_recording  # noqa: E402
from tracer.tui.source import bundled_recording  # noqa: E402


def recording() -> Path:
    """The bundled recording, or (before one is bundled) the test builders' run written out."""
    bundled = bundled_recording()
    if bundled is not None:
        return bundled
    from tests.tui.builders import make_header, run_events

    path = Path(tempfile.gettempdir()) / "dockertrace-bench-run.jsonl"
    write_recording(path, make_header(), run_events())
    return path


# Runs in a fresh interpreter: build the app on the recording, print READY once the first frame
# is up (Textual's Ready event), then either quit or stay idle until stdin closes.
CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from tracer.tui.app import DockertraceApp
from tracer.tui.source import load

class Bench(DockertraceApp):
    def on_ready(self) -> None:
        super().on_ready()
        print("READY", flush=True)
        if {quit_at_ready!r}:
            self.exit()

app = Bench(load({path!r}), autoplay={autoplay!r}, live_reason="bench")
app.run(headless=True, size=(120, 40))
"""


# The same, started as `dockertrace` starts it (tracer.tui.command: decide, then build): the
# bundled recording, the doctor's checks asked after the first frame.
DEFAULT_CHILD = """
import sys
sys.path.insert(0, {root!r})
from tracer.tui import command
from tracer.tui.app import DockertraceApp

class Bench(DockertraceApp):
    def on_ready(self) -> None:
        super().on_ready()
        print("READY", flush=True)
        self.exit()

app = command.build(command.decide(None, command.live_reason), app_class=Bench)
app.run(headless=True, size=(120, 40))
"""


def default_child_source() -> str:
    return DEFAULT_CHILD.format(root=str(ROOT))


def child_source(path: Path, quit_at_ready: bool, autoplay: bool = False) -> str:
    return CHILD.format(
        root=str(ROOT), path=str(path), quit_at_ready=quit_at_ready, autoplay=autoplay
    )
