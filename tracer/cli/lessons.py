"""`dockertrace lessons` (list and check them) and `dockertrace lesson N` (walk one)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from tracer.lessons.files import find, lesson_files, load
from tracer.lessons.model import LESSONS_DIR, Lesson, LessonFileError

if TYPE_CHECKING:
    from tracer.lessons.walk import Stage


def cmd_lessons(args: argparse.Namespace) -> int:
    """List the lessons; with files, check those. Exit 1 when any file is malformed."""
    paths = [Path(p) for p in args.files] if args.files else lesson_files()
    bad = 0
    for path in paths:
        try:
            lesson = load(path)
        except LessonFileError as e:
            bad += 1
            print(f"✗ {path.name}: {len(e.errors)} problem(s)")
            for err in e.errors:
                print(f"  {err}")
            continue
        needs = ", ".join(sorted(lesson.needs, key=["live", "replay"].index))
        print(
            f"{lesson.number:>2}  {lesson.title:<34} {lesson.duration_min:>3} min  {needs:<13}"
            f"{len(lesson.steps)} steps"
        )
    if not paths:
        print("no lessons found")
    return 1 if bad else 0


def _lesson(which: str) -> Lesson:
    return find(int(which)) if which.isdigit() else load(which)


def _raise_exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _stage(lesson: Lesson, args: argparse.Namespace) -> Stage | str:
    """The stage to walk on, or a message saying why none is possible."""
    # lazy: a walk needs the chain and the narration; listing the lessons does not (~12 ms)
    from tracer.lessons.walk import ReplayStage

    recording = args.replay or (str(lesson.recording_path) if lesson.recording_path else "")
    can_replay = bool(recording) and os.path.exists(recording)
    if args.replay is not None:
        if not can_replay:
            return f"lesson {lesson.number} has no recording to replay ({recording or 'none'})"
        return ReplayStage(lesson, recording)
    # lazy: only a live lesson asks the picker; `lessons` and `--replay` start without the
    # doctor, the proxy and the probes (~0.2 s of imports)
    from tracer.sources.lesson_stage import LiveStage
    from tracer.sources.picker import live_verdict

    verdict = live_verdict()
    if not verdict.possible:
        if args.record or not can_replay:
            if verdict.needs_root:
                return f"lesson {lesson.number} runs live here only as root: run it with sudo"
            return f"lesson {lesson.number} cannot run live here: {verdict.reason}"
        if verdict.needs_root:
            print("Live lessons need root (sudo); replaying the bundled recording instead.")
        else:
            print(f"Live tracing is not possible here ({verdict.reason}).")
            print("Replaying the bundled recording instead.")
        return ReplayStage(lesson, recording)
    if LESSONS_DIR not in lesson.path.resolve().parents:
        shell = sum(1 for s in lesson.steps if s.action and s.action.kind == "run")
        print(
            f"Note: {lesson.path} is not one of the bundled lessons; its {shell} shell action(s) "
            f"and {len(lesson.cleanup)} cleanup command(s) run as root here. Read them first."
        )

    live = LiveStage(lesson, backend=args.backend, stop_daemon=args.stop_daemon, record=args.record)
    if live.session is None and can_replay and not args.record:
        live.end()
        print(f"Live tracing cannot start: {live.problem}")
        print("Replaying the bundled recording instead.")
        return ReplayStage(lesson, recording)
    return live


def cmd_lesson(args: argparse.Namespace) -> int:
    try:
        lesson = _lesson(args.which)
    except (LessonFileError, LookupError) as e:
        print(e, file=sys.stderr)
        return 2
    use_app = not args.plain and sys.stdin.isatty() and sys.stdout.isatty()
    if not args.plain and not use_app:
        print("No terminal for the app here: walking the lesson in plain text (as --plain).")
    if args.replay is not None and args.record:
        print(
            "--record makes a recording of a live run; it cannot go with --replay", file=sys.stderr
        )
        return 2
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_exit)  # so the stage's cleanup runs on these too
    try:
        stage = _stage(lesson, args)
    except ValueError as e:  # a recording that is not this lesson's, or unreadable
        print(e, file=sys.stderr)
        return 2
    if isinstance(stage, str):
        print(stage, file=sys.stderr)
        return 2
    if use_app:
        from tracer.tui.lesson_app import LessonApp  # lazy: textual only for the app, not --plain

        try:
            code = LessonApp(lesson, stage).run() or 0
        finally:
            stage.end()
    else:
        from tracer.lessons.walk import walk  # lazy: as in _stage

        code = walk(lesson, stage, sys.stdin, sys.stdout)
    if args.record:
        print(f"recorded to {args.record}")
    return code


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lessons", help="list the lessons (and check lesson files)")
    p.add_argument("files", nargs="*", help="lesson files to check instead of the bundled ones")
    p.set_defaults(func=cmd_lessons)
    p = sub.add_parser("lesson", help="walk a lesson: narration, actions, evidence, questions")
    p.add_argument("which", help="the lesson's number (see `dockertrace lessons`) or a file")
    p.add_argument("--plain", action="store_true", help="walk it in the terminal")
    p.add_argument(
        "--replay",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="walk it from a recording (default: the lesson's bundled one); no root needed",
    )
    p.add_argument("--record", metavar="FILE", help="record this live run, for --replay later")
    p.add_argument(
        "--stop-daemon",
        action="store_true",
        help="let lesson 4 really stop dockerd (it is started again before the step ends)",
    )
    p.add_argument("--backend", choices=("bcc", "tracefs", "proc"), help="force a probe backend")
    p.set_defaults(func=cmd_lesson)
