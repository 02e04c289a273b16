"""The session's hub: its runs, their events and views, handed to every viewer as SSE bytes."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tracer.events import Event, monotonic_ns
from tracer.redact import argv as redact_argv
from tracer.redact import served
from tracer.text.narrate import run_outcome
from tracer.web.fanout import VIEWER_BYTES, Fanout, Viewer
from tracer.web.folding import Folder

log = logging.getLogger("dockertrace.web")

VIEW_EVERY_S = 0.5  # while a run is live, its view is folded again at most this often
MAX_VIEWERS = 1000
KEEP_RUNS = 20  # the session's last runs kept for late joiners
KERNEL = ("bpf", "tracefs")  # the sources whose time stamps are the kernel's


def sse(kind: str, data: str, id: str = "") -> bytes:
    """One Server-Sent Events message (data is one line of JSON: no newline in it)."""
    head = f"id: {id}\n" if id else ""
    return f"{head}event: {kind}\ndata: {data}\n\n".encode()


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass
class RunLog:
    """One run of the session: its state, its events (redacted, as they came), its view."""

    number: int
    argv: list[str]
    state: str = "starting"  # starting | live | finished | failed | replay
    notice: str = ""
    header: dict[str, Any] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # its events' JSON
    chunks: list[bytes] = field(default_factory=list)  # its events' SSE messages
    view: bytes = b""
    arrival_ms: list[float] = field(default_factory=list)  # kernel event to here, each
    extra: dict[str, Any] = field(default_factory=dict)

    def status(self) -> bytes:
        body = {"run": self.number, "state": self.state, "argv": self.argv}
        body |= {"notice": self.notice, "header": self.header, **self.extra}
        return sse("run", _dumps(body))


class Hub:
    """Everything on one asyncio loop: the session's side adds runs and events, each viewer gets
    all so far at once (late joiners too), then what comes, in order."""

    def __init__(
        self,
        mode: str,
        *,
        view_every_s: float = VIEW_EVERY_S,
        viewer_bytes: int = VIEWER_BYTES,
        max_viewers: int = MAX_VIEWERS,
        folder: Folder | None = None,
    ) -> None:
        self.mode = mode  # live | replay | shared
        self.runs: list[RunLog] = []
        self.fanout = Fanout(viewer_bytes, max_viewers)
        self._view_every_s = view_every_s
        self.folder = folder or Folder()
        self._so_far: bytes | None = None  # everything a new viewer gets first, cached
        self._view_due: asyncio.TimerHandle | None = None
        self._folds = 0  # views asked for, so that a late one never overwrites a newer one
        self._fold_s = 0.0  # how long the last fold took
        self._tasks: set[asyncio.Task[None]] = set()  # running, kept from the collector

    # -- viewers -------------------------------------------------------------------------------
    @property
    def viewers(self) -> set[Viewer]:
        return self.fanout.viewers

    @property
    def dropped(self) -> int:
        """Viewers dropped for not keeping up."""
        return self.fanout.dropped

    def subscribe(self, transport: asyncio.WriteTransport, framed: bool = True) -> Viewer | None:
        """A new viewer on this connection, written everything so far; None when there are
        too many already."""
        return self.fanout.add(transport, framed, self.so_far())

    def unsubscribe(self, viewer: Viewer) -> None:
        self.fanout.remove(viewer)

    def so_far(self) -> bytes:
        if self._so_far is None:
            parts = [sse("hello", _dumps({"mode": self.mode, "runs": len(self.runs)}))]
            for run in self.runs:
                parts += [run.status(), *run.chunks]
                if run.view:
                    parts.append(run.view)
            self._so_far = b"".join(parts)
        return self._so_far

    def _publish(self, chunk: bytes, kernel_ns: Sequence[int] = ()) -> None:
        self._so_far = None
        self.fanout.publish(chunk, kernel_ns)

    # -- the session's side --------------------------------------------------------------------
    def start_run(self, argv: Sequence[str], state: str = "starting", notice: str = "") -> RunLog:
        number = self.runs[-1].number + 1 if self.runs else 1
        run = RunLog(number, redact_argv(argv), state, notice)
        self.runs.append(run)
        del self.runs[:-KEEP_RUNS]
        self._tasks.add(task := asyncio.get_running_loop().create_task(self.folder.ready()))
        task.add_done_callback(self._tasks.discard)
        self._publish(run.status())
        return run

    @property
    def current(self) -> RunLog | None:
        return self.runs[-1] if self.runs else None

    def set_state(
        self, state: str, notice: str, header: dict[str, Any] | None = None, **extra: Any
    ) -> None:
        """The current run's state, what the instructor's screen says about it, and more for
        the page (the header once the session is up; what docker printed)."""
        run = self.current
        if run is None:
            return
        run.state, run.notice = state, notice
        if header is not None:
            run.header = dict(header)
        run.extra.update(extra)
        self._publish(run.status())

    def add_events(self, events: Sequence[Event]) -> None:
        run = self.current
        if run is None or not events:
            return
        chunks = []
        now = monotonic_ns()
        kernel_ns = [e.time_ns for e in events if e.source in KERNEL]
        run.arrival_ms += [(now - t) / 1e6 for t in kernel_ns]
        for ev in events:
            ev = served(ev)
            line = ev.to_json()
            chunks.append(sse("event", line, f"{run.number}:{len(run.events)}"))
            run.events.append(ev)
            run.lines.append(line)
        run.chunks += chunks
        self._publish(b"".join(chunks), kernel_ns)
        if self._view_due is None:
            # a fold takes the interpreter from the loop a while: at most a fifth of the time
            wait = max(self._view_every_s, 4 * self._fold_s)
            self._view_due = asyncio.get_running_loop().call_later(wait, self._fold_soon)

    def _fold_soon(self) -> None:
        self._view_due = None
        self._tasks.add(task := asyncio.get_running_loop().create_task(self.fold_now()))
        task.add_done_callback(self._tasks.discard)

    async def fold_now(self) -> None:
        """Fold the current run's events into its view (in a thread: the loop goes on sending
        events meanwhile) and send it, unless a newer fold was asked for meanwhile."""
        run = self.current
        if run is None:
            return
        self._folds += 1
        mine = self._folds
        backend = str(run.header.get("backend", ""))
        began = time.perf_counter()
        view = await self.folder.fold(run.lines, backend, run.number)
        self._fold_s = time.perf_counter() - began
        if mine != self._folds or run is not self.current:
            return
        run.view = sse("view", view)
        self._publish(run.view)

    async def end_run(self, state: str, notice: str, **extra: Any) -> None:
        """The run ended: its last view (every event in), then its state."""
        if self._view_due is not None:
            self._view_due.cancel()
            self._view_due = None
        await self.fold_now()
        self.set_state(state, notice, **extra)

    async def add_recording(self, name: str, header: dict[str, Any], events: list[Event]) -> None:
        """A recording as a run of the session (`serve --replay`, the app opening a file)."""
        self.start_run([name], "replay", f"Replaying {name}.")
        self.set_state("replay", f"Replaying {name}.", header=header)
        self.add_events(events)
        await self.end_run("replay", f"Replaying {name}.")

    def close(self) -> None:
        self.fanout.close()
        self.folder.close()


def finished_notice(returncode: int, stdout: str, stderr: str) -> str:
    return run_outcome(returncode, stdout, stderr) + "."
