"""A live session: the proxy and the best probe backend running, docker commands through them."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx

from tracer.endpoint import current_endpoint, daemon_client
from tracer.events import Event, EventSink
from tracer.probes.base import exit_on_sigterm, signals_held
from tracer.proxy.server import Proxy
from tracer.record.format import make_header
from tracer.redact import event_argv
from tracer.sources import sweep
from tracer.sources.images import demo_image
from tracer.sources.picker import begin_best, start_best

SESSION_DIR = "/run/dockertrace"
SETTLE_S = 0.15  # after a command ends, how long late events may take where none is awaited
SETTLE_MAX_S = 0.5  # ... and at most, awaiting its exit and the closing of its connections


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def engine_versions(upstream: str) -> dict[str, str]:
    """The versions a recording's header names: engine, API, containerd, runc, kernel."""
    versions: dict[str, str] = {}
    if upstream.startswith("unix://"):
        try:
            with daemon_client(upstream, timeout=3) as c:
                v = c.get("/version").json()
            versions["docker"] = str(v.get("Version", ""))
            versions["api"] = str(v.get("ApiVersion", ""))
            for comp in v.get("Components") or []:
                name = str(comp.get("Name", "")).lower()
                if name in ("containerd", "runc"):
                    versions[name] = str(comp.get("Version", ""))
        except (httpx.HTTPError, ValueError):
            pass
    return versions


