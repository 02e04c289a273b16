"""`dockertrace tui [--replay FILE]`: the app, live where this machine can trace, else a replay."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracer.record.format import RecordingError
from tracer.tui.source import Loaded, bundled_recording, empty_trace, load

if TYPE_CHECKING:  # the app (textual) is imported only when it runs, not for `--help`
    from tracer.tui.app import DockertraceApp
    from tracer.tui.live_runs import LiveReason

THEME_NAMES = {
    "dark": "textual-dark",
    "light": "textual-light",
    "high-contrast": "dockertrace-high-contrast",  # tracer.tui.themes.HIGH_CONTRAST
}


CHECKING = "Checking whether live tracing works here… Meanwhile, the bundled recording."


@dataclass
class Start:
    """What the app opens on, and what the banner says about it."""

    loaded: Loaded
    mode: str
    notice: str
    live_reason: LiveReason
    check_live: bool = False  # ask `live_reason` once the first frame is up, then say


def live_reason() -> str | None:
    """Why live tracing cannot run here, or None (doctor, without loading a BPF program)."""
    from tracer.tui.live import unavailable

    return unavailable()


def live_notice(why_not_live: str | None) -> str:
    """What the banner says over the bundled recording once the doctor's checks are done."""
    if why_not_live is not None:
        head = f"No live tracing here (`dockertrace doctor` tells more): {why_not_live}."
        return f"{head} Replaying the bundled one."
    return f"{READY} Meanwhile, the bundled recording."


READY = "Live tracing is ready: g runs docker run --rm IMAGE echo hi, x runs one you type."


def decide(replay: str | None, why_not_live: LiveReason) -> Start:
    """Open the file asked for; else the bundled recording, with a banner that says (once the
    doctor's checks, asked after the first frame when `why_not_live` is a function, are done)
    whether live tracing works here; else, without a bundled recording, an empty live screen
    waiting for a run or a banner saying why it cannot."""
    if replay:
        loaded = load(replay)
        skipped = f"{len(loaded.problems)} bad lines skipped. " if loaded.problems else ""
        return Start(loaded, "replay", f"{skipped}Replaying {replay}.", why_not_live)
    bundled = bundled_recording()
    if bundled is not None:
        if callable(why_not_live):  # the checks take a while: the recording shows first
            return Start(load(bundled), "replay", CHECKING, why_not_live, check_live=True)
        return Start(load(bundled), "replay", live_notice(why_not_live), why_not_live)
    if callable(why_not_live):
        why_not_live = why_not_live()
    if why_not_live is not None:
        head = f"No live tracing here (`dockertrace doctor` tells more): {why_not_live}."
        note = f"{head} No bundled recording in this install: o opens one."
        return Start(Loaded(empty_trace()), "replay", note, why_not_live)
    return Start(Loaded(empty_trace()), "live", READY, None)


def launch(replay: str | None = None, theme: str = "dark", speed: float | None = None) -> int:
    try:
        start = decide(replay, live_reason)
    except RecordingError as e:
        print(f"dockertrace tui: {e}", file=sys.stderr)
        return 2
    app = build(start, theme, speed)
    app.run()
    return app.return_code or 0


def build(
    start: Start, theme: str = "dark", speed: float | None = None, app_class: Any = None
) -> DockertraceApp:
    """The app on what `decide` chose (`app_class`: a subclass, for the start-up bench)."""
    from tracer.tui.app import DockertraceApp
    from tracer.tui.playback import DEFAULT_SPEED

    return (app_class or DockertraceApp)(
        start.loaded,
        mode=start.mode,
        notice=start.notice,
        live_reason=start.live_reason,
        check_live=start.check_live,
        theme=THEME_NAMES.get(theme, theme),
        speed=speed or DEFAULT_SPEED,
    )


def main_job() -> int:
    """The main job (`dockertrace` with no command, on a terminal)."""
    return launch(theme=os.environ.get("DOCKERTRACE_THEME", "dark"))


def run(args: argparse.Namespace) -> int:
    return launch(args.replay, args.theme, args.speed)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tui", help="the interactive app: the chain animated hop by hop")
    p.add_argument("--replay", metavar="FILE", help="open this recording instead of tracing live")
    p.add_argument("--theme", choices=sorted(THEME_NAMES), default="dark", help="colour theme")
    p.add_argument(
        "--speed", type=float, choices=(0.05, 0.1, 0.25, 0.5, 1.0), help="playback speed"
    )
    p.set_defaults(func=run)
