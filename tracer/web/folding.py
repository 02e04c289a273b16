"""Where the page's views are folded: a process of its own, so that a fold never holds the
server's interpreter while it sends events to a room of viewers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tracer.events import Event
from tracer.web.view import make_view

FOLDER_NICE = 10  # the folds wait for the run and the server: they are the least urgent
LINE_BYTES = 64 << 20  # one view (or one request: a run's events) on one line


def view_json(lines: Sequence[str], backend: str, number: int) -> str:
    """The view of a run's events (their JSON, as served) as the page gets it."""
    events = [Event.from_json(line) for line in lines]
    view = make_view(events, backend)
    body = {"run": number, "events": len(events), **view}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


class Folder:
    """Folds in a child process (`python -m tracer.web.folding`: a request a line on its stdin,
    a view a line on its stdout). With 200 viewers, a fold in a thread of the server (15 ms of
    interpreter a time, longer on a loaded machine, whose scheduler can preempt the thread
    that holds the lock) held every viewer's events back with it: measured p99 0.3-1.1 s from
    the kernel to the viewers with a fold every 0.25 s, 0.17 s with none. If the child cannot
    be had, or dies, a thread folds."""

    def __init__(self, in_process: bool = False) -> None:
        self._child: asyncio.subprocess.Process | None = None
        self._in_process = in_process
        self._lock = asyncio.Lock()

    async def fold(self, lines: Sequence[str], backend: str, number: int) -> str:
        async with self._lock:  # one request on the pipe at a time
            if not self._in_process:
                with contextlib.suppress(OSError, ValueError, EOFError):
                    return await self._ask(lines, backend, number)
                self._in_process = True  # the child is gone: a thread from now on
                self.close()
            return await asyncio.to_thread(view_json, lines, backend, number)

    async def ready(self) -> None:
        """Start the child now (a run begins): its start (an interpreter, the chain's
        imports: a second on a loaded machine) is not the first view's wait."""
        async with self._lock:
            if not self._in_process:
                with contextlib.suppress(OSError):
                    await self._started()

    async def _started(self) -> asyncio.subprocess.Process:
        if self._child is None:
            env = dict(os.environ)
            root = str(Path(__file__).resolve().parents[2])  # the same code, wherever we run
            env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
            self._child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tracer.web.folding",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=env,
                limit=LINE_BYTES,
            )
        return self._child

    async def _ask(self, lines: Sequence[str], backend: str, number: int) -> str:
        child = await self._started()
        assert child.stdin is not None and child.stdout is not None
        request = {"lines": list(lines), "backend": backend, "number": number}
        child.stdin.write(json.dumps(request).encode() + b"\n")
        await child.stdin.drain()
        answer = await child.stdout.readline()
        if not answer.endswith(b"\n"):
            raise EOFError("the folding process ended")
        return answer.decode().rstrip("\n")

    def close(self) -> None:
        child, self._child = self._child, None
        if child is not None and child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                child.kill()


def main() -> int:
    with contextlib.suppress(OSError):
        os.nice(FOLDER_NICE)
    for line in sys.stdin:
        request = json.loads(line)
        view = view_json(request["lines"], request["backend"], request["number"])
        sys.stdout.write(view + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
