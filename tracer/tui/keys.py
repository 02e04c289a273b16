"""The app's keys (the footer shows some, `?` lists all) and its command-palette entries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from textual.app import SystemCommand
from textual.binding import Binding

KEYS: tuple[Binding, ...] = (
    Binding("space", "play_pause", "Play"),
    Binding("n", "event(1)", "Next event", show=False),
    Binding("p", "event(-1)", "Prev event", show=False),
    Binding("N,right_square_bracket", "step(1)", "Step", key_display="]"),
    Binding("P,left_square_bracket", "step(-1)", "Prev step", key_display="[", show=False),
    *[Binding(str(n), f"jump({n})", f"Step {n}", show=False) for n in range(1, 8)],
    Binding("r", "replay", "Replay"),
    Binding("plus,equals_sign", "faster", "Faster", key_display="+", show=False),
    Binding("minus", "slower", "Slower", key_display="-", show=False),
    Binding("t", "realtime", "Real time", show=False),
    Binding("l", "layer", "Layer", show=False),
    Binding("slash", "search", "Search", key_display="/", show=False),
    Binding("o", "open", "Open"),
    Binding("e", "export", "Export"),
    Binding("g", "run_default", "Live"),
    Binding("x", "run_typed", "docker run…", show=False),
    Binding("c", "theme", "Colours", show=False),
    Binding("S", "share", "Share", show=False),
    Binding("s", "sequence", "Sequence", show=False),
    Binding("T", "tree", "Process tree", show=False),
    Binding("f", "present", "Presenter", show=False),
    Binding("question_mark", "show_help_panel", "Keys", key_display="?", show=False),
    Binding("q", "quit", "Quit"),
)

# title, help, action: the palette's entries (ctrl+p), beside Textual's own
PALETTE: tuple[tuple[str, str, str], ...] = (
    ("Play / pause", "Start or stop the playback", "play_pause"),
    ("Replay", "Play the run again from the start", "replay"),
    ("Real time", "Play at the speed it happened", "realtime"),
    ("Open a recording", "Read a .jsonl recording", "open"),
    ("Export", "Save the recording, an SVG screenshot and the pictures", "export"),
    ("Run live", "Trace docker run --rm IMAGE echo hi", "run_default"),
    ("Trace a docker run…", "Type any docker run", "run_typed"),
    ("Next colour theme", "dark, light, high contrast", "theme"),
    ("Share with the room", "Serve the classroom page of this session (127.0.0.1)", "share"),
    ("Sequence diagram", "Lanes across, arrows down: the run message by message", "sequence"),
    ("Process tree", "Who started whom: runc's stages, the shim adopting the container", "tree"),
    (
        "Presenter layout",
        "For a projector: the picture large, the step's story, no timeline",
        "present",
    ),
)


def palette(app: Any) -> Iterator[SystemCommand]:
    for title, help_text, action in PALETTE:
        yield SystemCommand(title, help_text, getattr(app, f"action_{action}"))
