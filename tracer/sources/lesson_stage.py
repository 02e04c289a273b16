"""The live stage of a lesson: actions run on this machine through the tracing session."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import grp
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from tracer.endpoint import inspect_socket_file, try_connect
from tracer.events import Event, monotonic_ns
from tracer.lessons.model import Lesson, LessonStep
from tracer.lessons.walk import ActionResult, step_windows
from tracer.probes.procs import moving_parts
from tracer.proxy.listen import TlsConfig
from tracer.proxy.server import Proxy
from tracer.record.format import make_header, write_recording
from tracer.sources.daemon_stop import stopped_dockerd
from tracer.sources.images import demo_image
from tracer.sources.session import LiveSession

ACTION_TIMEOUT_S = 180
CLEANUP_TIMEOUT_S = 60
TLS_LISTEN = "tcp://127.0.0.1:2376"
CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
CONN_OFFSET = 1_000_000


class LiveStage:
    """Starts the proxy and probes (tracer.sources.session), runs each action, keeps every event,
    and on `end()` undoes what the lesson changed: cleanup commands, extra proxies, the temp dir."""

    mode = "live"

    def __init__(
        self,
        lesson: Lesson,
        backend: str | None = None,
        stop_daemon: bool = False,
        record: str | None = None,
    ) -> None:
        self.lesson = lesson
        self.backend_forced = backend
        self.stop_daemon = stop_daemon
        self.record = record
        try:
            self.demo_image = demo_image()
        except OSError:  # no docker CLI: the actions will say so themselves
            self.demo_image = "alpine"
        # In $TMPDIR or /tmp: short, as AF_UNIX paths must be (< 108 bytes).
        self.tmp = tempfile.mkdtemp(prefix="dtl-")
        self.session: Any = None
        self.problem = ""  # why the tracing session is not running
        self.extra_proxies: list[Any] = []
        self.results: dict[int, ActionResult] = {}
        self._events: list[Event] = []
        self._lock = threading.Lock()
        self._ended = False
        self._start_session()

    def _collect(self, ev: Event) -> None:
        with self._lock:
            self._events.append(ev)

    def _start_session(self) -> None:
        try:
            self.session = LiveSession(backend=self.backend_forced, sink=self._collect).start()
        except Exception as e:  # the session's own errors say what is missing
            self.problem = f"the tracer could not start: {e}"

    @property
    def backend(self) -> str:
        return str(self.session.backend) if self.session is not None else ""

    def banner(self) -> str:
        if self.session is None:
            return f"LIVE, without tracing: {self.problem}"
        choices = "; ".join(
            f"{c.name}: {c.reason}" for c in self.session.choices if c.name != self.session.backend
        )
        return (
            f"LIVE on this machine: proxy at {self.session.docker_host}, probe backend "
            f"{self.session.backend}" + (f" (not chosen: {choices})" if choices else "")
        )

    def env_prefix(self) -> str:
        """The shell lines every action and cleanup starts with: the lesson's variables."""
        lines = [
            f"export DEMO_IMAGE={shlex.quote(self.demo_image)} LESSON_TMP={shlex.quote(self.tmp)}"
            f" PYTHON={shlex.quote(sys.executable)}"
        ]
        lines += [f'export {name}="{value}"' for name, value in self.lesson.env]
        return "\n".join(lines) + "\n"

    def act(self, step: LessonStep) -> ActionResult:
        action = step.action
        assert action is not None
        start = monotonic_ns()
        if action.kind == "run":
            result = self._run(action.text)
        else:
            result = APP_ACTIONS[action.name](self, action.args)
        result.start_ns, result.end_ns = start, monotonic_ns()
        self.results[step.number] = result
        return result

    def _run(self, script: str) -> ActionResult:
        if self.session is None:
            return ActionResult(unavailable=self.problem)
        try:
            done = self.session.run_shell(
                self.env_prefix() + "exec 2>&1\n" + script, timeout=ACTION_TIMEOUT_S
            )
        except subprocess.TimeoutExpired:
            return ActionResult(output=f"(no end after {ACTION_TIMEOUT_S} s; stopped)")
        return ActionResult(output=done.stdout.decode(errors="replace"), returncode=done.returncode)

    def events(self, start_ns: int, end_ns: int | None = None) -> list[Event]:
        with self._lock:
            evs = list(self._events)
        evs.sort(key=lambda e: e.time_ns)
        return [e for e in evs if e.time_ns >= start_ns and (end_ns is None or e.time_ns <= end_ns)]

    def end(self) -> None:
        """Undo everything; safe to call twice (a signal during the walk, then the finally)."""
        if self._ended:
            return
        self._ended = True
        for command in self.lesson.cleanup:
            with contextlib.suppress(subprocess.TimeoutExpired):
                subprocess.run(
                    ["/bin/sh", "-c", self.env_prefix() + command],
                    capture_output=True,
                    stdin=subprocess.DEVNULL,
                    timeout=CLEANUP_TIMEOUT_S,
                )
        for proxy in self.extra_proxies:
            proxy.close()
        if self.session is not None:
            self.session.close()
        if self.record:
            self.write(self.record)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, path: str) -> None:
        if self.session is not None:
            header = self.session.header
        else:
            header = make_header("none", mode="live", problem=self.problem)
        header.update(
            lesson=self.lesson.number,
            lesson_file=self.lesson.path.name,
            recorded_at=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            demo_image=self.demo_image,
            lesson_steps=step_windows(sorted(self.results.items())),
        )
        # Only what happened while an action ran: between steps there is nothing to replay.
        windows = [(r.start_ns, r.end_ns) for r in self.results.values()]
        kept = [e for e in self.events(0) if any(a <= e.time_ns <= b for a, b in windows)]
        write_recording(path, header, kept)


