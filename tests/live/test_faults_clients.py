"""A client killed mid-stream (`logs -f`, `attach`, a pull): the proxy closes both sides, frees
the connection (its forwarding process holds no more sockets than before) and keeps serving."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.live.conftest import Traced, push_to
from tracer.events import Event
from tracer.proxy.server import Proxy

pytestmark = pytest.mark.live
LABEL = f"dockertrace.test=clients-{os.getpid()}"
TICKER = ["sh", "-c", "while true; do echo tick; sleep 0.1; done"]


@pytest.fixture
def traced(docker_daemon: str, tmp_path: Path) -> Iterator[Traced]:
    run = tmp_path / "run"
    run.mkdir(mode=0o755)
    t = Traced()  # a proxy of its own per test: a killed client must not leave it to the next
    with Proxy(f"unix://{run}/docker.sock", f"unix://{docker_daemon}", t.sink) as p:
        t.proxy = p
        yield t
    ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={LABEL}"],
                         capture_output=True, text=True).stdout.split()  # fmt: skip
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)


def wait_for(cond: Callable[[], object], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def ticker(image: str) -> str:
    return subprocess.run(["docker", "run", "-d", "--label", LABEL, image, *TICKER],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip


def kill_mid_stream(t: Traced, argv: list[str], started: Callable[[list[Event]], bool]) -> int:
    """Start a client through the proxy, kill -9 it once `started`, return its connection."""
    baseline = t.relay_fds()
    before = {e.detail["conn"] for e in t.events if e.kind == "conn.accept"}
    client = subprocess.Popen(argv, env=t.env(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    wait_for(lambda: started(list(t.events)), "the stream to flow")
    client.kill()
    client.wait(10)
    mine = {e.detail["conn"] for e in list(t.events) if e.kind == "conn.accept"} - before
    closed = lambda: mine <= {e.detail["conn"] for e in list(t.events) if e.kind == "conn.close"}  # noqa: E731
    wait_for(closed, "the proxy to close the client's connections")
    wait_for(lambda: t.relay_fds() <= baseline, "the relay to free its sockets")
    assert t.ping() == "OK"
    return max(mine)


def frames(events: list[Event]) -> int:
    return sum(e.kind == "stream.frame" and e.detail["direction"] == "daemon->client"
               for e in events)  # fmt: skip


def test_client_killed_during_logs_follow(traced: Traced, demo_image: str) -> None:
    cid = ticker(demo_image)
    n = frames(traced.events)
    conn = kill_mid_stream(traced, ["docker", "logs", "-f", cid], lambda ev: frames(ev) > n + 3)
    reasons = [e.detail["reason"] for e in traced.events
               if e.kind == "conn.close" and e.detail["conn"] == conn]  # fmt: skip
    assert reasons and "client" in reasons[0], reasons


def test_client_killed_during_attach(traced: Traced, demo_image: str) -> None:
    cid = ticker(demo_image)
    n = frames(traced.events)
    kill_mid_stream(traced, ["docker", "attach", cid], lambda ev: frames(ev) > n + 3)
    state = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", cid],
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    assert state == "true"  # as without the proxy: killing an attached client stops nothing


PULLER = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
target = f"/v1.41/images/create?fromImage={sys.argv[2]}"
s.sendall(f"POST {target} HTTP/1.1\\r\\nHost: d\\r\\n\\r\\n".encode())
s.recv(1)
print("streaming", flush=True)
import time; time.sleep(60)
"""


def test_client_killed_during_a_pull(traced: Traced, demo_image: str, registry: str) -> None:
    ref = push_to(registry, demo_image, f"clients-pull-{os.getpid()}")
    baseline = traced.relay_fds()
    client = subprocess.Popen([sys.executable, "-c", PULLER, traced.path, ref],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert client.stdout is not None and client.stdout.readline() == "streaming\n"
    finally:
        client.kill()
        client.wait(10)
    wait_for(lambda: any(e.kind == "conn.close" for e in list(traced.events)), "the close")
    wait_for(lambda: traced.relay_fds() <= baseline, "the relay to free its sockets")
    assert traced.ping() == "OK"
    pulls = [e for e in traced.events
             if e.kind == "http.request" and "images/create" in e.detail["path"]]  # fmt: skip
    assert pulls
    subprocess.run(["docker", "rmi", "-f", ref], capture_output=True)
