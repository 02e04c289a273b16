"""Shared by the TUI benches: a recording to replay and a child process running the app headless."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracer.tui.source import bundled_recording  # noqa: E402


def recording() -> Path:
    """The bundled recording (assets/run-echo-hi.jsonl), which the benches replay."""
    bundled = bundled_recording()
    if bundled is None:
        raise SystemExit("no bundled recording: assets/run-echo-hi.jsonl is missing")
    return bundled


# Runs in a fresh interpreter: the app, printing READY once the first frame is up (Textual's
# Ready event), then either quitting or staying idle until stdin closes.
BENCH_APP = """
import sys
sys.path.insert(0, {root!r})
from tracer.tui.app import DockertraceApp

class Bench(DockertraceApp):
    def on_ready(self) -> None:
        super().on_ready()
        print("READY", flush=True)
        if {quit_at_ready!r}:
            self.exit()
"""

# ... built on a recording,
CHILD = """
from tracer.tui.source import load
app = Bench(load({path!r}), autoplay={autoplay!r}, live_reason="bench")
app.run(headless=True, size=(120, 40))
"""

# ... or started as `dockertrace` starts it (tracer.cli.tui: decide, then build): the
# bundled recording, the doctor's checks asked after the first frame.
DEFAULT_CHILD = """
from tracer.cli import tui as command
from tracer.tui.start import decide
app = command.build(decide(None, command.why_not_live), app_class=Bench)
app.run(headless=True, size=(120, 40))
"""


def default_child_source() -> str:
    return BENCH_APP.format(root=str(ROOT), quit_at_ready=True) + DEFAULT_CHILD


def child_source(path: Path, quit_at_ready: bool, autoplay: bool = False) -> str:
    head = BENCH_APP.format(root=str(ROOT), quit_at_ready=quit_at_ready)
    return head + CHILD.format(path=str(path), autoplay=autoplay)
