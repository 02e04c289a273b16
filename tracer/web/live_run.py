"""The instructor's live run for the page: the session's child process, its lines into the hub."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import sys
from pathlib import Path
from typing import Any

from tracer.events import Event
from tracer.web.hub import Hub, finished_notice, log
from tracer.web.priority import give_back

LINE_BYTES = 16 << 20  # one line of the child's: an event with a large body excerpt fits
READ_BYTES = 1 << 20
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
PIPE_BYTES = 1 << 20
STOP_S = 10.0  # how long the child has to clean up when the server stops


class LiveRun:
    """One `docker run` traced by tracer.sources.live_child (the process the app's live runs
    happen in, with the same line protocol), its lines handed to the hub on the hub's loop."""

    def __init__(self, hub: Hub, args: list[str] | None, nice: int | None = None) -> None:
        self.hub = hub
        self.args = args
        self.nice = nice  # the run's own nice value (the server stepped back from it); None: as is
        self._proc: asyncio.subprocess.Process | None = None
        self._ended = False
        self._write_end: int | None = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "tracer.sources.live_child", json.dumps(self.args)]

    async def run(self) -> None:
        """Start the child and follow it to its end; the hub always hears how it ended."""
        argv = ["docker", *self.args] if self.args else ["docker", "run", "(default)"]
        self.hub.start_run(argv, "starting", "Starting the proxy and the probes…")
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # the same code, wherever we run
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        try:
            out = await self._channel()
            self._proc = await asyncio.create_subprocess_exec(
                *self.command(),
                stdin=asyncio.subprocess.PIPE,  # its end (we died) ends the run
                stdout=self._write_end,
                stderr=asyncio.subprocess.PIPE,
                env=env,
            )
            if self.nice is not None:
                # it has just exec'd its interpreter, its only thread so far: the session's
                # threads and the docker command it starts inherit this
                give_back(self._proc.pid, self.nice)
        except OSError as e:
            await self._fail(f"cannot start the tracing process: {e}")
            return
        finally:
            if self._write_end is not None:
                os.close(self._write_end)  # the child's now
                self._write_end = None
        errors = asyncio.create_task(self._last_error_line())
        try:
            await self._follow(out)
        finally:
            code = await self._proc.wait()
            said = await errors
            if not self._ended:
                why = f"the tracing process ended (exit status {code}) before the run did"
                await self._fail(why + (f": {said}" if said else ""))

    async def _channel(self) -> asyncio.StreamReader:
        """The pipe the child writes its lines to, made roomy (1 MiB, ~3,000 events): with a
        room of viewers to send to, the server may read it late, and a full pipe would stop
        the child's probes and proxy, and so the run (as the app does for its frames)."""
        read_end, self._write_end = os.pipe()
        with contextlib.suppress(OSError):
            fcntl.fcntl(read_end, F_SETPIPE_SZ, PIPE_BYTES)
        reader = asyncio.StreamReader(limit=LINE_BYTES)
        loop = asyncio.get_running_loop()
        pipe = os.fdopen(read_end, "rb", buffering=0)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
        return reader

    async def _follow(self, out: asyncio.StreamReader) -> None:
        """Read what the child wrote, as much as is there at a time: the events of one read go
        to the hub as one batch (one send per viewer, not one per event)."""
        partial = b""
        while data := await out.read(READ_BYTES):
            *whole, partial = (partial + data).split(b"\n")
            if len(partial) > LINE_BYTES:
                await self._fail("the tracing process wrote a line longer than a line may be")
                return
            if not await self._lines(whole):
                return

    async def _lines(self, lines: list[bytes]) -> bool:
        batch: list[Event] = []
        for line in lines:
            try:
                ((kind, value),) = json.loads(line).items()
                if kind == "event":
                    batch.append(Event.from_dict(value))
                    continue
            except (ValueError, AttributeError, TypeError) as e:
                self.hub.add_events(batch)
                await self._fail(f"the tracing process wrote a line it should not ({e})")
                return False
            self.hub.add_events(batch)
            batch = []
            await self._said(kind, value)
        self.hub.add_events(batch)
        return True

    async def _said(self, kind: str, value: Any) -> None:
        if self._ended:
            return
        if kind == "started":
            notice = f"Tracing `{' '.join(value['argv'])}` live; probes: {value['choices']}"
            self.hub.set_state("live", notice, header=value["header"], argv=value["argv"])
        elif kind == "finished":
            self._ended = True
            out, err = str(value["stdout"]), str(value["stderr"])
            notice = finished_notice(int(value["returncode"]), out, err)
            await self.hub.end_run(
                "finished",
                notice,
                header=value["header"],
                returncode=value["returncode"],
                stdout=out,
                stderr=err,
            )
        elif kind == "failed":
            await self._fail(str(value))

    async def _fail(self, why: str) -> None:
        self._ended = True
        log.warning("the live run failed: %s", why)
        await self.hub.end_run("failed", f"Live run failed: {why}", why=why)

    async def _last_error_line(self) -> str:
        proc = self._proc
        assert proc is not None and proc.stderr is not None
        last = ""
        async for raw in proc.stderr:  # read to its end: a full pipe would stop the child
            line = raw.decode("utf-8", "replace").strip()
            last = line or last
        return last

    async def stop(self) -> None:
        """End the run now (the server stops): the child cleans up as on SIGTERM."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), STOP_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
