"""Bad input through the real proxy: a daemon that breaks HTTP, oversized heads and bodies, a
client sending a byte a second. Each bad connection gets the bytes the daemon really sent (the
proxy forwards byte for byte), a `proxy.error` naming what broke, and a closed connection; the
proxy keeps serving everyone else throughout."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tracer.events import Event
from tracer.proxy.exchange import BODY_EXCERPT
from tracer.proxy.server import Proxy

pytestmark = pytest.mark.live

PONG = b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK"
# What the fake daemon answers, by the request's path; anything else gets PONG.
ANSWERS = {
    "/bad-chunk": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "/bad-upgrade": b"HTTP/1.1 101 UPGRADED\r\nthis is no header\r\n\r\n\x01\x00\x00\x00",
    "/bad-status": b"HTTP/1.1 2x0 OK\r\n\r\n",
}


class FakeDaemon:
    """A Unix socket server answering each request head from ANSWERS, then closing the
    connection after a broken answer (as a real server would after its own error)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(64)
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    try:
                        data = conn.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode(errors="replace")
                answer = ANSWERS.get(path.split("?")[0])
                conn.sendall(answer or PONG)
                if answer:
                    time.sleep(0.2)
                    return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def fake_proxy(tmp_path: Path) -> Iterator[tuple[str, list[Event]]]:
    daemon = FakeDaemon(str(tmp_path / "fake-daemon.sock"))
    events: list[Event] = []
    run = tmp_path / "run"
    run.mkdir(mode=0o755)
    proxy = Proxy(f"unix://{run}/docker.sock", f"unix://{daemon.path}", events.append).start()
    try:
        yield str(run / "docker.sock"), events
    finally:
        proxy.close()
        daemon.close()


def raw_exchange(path: str, request: bytes, timeout: float = 10) -> bytes:
    """Send bytes, read until the proxy closes the connection; fails if it never does."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            s.sendall(request)  # a daemon may answer and close before reading it all
        out = b""
        # A daemon that answers and closes with our bytes unread resets the connection after
        # its answer (so it does direct, too): what came before the reset is what counts.
        with contextlib.suppress(ConnectionResetError):
            while data := s.recv(65536):
                out += data
        return out


def ping(path: str) -> str:
    with httpx.Client(transport=httpx.HTTPTransport(uds=path), timeout=5) as c:
        return c.get("http://docker/_ping").text


def wait_for(cond: Callable[[], object], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def errors(events: list[Event]) -> list[str]:
    return [str(e.detail["error"]) for e in list(events) if e.kind == "proxy.error"]


@pytest.mark.parametrize(
    ("target", "expected_error", "client_error"),
    [
        ("/bad-chunk", "malformed response body", httpx.RemoteProtocolError),
        ("/bad-upgrade", "malformed response", httpx.RemoteProtocolError),
        ("/bad-status", "malformed response", httpx.RemoteProtocolError),
    ],
)
def test_a_daemon_breaking_http_is_forwarded_reported_and_closed(
    fake_proxy: tuple[str, list[Event]],
    target: str,
    expected_error: str,
    client_error: type[Exception],
) -> None:
    path, events = fake_proxy
    request = f"GET {target} HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
    got = raw_exchange(path, request.encode())
    assert got == ANSWERS[target]  # exactly the daemon's bytes, then EOF: the connection closed
    wait_for(lambda: errors(events))
    assert expected_error in errors(events)[0], errors(events)
    with httpx.Client(transport=httpx.HTTPTransport(uds=path), timeout=5) as c:
        with pytest.raises(client_error):  # an HTTP client sees a clear protocol error
            c.get(f"http://docker{target}")
        assert c.get("http://docker/_ping").text == "OK"  # and the proxy serves the next one
    wait_for(lambda: sum(e.kind == "conn.close" for e in list(events)) >= 3)


def test_a_slow_client_holds_only_its_own_connection(fake_proxy: tuple[str, list[Event]]) -> None:
    """A byte a second for 4 s: meanwhile 50 other requests are answered at once; then the
    slow request completes normally (the proxy adds no timeout the daemon does not have)."""
    path, events = fake_proxy
    request = b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n"
    result: dict[str, bytes] = {}

    def dribble() -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(15)
            s.connect(path)
            for b in request[:4]:
                s.send(bytes([b]))
                time.sleep(1)
            s.sendall(request[4:])
            result["answer"] = s.recv(65536)

    slow = threading.Thread(target=dribble)
    slow.start()
    t0 = time.monotonic()
    with httpx.Client(transport=httpx.HTTPTransport(uds=path), timeout=5) as c:
        answers = [c.get("http://docker/_ping").text for _ in range(50)]
    others_took = time.monotonic() - t0
    slow.join(20)
    assert answers == ["OK"] * 50
    assert others_took < 3.5, f"others waited for the slow client ({others_took:.1f} s)"
    assert result.get("answer") == PONG
    wait_for(lambda: sum(e.kind == "http.response" for e in list(events)) >= 51)
    assert not errors(events)


def test_oversized_head_gets_the_daemons_431_and_a_close(
    docker_daemon: str, tmp_path: Path
) -> None:
    """2 MiB of headers: Go's net/http answers 431 and closes; the record says why."""
    events: list[Event] = []
    run = tmp_path / "run"
    run.mkdir(mode=0o755)
    with Proxy(f"unix://{run}/docker.sock", f"unix://{docker_daemon}", events.append) as p:
        path = p.address.removeprefix("unix://")
        head = b"GET /v1.41/_ping HTTP/1.1\r\nHost: d\r\nX-Big: " + b"a" * (2 << 20) + b"\r\n\r\n"
        got = raw_exchange(path, head)
        assert got.startswith(b"HTTP/1.1 431 "), got[:80]
        assert ping(path) == "OK"
        wait_for(lambda: errors(events))
        assert "malformed request" in errors(events)[0]
        wait_for(lambda: any(e.kind == "http.response" for e in list(events)))
    answers = [e.detail["status"] for e in events if e.kind == "http.response"]
    assert 431 in answers


def test_a_body_larger_than_the_excerpt_is_counted_not_kept(
    docker_daemon: str, tmp_path: Path
) -> None:
    """A 5 MiB create body (for an image that does not exist: nothing is created): the
    daemon's real answer comes back; the event has the full size and a bounded excerpt."""
    events: list[Event] = []
    run = tmp_path / "run"
    run.mkdir(mode=0o755)
    labels = {f"l{i}": "x" * 1000 for i in range(5000)}
    body = json.dumps({"Image": "dockertrace/no-such-image:none", "Labels": labels}).encode()
    with Proxy(f"unix://{run}/docker.sock", f"unix://{docker_daemon}", events.append) as p:
        path = p.address.removeprefix("unix://")
        with httpx.Client(transport=httpx.HTTPTransport(uds=path), timeout=30) as c:
            r = c.post("http://docker/v1.41/containers/create", content=body,
                       headers={"Content-Type": "application/json"})  # fmt: skip
            assert r.status_code == 404, r.text
        assert ping(path) == "OK"
        wait_for(lambda: sum(e.kind == "http.response" for e in list(events)) >= 2)
    (req,) = [e.detail for e in events if e.kind == "http.request" and "create" in e.detail["path"]]
    assert req["body_size"] == len(body)
    assert len(req["body_excerpt"]) <= BODY_EXCERPT + 1
    assert req["body_json"] is None  # too large to keep whole
    assert req.get("complete", True)