def _processes(stage: LiveStage, args: list[str]) -> ActionResult:
    lines = []
    now = time.time()
    for part in moving_parts():
        if part.role not in ("dockerd", "containerd"):
            continue
        stage._collect(part.to_event())
        started = datetime.datetime.fromtimestamp(part.create_time).strftime("%H:%M:%S")
        lines.append(
            f"{part.role:<10} pid {part.pid:<7} parent {part.ppid:<6} started {started} "
            f"({(now - part.create_time) / 60:.0f} min ago)\n"
            f"{'':<10} command  {' '.join(part.cmdline)}\n"
            f"{'':<10} listens  {', '.join(part.listens) or '(no Unix socket)'}"
        )
    if not lines:
        return ActionResult(output="neither dockerd nor containerd is running", returncode=1)
    return ActionResult(output="\n".join(lines) + "\n", returncode=0)


def _socket(stage: LiveStage, args: list[str]) -> ActionResult:
    path = os.path.expandvars(args[0] if args else "/var/run/docker.sock")
    f = inspect_socket_file(path)
    lines = [f.describe()]
    if f.exists and f.mode:
        kind = "a socket" if f.mode[0] == "s" else f"not a socket ({f.mode[0]!r})"
        lines.append(f"type      '{f.mode[0]}': {kind}")
        for who, bits in (("owner", f.mode[1:4]), ("group", f.mode[4:7]), ("others", f.mode[7:])):
            can = " + ".join(
                n for c, n in zip(bits, ("read", "write", "x"), strict=True) if c != "-"
            )
            name = {"owner": f.owner, "group": f.group}.get(who, "everyone else")
            lines.append(f"{who:<9} {name}: {can or 'nothing'}")
        try:
            members = grp.getgrnam(f.group).gr_mem
            lines.append(f"members of group {f.group}: {', '.join(members) or '(none)'}")
        except KeyError:
            pass
    verdict, why = try_connect(path)
    lines.append(f"connect as uid {os.geteuid()}: {verdict}: {why}")
    return ActionResult(output="\n".join(lines) + "\n", returncode=0 if verdict == "ok" else 1)


def _tls_proxy(stage: LiveStage, args: list[str]) -> ActionResult:
    if stage.session is None:
        return ActionResult(unavailable=stage.problem)
    certs = os.path.join(stage.tmp, "certs")
    tls = TlsConfig(
        cert=os.path.join(certs, "server-cert.pem"),
        key=os.path.join(certs, "server-key.pem"),
        ca=os.path.join(certs, "ca.pem"),
    )
    try:
        proxy = Proxy(
            listen=TLS_LISTEN, upstream=stage.session.upstream, sink=stage._collect, tls=tls
        )
        proxy.start()
    except Exception as e:  # the proxy's errors say what is wrong (port taken, bad certificate)
        return ActionResult(output=f"the TLS proxy did not start: {e}\n", returncode=1)
    stage.extra_proxies.append(proxy)
    return ActionResult(
        output=f"listening on {proxy.address} with TLS; a client needs a certificate signed by "
        f"{tls.ca}\nforwarding to {stage.session.upstream}\n",
        returncode=0,
    )


def _containerd_proxy(stage: LiveStage, args: list[str]) -> ActionResult:
    """A second proxy, in front of containerd: only a client that connects through it (ctr
    --address) is seen; dockerd's connection to containerd was made when dockerd started."""
    if stage.session is None:
        return ActionResult(unavailable=stage.problem)
    from tracer.proxy.server import Proxy

    listen = os.path.join(stage.tmp, "containerd.sock")
    upstream = f"unix://{CONTAINERD_SOCKET}"

    def collect(ev: Event) -> None:
        # Its core calls the upstream's side dockerd; its connections are numbered from 1 like
        # the session proxy's, so they are moved apart (the chain tells clients by number).
        layer = "containerd" if ev.layer == "dockerd" else ev.layer
        detail = dict(ev.detail)
        if isinstance(detail.get("conn"), int):
            detail["conn"] += CONN_OFFSET
        stage._collect(dataclasses.replace(ev, layer=layer, detail=detail))

    try:
        proxy = Proxy(listen=f"unix://{listen}", upstream=upstream, sink=collect).start()
    except Exception as e:  # the proxy's errors say what is wrong
        return ActionResult(output=f"the proxy for containerd did not start: {e}\n", returncode=1)
    stage.extra_proxies.append(proxy)
    return ActionResult(
        output=f"listening on {proxy.address}, forwarding to {upstream}\n"
        f"ctr --address {listen} now talks to containerd through it\n",
        returncode=0,
    )


def _stop_dockerd(stage: LiveStage, args: list[str]) -> ActionResult:
    if not stage.stop_daemon:
        return ActionResult(
            skipped="left out: this step stops the real dockerd; it runs only with --stop-daemon"
        )
    if stage.session is None:
        return ActionResult(unavailable=stage.problem)
    with stopped_dockerd() as note:
        done = stage.session.run_shell("exec 2>&1\ndocker ps", timeout=60)
    output = note.text + done.stdout.decode(errors="replace") + note.after
    return ActionResult(output=output, returncode=done.returncode)


APP_ACTIONS: dict[str, Callable[[LiveStage, list[str]], ActionResult]] = {
    "processes": _processes,
    "socket": _socket,
    "tls-proxy": _tls_proxy,
    "stop-dockerd": _stop_dockerd,
    "containerd-proxy": _containerd_proxy,
}
