"""What the app opens on: the file asked for, else the bundled recording, else a live screen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tracer.tui.source import Loaded, bundled_recording, empty_trace, load

# why live runs are impossible here (None: they are possible), or a function that finds out
LiveReason = str | Callable[[], str | None] | None

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
