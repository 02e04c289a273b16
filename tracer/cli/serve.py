"""`dockertrace serve`: the classroom page, following the instructor's live runs (or a replay)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import secrets
import sys

from tracer.record.format import RecordingError, read_recording
from tracer.sources.picker import why_not_live
from tracer.web.hub import Hub
from tracer.web.priority import step_back
from tracer.web.server import Classroom, PortInUse, bind, serve
from tracer.web.share import DEFAULT_LISTEN, parse_listen, viewer_url, who_can_reach


def run(args: argparse.Namespace) -> int:
    try:
        host, port = parse_listen(args.listen)
    except ValueError as e:
        print(f"dockertrace serve: {e}", file=sys.stderr)
        return 2
    recording = None
    if args.replay:
        try:
            recording = read_recording(args.replay)
        except RecordingError as e:
            print(f"dockertrace serve: {e}", file=sys.stderr)
            return 2
    try:
        sock = bind(host, port)
    except OSError as e:  # PortInUse says which port and what to do
        print(f"dockertrace serve: {e}", file=sys.stderr)
        return 2 if isinstance(e, PortInUse) else 1
    logging.basicConfig(format="dockertrace serve: %(message)s", level=logging.WARNING)
    hub = Hub("replay" if recording else "live")
    token = None if recording else (args.token or secrets.token_urlsafe(16))
    room = Classroom(hub, token, None if recording else why_not_live)
    # the server steps back behind the runs it starts, which keep this process's nice value
    room.run_nice = step_back()
    say = print
    say(f"The classroom page: {viewer_url(host, port)}")
    say(f"  who can open it: {who_can_reach(host, port)}")
    if recording is not None:
        say(f"  showing the recording {args.replay} ({len(recording.events)} events)")
    else:
        why = why_not_live()
        say(f"  live runs: {'not possible here: ' + why if why else 'ready'}")
        say(f"  the instructor's token (keep it to yourself): {token}")
        say(
            f"  start a run: curl -X POST -H 'Authorization: Bearer {token}' "
            f'{viewer_url(host, port)}api/run   (or -d \'{{"command": "docker run ..."}}\')'
        )
    say("Ctrl-C stops the server.")
    sys.stdout.flush()

    async def main() -> None:
        if recording is not None:
            name = args.replay.rsplit("/", 1)[-1]
            await hub.add_recording(name, recording.header, recording.events)
        await serve(room, sock)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="the classroom page: a room follows the instructor's live runs in the browser",
    )
    p.add_argument(
        "--listen",
        metavar="HOST:PORT",
        default=DEFAULT_LISTEN,
        help=f"where to listen (default {DEFAULT_LISTEN}: this machine only; 0.0.0.0:PORT "
        "for the room's network)",
    )
    p.add_argument("--replay", metavar="FILE", help="serve this recording (no root, no Docker)")
    p.add_argument("--token", help="the instructor's token for POST /api/run (default: made up)")
    p.set_defaults(func=run)
