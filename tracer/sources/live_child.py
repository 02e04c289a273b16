"""The process a live run of the app happens in: the session (proxy and probes) and the docker
command, its events written to the app as JSON lines.

A session's threads (the probes' reader decoding each record, the proxy's recorder parsing
HTTP) took the interpreter lock from the app's drawing in the app's own process: an event
waited for the app's thread to let go of it (up to 5 ms a time) before it could even be
handed over, and every frame waited for theirs. Here they have their own interpreter, and the
app only reads lines, on its own loop, when it is free to.

Run by tracer.tui.live (`python -m tracer.sources.live_child ARGS_JSON`, ARGS_JSON the docker
arguments or null for the default command). It writes, on the file descriptor that was its
stdout, one JSON object a line:
    {"started": {"header": ..., "choices": "...", "argv": [...]}}
    {"event": <an event, as a recording has it>}            (any number, as they come)
    {"finished": {"header": ..., "returncode": N, "stdout": "...", "stderr": "..."}}
 or {"failed": "why, in words for the screen"}
then closes it. Anything else written to fd 1 (a library's message) goes to stderr instead.
It ends its run, cleaning up as on SIGTERM, when its stdin reaches its end: the app closed it,
or died.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import sys
import threading
from typing import IO, Any

from tracer.events import Event
from tracer.probes.base import exit_on_sigterm
from tracer.sources.images import default_command
from tracer.sources.picker import describe
from tracer.sources.session import LiveSession
from tracer.sources.sweep import label_args

READER_NICE = -10  # the session's reading threads: ahead of the run they watch


class Lines:
    """JSON lines to the app, from any thread, each written whole and at once. A gone reader
    (the app died) stops the writing, not the run: its clean-up still has to happen."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._gone = False

    def send(self, kind: str, value: Any) -> None:
        line = json.dumps({kind: value}, separators=(",", ":"), ensure_ascii=False) + "\n"
        self.send_raw(line.encode())

    def send_raw(self, data: bytes) -> None:
        with self._lock:
            if self._gone:
                return
            try:
                self._out.write(data)
                self._out.flush()
            except (BrokenPipeError, ValueError):
                self._gone = True

    def close(self) -> None:
        with self._lock:
            self._gone = True
            with contextlib.suppress(BrokenPipeError):
                self._out.close()


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


def labelled(args: list[str]) -> list[str]:
    """`docker run ...` with this process's label, as `dockertrace run` does: a run cut short
    (the app quit, or died) leaves no container behind (the session's close, or the next
    session's sweep, removes it)."""
    if args[:1] != ["run"]:
        return args
    return ["run", *label_args(), *args[1:]]


def _hurry_readers() -> None:
    """Give the session's reading threads (the probes' ring buffer, the proxy's channel) a
    higher priority than the run they watch. The app drawing takes most of a core while a run
    is live, and on a small machine (2 cores here) the daemons' bursts then kept these
    threads waiting 10-40 ms for a CPU before an event could even be sent (measured in this
    process); they use ~30 ms of CPU a run, so the run loses next to nothing. Linux nice
    values are per thread: the main thread, which starts the docker CLI, keeps its own."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and thread.native_id is not None:
            with contextlib.suppress(OSError):  # without CAP_SYS_NICE: as they are
                os.setpriority(os.PRIO_PROCESS, thread.native_id, READER_NICE)


def _stop_when_stdin_ends() -> None:
    def watch() -> None:
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGTERM)  # unwinds the run: the session closes

    threading.Thread(target=watch, name="dockertrace-stdin", daemon=True).start()


def _text(data: object) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return str(data or "")


def run(args: list[str] | None, lines: Lines) -> int:
    def send_event(ev: Event) -> None:  # the event's own JSON, not parsed and dumped again
        lines.send_raw(b'{"event":' + ev.to_json().encode() + b"}\n")

    session = LiveSession(sink=send_event)
    closed = False
    try:
        session.start()
        _hurry_readers()
        if args is None:
            args = default_command(session.default_image)
        choices = " ".join(describe(session.choices, session.backend).split())
        argv = ["docker", *args]
        lines.send("started", {"header": session.header, "choices": choices, "argv": argv})
        done = session.run_docker(labelled(args))
        header = session.header
        # closed before the end is said: the probes' and the proxy's last events (a close,
        # an exit, written by their threads a moment after the command ended) come first
        closed = True
        session.close()
        lines.send(
            "finished",
            {
                "header": header,
                "returncode": done.returncode,
                "stdout": _text(done.stdout),
                "stderr": _text(done.stderr),
            },
        )
        return 0
    except Exception as e:  # the session's failures are shown on screen, whatever they are
        lines.send("failed", f"{type(e).__name__}: {e}")
        return 1
    finally:
        if not closed:
            session.close()


def main(argv: list[str]) -> int:
    # fd 1 is the app's channel; what else prints to it (bcc, a warning) goes to stderr
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    lines = Lines(channel)
    try:
        args = json.loads(argv[0]) if argv else None
        if args is not None and not (
            isinstance(args, list) and all(isinstance(a, str) for a in args)
        ):
            raise ValueError(f"expected a JSON list of docker arguments or null, got {argv[0]!r}")
    except ValueError as e:
        lines.send("failed", f"bad arguments for the live run: {e}")
        return 2
    exit_on_sigterm()  # SIGTERM unwinds through the session's close, from the start on
    _stop_when_stdin_ends()
    try:
        return run(args, lines)
    finally:
        lines.close()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