class LiveSession:
    """Proxy + probes; every docker command run through it is traced. Use as a context manager."""

    def __init__(
        self,
        backend: str | None = None,
        sink: EventSink | None = None,
        listen: str | None = None,
        upstream: str | None = None,
    ) -> None:
        self.backend_forced = backend
        self.sink = sink
        self.listen = listen or f"unix://{SESSION_DIR}/session-{os.getpid()}.sock"
        self.upstream = upstream or _real_upstream()
        self.events: list[Event] = []
        self._lock = threading.Lock()
        self.source: Any = None
        self.proxy: Any = None
        self.choices: list[Any] = []
        self.versions: dict[str, str] = {}
        self.default_image = "alpine"  # what demo_image() finds when the session starts
        self.ready_seconds = 0.0
        self._arrived = threading.Condition(self._lock)
        self._exited: set[int] = set()  # pids whose exit the probes reported
        self._open_conns = 0  # connections the proxy saw open and not yet closed
        self.containerd: Any = None  # containerd's event stream (`ctr events`)
        self.specs: Any = None  # reads the OCI spec of each `runc create`

    @property
    def backend(self) -> str:
        return str(getattr(self.source, "name", "none"))

    def _collect(self, ev: Event) -> None:
        ev = event_argv(ev)  # `docker run -e DB_PASSWORD=…` as the probes saw it: redacted
        with self._lock:
            self.events.append(ev)
            if ev.kind == "proc.exit":
                self._exited.add(ev.pid)
            elif ev.kind == "conn.accept":
                self._open_conns += 1
            elif ev.kind == "conn.close":
                self._open_conns -= 1
            self._arrived.notify_all()
        if self.specs is not None:
            self.specs.see(ev)
        if self.sink is not None:
            self.sink(ev)

    def start(self) -> LiveSession:
        t0 = time.perf_counter()
        exit_on_sigterm()  # SIGTERM unwinds through close() like Ctrl-C
        begun = begin_best(forced=self.backend_forced)  # bcc compiles while we go on
        try:
            self._start_evidence()
            # The forwarding process starts (a Python of its own) while bcc compiles; being
            # older than the probes, it is not traced: its own connects are not the lesson.
            self.proxy = Proxy(listen=self.listen, upstream=self.upstream, sink=self._collect)
            self.proxy.start()
            sweep.sweep(self.upstream, SESSION_DIR)  # what a killed session left behind
            self.versions = engine_versions(self.upstream)
            self.default_image = demo_image(self.upstream)
            # The best backend that starts; one that fails to (a verifier refusal, say) gives
            # way to the next, and self.choices says why.
            self.source, self.choices = start_best(
                self._collect, [os.getpid()], self.backend_forced, begun=begun
            )
            self.containerd.wait_ready()
        except BaseException:
            if self.source is None:
                begun[0].close()  # prepared, never started (or failed to)
            self.close()
            raise
        self.ready_seconds = time.perf_counter() - t0
        return self

    def _start_evidence(self) -> None:
        """containerd's event stream and the spec reader: started before the probes, so that
        ctr (like the proxy) is older than them and its own syscalls are not traced."""
        from tracer.probes.containerd_events import ContainerdEvents
        from tracer.probes.oci_spec import SpecReader

        self.specs = SpecReader(self._collect)
        self.containerd = ContainerdEvents(self._collect)
        self.containerd.start()

    @property
    def docker_host(self) -> str:
        return str(self.proxy.address) if self.proxy is not None else self.listen

    @property
    def header(self) -> dict[str, Any]:
        return make_header(
            self.backend,
            self.versions,
            mode="live",
            choices=[
                {"name": c.name, "usable": c.usable, "reason": c.reason} for c in self.choices
            ],
        )

    def snapshot(self) -> list[Event]:
        with self._lock:
            return sorted(self.events, key=lambda e: e.time_ns)

    def run_docker(
        self,
        args: Sequence[str],
        *,
        capture: bool = True,
        input: bytes | None = None,
        timeout: float | None = 600,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run the real docker CLI with DOCKER_HOST at the proxy."""
        docker = shutil.which("docker")
        if docker is None:
            raise FileNotFoundError("no docker CLI on PATH (use --client httpx)")
        return self.run_argv([docker, *args], capture=capture, input=input, timeout=timeout)

    def run_shell(self, command: str, **kw: Any) -> subprocess.CompletedProcess[bytes]:
        """Run a shell command (curl, a script...) with DOCKER_HOST at the proxy."""
        return self.run_argv(["/bin/sh", "-c", command], **kw)

    def run_argv(
        self,
        argv: Sequence[str],
        *,
        capture: bool = True,
        input: bytes | None = None,
        timeout: float | None = 600,
    ) -> subprocess.CompletedProcess[bytes]:
        env = _env(DOCKER_HOST=self.docker_host)
        env.pop("DOCKER_CONTEXT", None)
        kw: dict[str, Any] = {"env": env}
        if capture:
            kw["stdout"] = kw["stderr"] = subprocess.PIPE
        if input is not None:
            kw["stdin"] = subprocess.PIPE
        elif capture:
            kw["stdin"] = subprocess.DEVNULL
        with subprocess.Popen(list(argv), **kw) as proc:
            try:
                out, err = proc.communicate(input, timeout=timeout)
            except BaseException:  # a timeout, a Ctrl-C: as subprocess.run() does
                proc.kill()
                raise
        self.settle(proc.pid)
        return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)

    def settle(self, pid: int) -> None:
        """Wait until what process `pid` (ended) set off is recorded: the probes' report of its
        exit, which comes a moment after we see it, and the proxy's of its connections closing;
        at most SETTLE_MAX_S. The psutil backend does not report exits: SETTLE_S, then."""
        reports_exits = bool(getattr(self.source, "reports_exits", False))
        if not reports_exits:
            time.sleep(SETTLE_S)
        deadline = time.monotonic() + SETTLE_MAX_S
        with self._arrived:
            while (reports_exits and pid not in self._exited) or self._open_conns > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._arrived.wait(left)

    def close(self) -> None:
        with signals_held():  # a Ctrl-C now waits until everything is undone, then counts
            # The proxy first: while it is open, a stopped CLI's create can still reach the
            # daemon and make a container after the sweep has looked.
            if self.proxy is not None:
                self.proxy.close()
                self.proxy = None
            sweep.remove_own(self.upstream)  # containers a stopped run left (not run)
            if self.source is not None:
                self.source.close()
            for part in (self.containerd, self.specs):
                if part is not None:
                    part.close()

    def __enter__(self) -> LiveSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _real_upstream() -> str:
    """The daemon the CLI would use, unless that is one of our own proxies (no loops)."""
    ep = current_endpoint()
    if ep.url.startswith(f"unix://{SESSION_DIR}/"):
        return "unix:///var/run/docker.sock"
    return ep.url
