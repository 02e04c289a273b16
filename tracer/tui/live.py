"""Live runs: a LiveSession in a worker thread, its events reaching the app only by messages."""

from __future__ import annotations

import shlex
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

from tracer.events import Event

DEFAULT_IMAGES = ("alpine:latest", "dockertrace/busybox:latest")
LIVE_NEEDS = ("docker CLI", "socket", "daemon", "privileges")


class Inbox:
    """Events from the session's threads, handed to the UI thread a batch at a time: one
    message for all the events that came while the UI thread was busy (a message each cost
    the UI thread a dispatch each, and a run has hundreds)."""

    def __init__(self, post: Callable[[Message], object]) -> None:
        self._events: list[Event] = []
        self._lock = threading.Lock()
        self._post = post
        self.received = 0  # every event put, taken or not

    def put(self, event: Event) -> None:
        with self._lock:
            self.received += 1
            self._events.append(event)
            first = len(self._events) == 1
        if first:  # the UI thread is told once; it takes whatever came by then
            self._post(LiveEvents(self))

    def take(self) -> list[Event]:
        with self._lock:
            events, self._events = self._events, []
        return events


@dataclass
class LiveEvents(Message):
    """Events observed during a live run are waiting in the inbox."""

    inbox: Inbox


@dataclass
class LiveChecked(Message):
    """The doctor's checks are done: why live runs cannot happen here, or None."""

    why: str | None


@dataclass
class LiveStarted(Message):
    """The session is up: its recording header and why it chose its probe backend."""

    header: dict[str, Any]
    choices: str
    argv: list[str]


@dataclass
class LiveFinished(Message):
    """The docker command ended; every event of the run, and what the command printed."""

    events: list[Event]
    header: dict[str, Any]
    returncode: int
    stdout: str
    stderr: str


@dataclass
class LiveFailed(Message):
    """The run could not be made; why, in words for the screen."""

    why: str
    events: list[Event] = field(default_factory=list)


def unavailable() -> str | None:
    """Why live runs cannot happen here, or None when they can. The proxy needs root, the
    daemon and the docker CLI; kernel probes are a bonus: without them the run still goes
    live and the steps only the kernel shows are marked missing."""
    from tracer import doctor

    report = doctor.diagnose(load_bcc=False)
    failed = [c for c in report.checks if not c.ok and c.name in LIVE_NEEDS]
    if not failed:
        return None
    return "; ".join(f"{c.name}: {c.found}" for c in failed)


def default_image() -> str:
    """alpine where it is here, else the offline busybox image."""
    from tracer.session import demo_image

    image = demo_image()
    for candidate in DEFAULT_IMAGES:
        if candidate.removesuffix(":latest") == image:
            return candidate if candidate.startswith("dockertrace/") else image
    return image


def default_command() -> list[str]:
    return ["run", "--rm", default_image(), "echo", "hi"]


def parse_command(text: str) -> list[str]:
    """`docker run --rm alpine echo hi` -> ["run", "--rm", "alpine", "echo", "hi"]; ValueError
    for anything that is not a `docker run`."""
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise ValueError(f"cannot split the command: {e}") from e
    if words and words[0] == "docker":
        words = words[1:]
    if not words or words[0] != "run":
        raise ValueError("type a `docker run ...` command (e.g. docker run --rm alpine echo hi)")
    return words


def choices_text(session: Any) -> str:
    """Which probe backend runs, and why the better ones do not, in one line."""
    from tracer.probes.base import describe

    return " ".join(describe(session.choices, session.backend).split())


def run_live(args: list[str] | None, post: Callable[[Message], object]) -> None:
    """Blocking: start a session, run `docker ARGS` (None: the default command) through it,
    post every event and the end. Meant for a thread worker, so that importing the session and
    finding the image keep off the UI thread; `post` must be thread-safe (post_message is)."""
    from tracer.session import LiveSession

    if args is None:
        args = default_command()
    warm_up()

    session = LiveSession(sink=Inbox(post).put)
    try:
        session.start()
        post(LiveStarted(dict(session.header), choices_text(session), ["docker", *args]))
        done = session.run_docker(args)
        post(
            LiveFinished(
                list(session.events),
                dict(session.header),
                done.returncode,
                _text(done.stdout),
                _text(done.stderr),
            )
        )
    except Exception as e:  # the session's failures are shown on screen, whatever they are
        post(LiveFailed(f"{type(e).__name__}: {e}", list(getattr(session, "events", []))))
    finally:
        session.close()


def warm_up() -> None:
    """Import what the detail pane needs for a body (pygments' JSON lexer) here, in the
    worker, rather than on the UI thread in the middle of the run's first events."""
    from rich.syntax import Syntax

    Syntax("{}", "json").lexer  # noqa: B018  (the property loads the lexer)


def _text(data: object) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return str(data or "")
