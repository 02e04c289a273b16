"""Where the page listens, who can reach it, and the page served from a thread (the app's share)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

import psutil

from tracer.events import Event
from tracer.web.hub import Hub, finished_notice
from tracer.web.priority import step_back
from tracer.web.server import Classroom, bind, serve

DEFAULT_LISTEN = "127.0.0.1:8765"


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT (or [v6]:PORT, or :PORT for every interface; port 0: any free one) ->
    (host, port); ValueError."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"--listen wants HOST:PORT (e.g. {DEFAULT_LISTEN}), not {text!r}")
    host = host.strip("[]") or "0.0.0.0"
    if host == "localhost":
        host = "127.0.0.1"
    return host, int(port)


def who_can_reach(host: str, port: int) -> str:
    """The plain answer to "who can open this page?"."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return f"whoever can reach {host} on port {port}: check who that is before the class"
    if ip.is_loopback:
        return "only this machine (loopback): other laptops cannot open it"
    if ip.is_unspecified:
        addresses = sorted(
            a.address
            for nics in psutil.net_if_addrs().values()
            for a in nics
            if a.family in (socket.AF_INET, socket.AF_INET6)
            and not ipaddress.ip_address(a.address.split("%")[0]).is_loopback
        )
        where = ", ".join(addresses) or "no other address"
        return (
            f"ANYONE who can reach this machine on port {port}, on every interface ({where}): "
            "viewers only watch, and runs need the token, but the room's network sees the page"
        )
    return f"anyone who can reach {host} on port {port} (that address's network)"


def viewer_url(host: str, port: int) -> str:
    shown = host if not host.startswith(("0.0.0.0", "::")) else socket.gethostname()
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


class Share:
    """The page for the session an app drives: the server and its hub on a loop of their own
    thread; the app hands over what happens with these methods, from its own thread (each
    returns at once: the app never waits for the room)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.sock = bind(host, port)  # PortInUse now, in the app's thread, not later
        self.port = self.sock.getsockname()[1]  # port 0: the one the system chose
        # folded at most once a second while live: the fold runs in the app's interpreter
        self.hub = Hub("shared", view_every_s=1.0)
        self._loop = asyncio.new_event_loop()
        self._served: Future[None] | None = None
        self._room: Classroom | None = None
        self._thread = threading.Thread(target=self._serve_here, name="dockertrace-share")
        self._thread.daemon = True

    def _serve_here(self) -> None:
        step_back()  # this thread only (nice values are per thread): the app and its runs go first
        self._loop.run_forever()

    def start(self) -> Share:
        self._thread.start()
        self._room = room = Classroom(self.hub)
        self._served = asyncio.run_coroutine_threadsafe(serve(room, self.sock), self._loop)
        return self

    @property
    def url(self) -> str:
        return viewer_url(self.host, self.port)

    @property
    def who(self) -> str:
        return who_can_reach(self.host, self.port)

    def _call(self, method: Any, *args: Any, **kw: Any) -> None:
        def go() -> None:
            result = method(*args, **kw)
            if asyncio.iscoroutine(result):
                self._loop.create_task(result)

        with contextlib.suppress(RuntimeError):  # the loop is closed: we are stopping
            self._loop.call_soon_threadsafe(go)

    def recording(self, name: str, header: dict[str, Any], events: Sequence[Event]) -> None:
        """The app shows a recording (the bundled one, a file it opened, a run's replay)."""
        self._call(self.hub.add_recording, name, dict(header), list(events))

    def started(self, argv: Sequence[str]) -> None:
        self._call(self.hub.start_run, list(argv), "starting", "Starting the proxy and the probes…")

    def live(self, header: dict[str, Any], notice: str) -> None:
        self._call(self.hub.set_state, "live", notice, header=dict(header))

    def events(self, events: Sequence[Event]) -> None:
        self._call(self.hub.add_events, list(events))

    def finished(self, returncode: int, stdout: str, stderr: str) -> None:
        notice = finished_notice(returncode, stdout, stderr)
        self._call(self.hub.end_run, "finished", notice, returncode=returncode)

    def failed(self, why: str) -> None:
        self._call(self.hub.end_run, "failed", f"Live run failed: {why}", why=why)

    def stop(self) -> None:
        if self._served is not None:
            assert self._room is not None
            self._loop.call_soon_threadsafe(self._room.stop)
            with contextlib.suppress(Exception):
                self._served.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self.sock.close()


def open_share(listen: str = "") -> Share:
    """A started share on HOST:PORT ("": the default): what the app's key S opens."""
    host, port = parse_listen(listen or DEFAULT_LISTEN)
    return Share(host, port).start()
