"""The classroom page's HTTP side (Starlette on uvicorn): the page, the SSE stream, the run."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from tracer.sources.live_child import parse_command
from tracer.web.hub import Hub
from tracer.web.limits import TRANSPORT, config_for
from tracer.web.live_run import LiveRun

log = logging.getLogger("dockertrace.web")

STATIC = Path(__file__).with_name("static")
MAX_BODY = 4096  # POST /api/run: {"command": "docker run ..."} fits many times over
# Nothing the page loads comes from elsewhere (an offline room), and nothing it shows runs.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass
class Classroom:
    """What the server serves: the hub, the instructor's token (None: no runs from the page),
    why live runs cannot happen here (None: they can)."""

    hub: Hub
    token: str | None = None
    live_reason: Callable[[], str | None] | None = None
    run: LiveRun | None = None
    run_nice: int | None = None  # a live run's nice value, when the server stepped back from it
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    server: uvicorn.Server | None = None  # once serving

    def stop(self) -> None:
        """Stop serving (on the server's loop)."""
        if self.server is not None:
            self.server.should_exit = True

    def authorised(self, request: Request) -> bool:
        given = request.headers.get("authorization", "")
        expected = f"Bearer {self.token}" if self.token else None
        return expected is not None and hmac.compare_digest(given.encode(), expected.encode())


def _secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


async def page(request: Request) -> Response:
    return _secure(FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8"))


class EventStream:
    """GET /api/events, as a plain ASGI app: the response's head goes out through uvicorn, then
    the hub's fan-out writes the stream's chunks to the connection itself (one framing a burst
    for the whole room, not an HTTP encoding and a task per viewer); the request ends when the
    viewer goes, is dropped, or the server stops."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        room: Classroom = scope["app"].state.room
        transport = scope.get("extensions", {}).get(TRANSPORT)
        if scope["method"] != "GET":  # HEAD too: the fan-out writes a body, whatever was asked
            await _secure(Response("GET only\n", 405, media_type="text/plain"))(
                scope, receive, send
            )
            return
        if transport is None or room.hub.fanout.full():
            why = "too many viewers\n" if transport else "this server cannot stream\n"
            await _secure(Response(why, 503, media_type="text/plain"))(scope, receive, send)
            return
        headers = {
            **SECURITY_HEADERS,
            "Content-Type": "text/event-stream",
            "X-Accel-Buffering": "no",
        }
        raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": 200, "headers": raw})
        viewer = room.hub.subscribe(transport, framed=scope["http_version"] != "1.0")
        if viewer is None:
            transport.abort()
            return
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait([viewer.ended, gone], return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            room.hub.unsubscribe(viewer)
        if not transport.is_closing():
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def state(request: Request) -> Response:
    """A small summary (the tests' and the bench's, and a curious instructor's)."""
    room: Classroom = request.app.state.room
    hub = room.hub
    run = hub.current
    return _secure(
        JSONResponse(
            {
                "mode": hub.mode,
                "viewers": len(hub.viewers),
                "dropped": hub.dropped,
                "runs": len(hub.runs),
                "run": None if run is None else {"number": run.number, "state": run.state},
                "events": 0 if run is None else len(run.events),
                # the tracing's own delay, kernel event to this server: the viewers' baseline
                "arrival_p99_ms": None if run is None else _p99(run.arrival_ms),
                # and to written to every viewer's connection (the last one's, at each flush)
                "sent_p99_ms": _p99(hub.fanout.sent_ms),
                "fanout": hub.fanout.stats,
            }
        )
    )


def _p99(values: Iterable[float]) -> float | None:
    ordered = sorted(values)
    return round(ordered[int(0.99 * (len(ordered) - 1))], 1) if ordered else None


async def _body(request: Request) -> bytes | None:
    """The request's body, or None when it is larger than MAX_BODY (read no further)."""
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY:
            return None
    return data


def _refuse(status: int, why: str) -> Response:
    return _secure(JSONResponse({"error": why}, status))


async def start_run(request: Request) -> Response:
    room: Classroom = request.app.state.room
    who = request.client.host if request.client else "?"
    if not room.authorised(request):
        log.warning("refused POST /api/run from %s: wrong or missing token", who)
        return _refuse(401, "the instructor's token is needed (Authorization: Bearer TOKEN)")
    if room.hub.mode != "live":
        return _refuse(409, f"this session is a {room.hub.mode}: no live runs from the page")
    body = await _body(request)
    if body is None:
        return _refuse(413, f"the body is larger than {MAX_BODY} bytes")
    try:
        asked = json.loads(body) if body.strip() else {}
        command = asked.get("command") if isinstance(asked, dict) else None
        if command is not None and not isinstance(command, str):
            raise ValueError("`command` must be a string: docker run ...")
        args = parse_command(command) if command else None
    except ValueError as e:
        return _refuse(400, str(e))
    if room.run is not None:
        return _refuse(409, "a live run is going on: the next one waits for its end")
    why_not = room.live_reason() if room.live_reason else None
    if why_not:
        return _refuse(503, f"cannot run live here (`dockertrace doctor` tells more): {why_not}")
    log.warning("live run asked by %s: %s", who, command or "the default docker run")
    room.run = run = LiveRun(room.hub, args, room.run_nice)

    async def go() -> None:
        try:
            await run.run()
        finally:
            room.run = None

    task = asyncio.get_running_loop().create_task(go())
    room.tasks.add(task)
    task.add_done_callback(room.tasks.discard)
    return _secure(JSONResponse({"started": True, "command": command or "default"}, 202))


def make_app(room: Classroom) -> Starlette:
    app = Starlette(
        routes=[
            Route("/", page),
            Route("/api/events", EventStream()),
            Route("/api/state", state),
            Route("/api/run", start_run, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )
    app.state.room = room
    return app


class PortInUse(OSError):
    """The address asked for is taken; the message says so plainly."""


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, made before the server starts so that a taken port is told
    plainly (uvicorn would log a traceback)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as e:
        if e.errno == 98:  # EADDRINUSE
            raise PortInUse(
                f"{host}:{port} is in use (another dockertrace serve, or another server): "
                "choose another with --listen HOST:PORT"
            ) from e
        raise OSError(f"cannot listen on {host}:{port}: {e.strerror}") from e


async def serve(room: Classroom, sock: socket.socket, **limits: Any) -> None:
    """Serve until told to stop (room.stop(), a signal); on the way out every viewer's stream
    ends (else shutting down waits for them) and a live run going on is stopped: it cleans up."""
    room.server = server = uvicorn.Server(config_for(make_app(room), **limits))

    async def end_streams() -> None:
        while not server.should_exit:
            await asyncio.sleep(0.1)
        room.hub.close()

    ending = asyncio.create_task(end_streams())
    try:
        await server.serve(sockets=[sock])
    finally:
        ending.cancel()
        room.hub.close()
        if room.run is not None:
            await room.run.stop()
