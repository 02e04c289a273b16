"""Fixtures for live tests: root, a real dockerd answering /_ping, the demo image."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.conftest import need
from tracer.endpoint import DEFAULT_SOCKET, try_connect
from tracer.events import Event
from tracer.proxy.server import Proxy


def _daemon_up() -> bool:
    return try_connect(DEFAULT_SOCKET)[0] == "ok"


@pytest.fixture(scope="session")
def root() -> None:
    need(os.geteuid() == 0, "live tests need root")


@pytest.fixture(scope="session")
def docker_daemon(root: None) -> str:
    """The real daemon's socket path (tracer/setup.sh starts it)."""
    need(_daemon_up(), f"no Docker daemon answering on {DEFAULT_SOCKET}")
    need(shutil.which("docker") is not None, "no docker CLI on PATH")
    return DEFAULT_SOCKET


@pytest.fixture(scope="session")
def demo_image(docker_daemon: str) -> str:
    """alpine where it is here, otherwise the offline busybox image setup builds."""
    for image in ("alpine:latest", "dockertrace/busybox:latest"):
        r = subprocess.run(["docker", "image", "inspect", image], capture_output=True)
        if r.returncode == 0:
            return image
    need(False, "no demo image: run `bash tracer/setup.sh env`")
    raise AssertionError("unreachable")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def registry(demo_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's docker-registry on a free loopback port (loopback registries need no TLS);
    stopped afterwards. Its own process must be the one answering."""
    need(shutil.which("docker-registry") is not None, "docker-registry is not installed")
    root = tmp_path_factory.mktemp("registry")
    port = _free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog: {level: error}\n"
        f"storage: {{filesystem: {{rootdirectory: {root}/data}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\n"
    )
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            need(proc.poll() is None, f"docker-registry exited at start (port {port} taken?)")
            try:
                httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            need(False, f"docker-registry did not answer on 127.0.0.1:{port}")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def push_to(registry: str, image: str, name: str) -> str:
    """Put IMAGE into the registry as NAME and remove the local tag, so a run has to pull."""
    ref = f"{registry}/{name}:latest"
    subprocess.run(["docker", "tag", image, ref], check=True, capture_output=True)
    subprocess.run(["docker", "push", ref], check=True, capture_output=True, timeout=120)
    subprocess.run(["docker", "rmi", ref], check=True, capture_output=True)
    return ref


def docker(
    args: list[str], env: dict[str, str] | None = None, **kw: Any
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["docker", *args], env=env, capture_output=True, timeout=120, **kw)


@dataclass
class Traced:
    """A running proxy and what it recorded."""

    events: list[Event] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    proxy: Proxy | None = None

    @property
    def address(self) -> str:
        assert self.proxy is not None
        return str(self.proxy.address)

    @property
    def path(self) -> str:
        return self.address.removeprefix("unix://")

    def env(self) -> dict[str, str]:
        return dict(os.environ, DOCKER_HOST=self.address)

    def sink(self, event: Event) -> None:
        with self.lock:
            self.events.append(event)

    def of(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        with self.lock:
            found = [dict(e.detail) for e in self.events if e.kind == kind]
        return [d for d in found if all(d.get(k) == v for k, v in match.items())]

    def settle(self) -> None:
        """Wait until every accepted connection has been recorded as closed. (First a pause
        longer than the copies can be in flight, the relay's hold and the recorder's batch:
        a client that has just exited may have its connection's accept not yet recorded.)"""
        time.sleep(0.05)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if len(self.of("conn.accept")) == len(self.of("conn.close")):
                return
            time.sleep(0.05)

    def relay_fds(self) -> int:
        """How many files the proxy's forwarding process holds open."""
        assert self.proxy is not None and self.proxy._child is not None
        return len(os.listdir(f"/proc/{self.proxy._child.pid}/fd"))

    def ping(self) -> str:
        with httpx.Client(transport=httpx.HTTPTransport(uds=self.path), timeout=5) as c:
            return c.get("http://docker/_ping").text


@pytest.fixture(scope="module")
def traced(docker_daemon: str) -> Iterator[Traced]:
    """One proxy in front of the real daemon for a module's tests, gone (socket too) after."""
    with tempfile.TemporaryDirectory(prefix="dockertrace-proxy-") as d:
        os.chmod(d, 0o755)
        t = Traced()
        with Proxy(
            listen=f"unix://{d}/docker.sock", upstream=f"unix://{docker_daemon}", sink=t.sink
        ) as p:
            t.proxy = p
            yield t
        assert not os.path.exists(f"{d}/docker.sock")
