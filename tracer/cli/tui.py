"""`dockertrace tui [--replay FILE]`: the app, live where this machine can trace, else a replay."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from tracer.record.format import RecordingError
from tracer.tui.playback import DEFAULT_SPEED
from tracer.tui.start import THEME_NAMES, Start, decide

if TYPE_CHECKING:  # the app (textual) is imported only when it runs, not for `--help`
    from tracer.tui.app import DockertraceApp
    from tracer.tui.sharing import Room


def why_not_live() -> str | None:
    """The picker's verdict; the app asks it in a worker once its first frame is up."""
    # lazy: the picker brings httpx, psutil and the probes, ~0.2 s the first frame must not wait
    from tracer.sources.picker import why_not_live as verdict

    return verdict()


def open_share(listen: str) -> Room:
    """The classroom page for the app's session (tracer.web: the app does not import it)."""
    # lazy: Starlette and uvicorn only when sharing, not at every start of the app
    from tracer.web.share import open_share as start

    return start(listen)


def launch(
    replay: str | None = None,
    theme: str = "dark",
    speed: float | None = None,
    share: str | None = None,
    present: bool = False,
) -> int:
    try:
        start = decide(replay, why_not_live)
    except RecordingError as e:
        print(f"dockertrace tui: {e}", file=sys.stderr)
        return 2
    app = build(start, theme, speed, present=present)
    app.share_at = share  # `--share [HOST:PORT]`: the classroom page from the start
    app.share_open = open_share  # key S
    app.run()
    return app.return_code or 0


def build(
    start: Start,
    theme: str = "dark",
    speed: float | None = None,
    app_class: Any = None,
    present: bool = False,
) -> DockertraceApp:
    """The app on what `decide` chose (`app_class`: a subclass, for the start-up bench)."""
    from tracer.tui.app import DockertraceApp  # lazy: textual only when the app runs, not --help

    return (app_class or DockertraceApp)(
        start.loaded,
        mode=start.mode,
        notice=start.notice,
        live_reason=start.live_reason,
        check_live=start.check_live,
        theme=THEME_NAMES.get(theme, theme),
        speed=speed or DEFAULT_SPEED,
        present=present,
    )


def main_job() -> int:
    """The main job (`dockertrace` with no command, on a terminal)."""
    return launch(theme=os.environ.get("DOCKERTRACE_THEME", "dark"))


def run(args: argparse.Namespace) -> int:
    return launch(args.replay, args.theme, args.speed, args.share, args.present)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tui", help="the interactive app: the chain animated hop by hop")
    p.add_argument("--replay", metavar="FILE", help="open this recording instead of tracing live")
    p.add_argument("--theme", choices=sorted(THEME_NAMES), default="dark", help="colour theme")
    p.add_argument(
        "--speed", type=float, choices=(0.05, 0.1, 0.25, 0.5, 1.0), help="playback speed"
    )
    p.add_argument(
        "--share",
        nargs="?",
        const="",
        metavar="HOST:PORT",
        help="serve the classroom page of this session too (default 127.0.0.1:8765; S in the "
        "app does it later)",
    )
    p.add_argument(
        "--present",
        action="store_true",
        help="presenter layout for a projector: the picture large, the step's story, no timeline",
    )
    p.set_defaults(func=run)
