"""Live runs: a LiveSession in a child process, its events reaching the app only by messages."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from textual.message import Message

from tracer.events import Event
from tracer.sources.live_child import parse_command as parse_command  # the prompt's checks

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
PIPE_BYTES = 1 << 20  # the child's lines the pipe holds while the app is busy (~3,000 events)
READ_BYTES = 1 << 20
REAP_EVERY_S = 0.2  # how often the app looks whether an ended run's process has exited


class Inbox:
    """Events of a live run, handed to the app a batch at a time: one message for all the
    events that came while it was busy (a message each cost the UI a dispatch each, and a run
    has hundreds). Filled by the reader of the child's pipe, or by any thread (tests)."""

    def __init__(self, post: Callable[[Message], object]) -> None:
        self._events: list[Event] = []
        self._lock = threading.Lock()
        self._post = post
        self.received = 0  # every event put, taken or not

    def put(self, event: Event) -> None:
        self.put_many([event])

    def put_many(self, events: list[Event]) -> None:
        """Add events; the UI is told once, when the inbox was empty, and takes whatever came
        by then."""
        with self._lock:
            self.received += len(events)
            first = not self._events
            self._events += events
        if first and events:
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


def default_image() -> str:
    """alpine where it is here, else the offline busybox image."""
    # lazy: httpx (~80 ms) is for the x prompt, not the app's first frame
    from tracer.sources.images import default_command, demo_image

    return default_command(demo_image())[2]


class LiveChild:
    """A live run in a child process (tracer.sources.live_child), its lines read on the app's own
    loop whenever it is free: the session's threads never hold the app's interpreter lock,
    and an event's way to the screen is a pipe. Messages posted: LiveStarted, LiveEvents (the
    inbox), then LiveFinished or LiveFailed, always one of the two."""

    def __init__(self, args: list[str] | None, post: Callable[[Message], object]) -> None:
        self.args = args
        self._post = post
        self.inbox = Inbox(post)
        self.events: list[Event] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._errors: IO[bytes] | None = None  # the child's stderr
        self._partial = b""  # a line not yet whole
        self._ended = False  # a finished or failed line came
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Start the child; its lines are read on the running loop from now on."""
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115  (closed with the child)
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # the same code, wherever we run
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._errors,
            env=env,
        )
        out = self._proc.stdout
        assert out is not None
        with contextlib.suppress(OSError):  # room for a burst while the app draws a frame
            fcntl.fcntl(out.fileno(), F_SETPIPE_SZ, PIPE_BYTES)
        os.set_blocking(out.fileno(), False)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(out.fileno(), self._readable)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "tracer.sources.live_child", json.dumps(self.args)]

    def _readable(self) -> None:
        proc = self._proc
        if proc is None or proc.stdout is None:
            return
        try:
            data = os.read(proc.stdout.fileno(), READ_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.feed(data)
        else:
            self._end()

    def feed(self, data: bytes) -> None:
        """Take what the child wrote: events into the inbox, the rest as messages, in order."""
        *whole, self._partial = (self._partial + data).split(b"\n")
        batch: list[Event] = []
        for line in whole:
            try:
                item = json.loads(line)
                (kind, value), *more = item.items()
                if kind == "event" and not more:
                    batch.append(Event.from_dict(value))
                    continue
                message = self._message(kind, value)
            except (ValueError, AttributeError, TypeError, KeyError) as e:
                bad = f"the tracing process wrote a line it should not ({type(e).__name__}: {e})"
                message = None if self._ended else LiveFailed(bad, list(self.events))
            self._hand_over(batch)
            batch = []
            if message is not None:
                self._ended = self._ended or not isinstance(message, LiveStarted)
                self._post(message)
        self._hand_over(batch)

    def _hand_over(self, batch: list[Event]) -> None:
        if batch:
            self.events += batch
            self.inbox.put_many(batch)

    def _message(self, kind: str, value: Any) -> Message | None:
        if self._ended:
            return None  # after the end (or a bad line), nothing more counts
        if kind == "started":
            return LiveStarted(dict(value["header"]), str(value["choices"]), list(value["argv"]))
        if kind == "finished":
            return LiveFinished(
                list(self.events),
                dict(value["header"]),
                int(value["returncode"]),
                str(value["stdout"]),
                str(value["stderr"]),
            )
        if kind == "failed":
            return LiveFailed(str(value), list(self.events))
        raise ValueError(f"unknown kind {kind!r}")

    def _end(self) -> None:
        """The child closed its end: it is done (or dead); say so if it did not."""
        proc = self._proc
        loop = self._loop
        self._forget_reader()
        if not self._ended:  # it crashed, or was killed: it is gone or going
            self._ended = True
            try:
                code: object = proc.wait(2) if proc is not None else "?"
            except subprocess.TimeoutExpired:
                code = "?"
            said = self._said()
            self._post(
                LiveFailed(
                    f"the tracing process ended (exit status {code}) before the run did"
                    + (f": {said}" if said else ""),
                    list(self.events),
                )
            )
        if proc is not None and proc.poll() is None and loop is not None:
            loop.call_later(REAP_EVERY_S, self._reap)  # still cleaning up: not waited for here
        else:
            self._close_files()

    def _reap(self) -> None:
        proc = self._proc
        if proc is None:
            return  # stopped meanwhile
        if proc.poll() is None:
            asyncio.get_running_loop().call_later(REAP_EVERY_S, self._reap)
        else:
            self._close_files()

    def _said(self) -> str:
        """The last line the child wrote to stderr."""
        if self._errors is None:
            return ""
        self._errors.seek(0)
        lines = self._errors.read().decode("utf-8", "replace").strip().splitlines()
        return lines[-1].strip() if lines else ""

    def stop(self, timeout: float = 10) -> None:
        """End the run now (the app is quitting): the child cleans up as on SIGTERM; waited
        for, so that nothing of it outlives the app."""
        proc = self._proc
        self._forget_reader()
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._close_files()

    def _forget_reader(self) -> None:
        proc = self._proc
        if proc is not None and proc.stdout is not None and self._loop is not None:
            with contextlib.suppress(ValueError, RuntimeError):  # closed, or the loop is gone
                self._loop.remove_reader(proc.stdout.fileno())
        self._loop = None

    def _close_files(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            for f in (proc.stdin, proc.stdout):
                if f is not None:
                    with contextlib.suppress(OSError):
                        f.close()
        if self._errors is not None:
            self._errors.close()
            self._errors = None


def start_live(args: list[str] | None, post: Callable[[Message], object]) -> LiveChild:
    """Start a live run of `docker ARGS` (None: the default command), posting what happens."""
    child = LiveChild(args, post)
    child.start()
    return child


def warm_up() -> None:
    """Import what the detail pane needs for a body (pygments' JSON lexer) before the run's
    first events, not on the UI thread in the middle of them: meant for a thread worker."""
    from rich.syntax import Syntax  # lazy: the point is to import it here, in a worker

    Syntax("{}", "json").lexer  # noqa: B018  (the property loads the lexer)
