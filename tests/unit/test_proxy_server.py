"""The proxy server against a real (small, local) upstream socket: forwarding, safety, failures."""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracer.events import Event
from tracer.proxy import relay
from tracer.proxy.server import Proxy, ProxyError


@pytest.fixture(autouse=True, params=["c", "python"])
def relay_loop(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs against both duplex loops: C (_duplex.c) and Python (the
    fallback where no compiler was). Set-up installs a compiler, so in CI the C one must be
    there."""
    if request.param == "c" and relay._duplex is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the relay's C loop (tracer/proxy/_duplex.c) was not built")
        pytest.skip("the relay's C loop is not built here (no compiler or Python headers)")
    monkeypatch.setenv("DOCKERTRACE_RELAY", request.param)
    return str(request.param)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = f"you asked for {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass

    def address_string(self) -> str:
        return "unix"


class _Upstream(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[str]:
    """A small HTTP/1.1 server on a Unix socket: a stand-in daemon for the server tests."""
    path = str(tmp_path / "upstream.sock")
    server = _Upstream(path, _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield path
    server.shutdown()
    server.server_close()


@pytest.fixture
def listen_dir(tmp_path: Path) -> Path:
    d = tmp_path / "run"
    d.mkdir(mode=0o755)
    return d


def wait_for(cond: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(cond) and cond():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def bound_daemon(listen_dir: Path, name: str) -> tuple[str, socket.socket]:
    """A listening Unix socket beside the proxy's directory: a hand-written daemon's end."""
    path = str(listen_dir.parent / f"{name}.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)
    return path, srv


def client_of(p: Proxy) -> socket.socket:
    """A raw client connected through the proxy."""
    c = socket.socket(socket.AF_UNIX)
    c.connect(p.address.removeprefix("unix://"))
    return c


def attach_and_read(
    p: Proxy,
    events: list[Event],
    close_within: float = 20,
    stall_after: float | None = None,
    read_after: float = 0,
) -> bytes:
    """Attach through the proxy, read the stream to its end and wait for the close to be
    recorded; returns what followed the 101's head. `stall_after`: a stall fails instead of
    hanging; `read_after`: start reading late."""
    c = client_of(p)
    c.settimeout(stall_after)
    c.sendall(ATTACH)
    time.sleep(read_after)
    received = bytearray()
    while chunk := c.recv(1 << 20):
        received += chunk
    c.close()
    wait_for(lambda: any(e.kind == "conn.close" for e in events), timeout=close_within)
    return bytes(received[received.find(b"\r\n\r\n") + 4 :])


ATTACH = (
    b"POST /v1.41/containers/abc/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: d\r\n"
    b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
)
UPGRADED = (
    b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream"
    b"\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
)


@pytest.mark.parametrize("batch_ms", [5.0, 20.0])  # the app's, and `dockertrace proxy`'s
def test_forwards_and_records_over_keep_alive(
    upstream: str, listen_dir: Path, batch_ms: float
) -> None:
    events: list[Event] = []
    sock = listen_dir / "docker.sock"
    up = f"unix://{upstream}"
    with Proxy(listen=f"unix://{sock}", upstream=up, sink=events.append, batch_ms=batch_ms) as p:
        assert p.address == f"unix://{sock}"
        assert oct(os.stat(sock).st_mode & 0o777) == "0o660"
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock))) as c:
            texts = [c.get(f"http://docker/v1.41/thing/{i}").text for i in range(3)]
        assert texts == [f"you asked for /v1.41/thing/{i}" for i in range(3)]
        wait_for(lambda: any(e.kind == "conn.close" for e in events))
    assert not sock.exists()
    responses = [e.detail for e in events if e.kind == "http.response"]
    assert [(r["seq"], r["status"], r["endpoint"]) for r in responses] == [
        (1, 200, "/thing/0"),
        (2, 200, "/thing/1"),
        (3, 200, "/thing/2"),
    ]
    accept = next(e for e in events if e.kind == "conn.accept")
    assert accept.detail["peer_pid"] == os.getpid() and accept.pid == os.getpid()
    assert all(e.time_ns > 0 for e in events)


def test_half_close_is_passed_on_and_the_answer_still_arrives(listen_dir: Path) -> None:
    """The upstream answers only after it reads EOF: the proxy must pass SHUT_WR on and keep
    the other direction open."""
    path, srv = bound_daemon(listen_dir, "late")

    def serve() -> None:
        conn, _ = srv.accept()
        got = b""
        while chunk := conn.recv(4096):
            got += chunk
        time.sleep(0.2)
        conn.sendall(b"after EOF I read " + str(len(got)).encode())
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    with Proxy(listen=f"unix://{listen_dir}/d.sock", upstream=f"unix://{path}") as p:
        c = client_of(p)
        c.sendall(b"x" * 1000)
        c.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := c.recv(4096):
            reply += chunk
        c.close()
    srv.close()
    assert reply == b"after EOF I read 1000"


def test_an_open_idle_connection_is_recorded_without_more_traffic(
    upstream: str, listen_dir: Path
) -> None:
    """The relay holds the copies of small chunks to send them together: a connection that
    goes quiet after one exchange still has it recorded, within the hold time."""
    events: list[Event] = []
    sock = listen_dir / "docker.sock"
    with (
        Proxy(listen=f"unix://{sock}", upstream=f"unix://{upstream}", sink=events.append),
        httpx.Client(transport=httpx.HTTPTransport(uds=str(sock))) as c,
    ):
        assert c.get("http://docker/_ping").status_code == 200
        wait_for(lambda: any(e.kind == "http.response" for e in events), timeout=2)
        assert not any(e.kind == "conn.close" for e in events)  # (still open)


def test_a_daemon_that_writes_before_it_reads_never_stalls_the_relay(listen_dir: Path) -> None:
    """Both sides send 4 MiB (far more than a socket buffer) at once; the daemon reads only
    after it has written everything. One thread relaying both directions would block writing
    to the daemon while the daemon blocks writing to it: the relay must hand the connection to
    one thread per direction as soon as a write would wait."""
    path, srv = bound_daemon(listen_dir, "rude")
    size = 4 << 20
    to_client = bytes(range(251)) * (size // 251)
    to_daemon = bytes(range(7, 256)) * (size // 249)
    got_daemon = bytearray()

    def serve() -> None:
        conn, _ = srv.accept()
        conn.sendall(to_client)
        conn.shutdown(socket.SHUT_WR)
        while chunk := conn.recv(1 << 16):
            got_daemon.extend(chunk)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    events: list[Event] = []
    with Proxy(
        listen=f"unix://{listen_dir}/d.sock", upstream=f"unix://{path}", sink=events.append
    ) as p:
        c = client_of(p)
        c.settimeout(30)  # a stall fails the test instead of hanging it

        def write() -> None:
            c.sendall(to_daemon)
            c.shutdown(socket.SHUT_WR)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        got_client = bytearray()
        while chunk := c.recv(1 << 16):
            got_client.extend(chunk)
        writer.join(30)
        c.close()
        wait_for(lambda: any(e.kind == "conn.close" for e in events), timeout=20)
    srv.close()
    assert bytes(got_client) == to_client
    assert bytes(got_daemon) == to_daemon
    closed = next(e for e in events if e.kind == "conn.close")
    assert (closed.detail["bytes_in"], closed.detail["bytes_out"]) == (
        len(to_daemon),
        size - size % 251,
    )


def test_a_batch_outside_its_range_is_refused(upstream: str, listen_dir: Path) -> None:
    for bad in (0.0, 500.0):
        with pytest.raises(ValueError, match="between 1 and 100 ms"):
            Proxy(listen=f"unix://{listen_dir}/d.sock", upstream=f"unix://{upstream}", batch_ms=bad)


def test_unreachable_daemon_closes_without_a_fake_answer(listen_dir: Path) -> None:
    events: list[Event] = []
    missing = f"unix://{listen_dir.parent}/nobody.sock"
    with Proxy(listen=f"unix://{listen_dir}/d.sock", upstream=missing, sink=events.append) as p:
        c = client_of(p)
        c.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
        try:
            reply = c.recv(4096)
        except ConnectionResetError:
            reply = b""
        c.close()
        wait_for(lambda: any(e.kind == "conn.close" for e in events))
    assert reply == b""  # no byte that could pass for the daemon's
    unreachable = [e.detail for e in events if e.kind == "upstream.unreachable"]
    assert unreachable and unreachable[0]["upstream"] == missing
    assert "No such file" in unreachable[0]["error"]


def test_a_live_socket_is_never_replaced(upstream: str, listen_dir: Path) -> None:
    sock = f"unix://{listen_dir}/d.sock"
    with Proxy(listen=sock, upstream=f"unix://{upstream}"):
        with pytest.raises(ProxyError, match="live listener"):
            Proxy(listen=sock, upstream=f"unix://{upstream}").start()
        assert (listen_dir / "d.sock").exists()


def test_a_stale_socket_is_removed_and_a_plain_file_is_not(upstream: str, listen_dir: Path) -> None:
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(listen_dir / "stale.sock"))
    stale.close()  # the file stays, nobody listens
    with Proxy(listen=f"unix://{listen_dir}/stale.sock", upstream=f"unix://{upstream}") as p:
        assert p.address.endswith("stale.sock")
    (listen_dir / "file.sock").write_text("not a socket")
    with pytest.raises(ProxyError, match="not a socket"):
        Proxy(listen=f"unix://{listen_dir}/file.sock", upstream=f"unix://{upstream}").start()


def test_unsafe_directory_and_plain_tcp_are_refused(upstream: str, tmp_path: Path) -> None:
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    with pytest.raises(ProxyError, match="writable by others"):
        Proxy(listen=f"unix://{open_dir}/d.sock", upstream=f"unix://{upstream}").start()
    with pytest.raises(ProxyError, match="without TLS"):
        Proxy(listen="tcp://127.0.0.1:0", upstream=f"unix://{upstream}").start()


@pytest.fixture
def shared_proxy(upstream: str, listen_dir: Path) -> Iterator[tuple[str, list[Event]]]:
    events: list[Event] = []
    with Proxy(
        listen=f"unix://{listen_dir}/d.sock", upstream=f"unix://{upstream}", sink=events.append
    ) as p:
        yield p.address.removeprefix("unix://"), events


def test_arbitrary_bytes_never_stop_the_proxy(shared_proxy: tuple[str, list[Event]]) -> None:
    path, events = shared_proxy

    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.binary(min_size=1, max_size=200))
    def throw(junk: bytes) -> None:
        c = socket.socket(socket.AF_UNIX)
        c.settimeout(10)
        c.connect(path)
        c.sendall(junk)
        c.shutdown(socket.SHUT_WR)
        while c.recv(4096):  # the upstream answers (or closes); the proxy must not hang
            pass
        c.close()
        with httpx.Client(transport=httpx.HTTPTransport(uds=path)) as ok:
            assert ok.get("http://docker/still-serving").status_code == 200

    throw()
    wait_for(lambda: sum(e.kind == "conn.close" for e in events) >= 60)
    assert sum(e.kind == "conn.accept" for e in events) >= 60


def test_the_proxy_refuses_to_forward_to_itself(listen_dir: Path) -> None:
    own = f"unix://{listen_dir}/d.sock"
    with pytest.raises(ProxyError, match="proxy's own socket"):
        Proxy(listen=own, upstream=own)


def test_a_bulk_hijacked_stream_is_spliced_byte_for_byte_and_every_frame_recorded(
    listen_dir: Path,
) -> None:
    """32 MiB of multiplexed output after a 101: far past SPLICE_AFTER, so the daemon->client
    direction goes through splice(2) and tee(2). The client gets every byte unchanged, the
    record counts every frame's bytes, and stdin typed after the upgrade still arrives."""
    path, srv = bound_daemon(listen_dir, "bulk")
    payload = bytes(range(256)) * 4096  # 1 MiB per frame, not all zeros
    frames = 32
    stream = b"".join(
        bytes([1 + i % 2, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload
        for i in range(frames)
    )
    got_stdin: list[bytes] = []

    def serve() -> None:
        conn, _ = srv.accept()
        conn.recv(65536)  # the attach request
        conn.sendall(UPGRADED)
        conn.sendall(stream)
        got_stdin.append(conn.recv(100))
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    events: list[Event] = []
    with Proxy(
        listen=f"unix://{listen_dir}/d.sock", upstream=f"unix://{path}", sink=events.append
    ) as p:
        c = client_of(p)
        c.sendall(ATTACH)
        received = bytearray()
        while len(received) < len(stream) or b"\r\n\r\n" not in received[:200]:
            head_end = received.find(b"\r\n\r\n")
            if head_end >= 0 and len(received) - head_end - 4 >= len(stream):
                break
            chunk = c.recv(1 << 20)
            assert chunk, "the proxy closed early"
            received += chunk
        c.sendall(b"typed")
        while chunk := c.recv(65536):
            received += chunk
        c.close()
        wait_for(lambda: any(e.kind == "conn.close" for e in events), timeout=20)
    srv.close()
    body = bytes(received[received.find(b"\r\n\r\n") + 4 :])
    assert body == stream
    assert got_stdin == [b"typed"]
    sizes: dict[str, int] = {}
    for e in events:
        if e.kind == "stream.frame":
            sizes[e.detail["stream"]] = sizes.get(e.detail["stream"], 0) + e.detail["size"]
    assert sizes == {"stdout": 16 * len(payload), "stderr": 16 * len(payload), "stdin": 5}
    closed = next(e for e in events if e.kind == "conn.close")
    assert closed.detail["bytes_out"] == len(received)


def test_a_slow_recorder_makes_a_bulk_stream_wait_and_loses_nothing(listen_dir: Path) -> None:
    """The recorder reads a bulk stream's copies from a pipe of its own (relay.splice_rest):
    when it falls a pipe behind (here a sink that takes 20 ms an event), forwarding waits for
    it; every byte still arrives and is recorded, and no copy pipe is left open."""
    path, srv = bound_daemon(listen_dir, "slow")
    payload = bytes(range(256)) * 256  # 64 KiB frames
    stream = b"".join(
        bytes([1, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload for _ in range(256)
    )  # 16 MiB

    def serve() -> None:
        conn, _ = srv.accept()
        conn.recv(65536)
        conn.sendall(UPGRADED)
        for i in range(0, len(stream), 65536):
            conn.sendall(stream[i : i + 65536])
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    events: list[Event] = []

    def inheritable_pipes() -> set[str]:
        """Pipes a child of this process would get."""
        found = set()
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                pipe = os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:")
                if pipe and os.get_inheritable(int(fd)):
                    found.add(fd)
        return found

    inheritable = inheritable_pipes()  # (this process's stdout, say)
    while_streaming: list[set[str]] = []

    def slow(e: Event) -> None:
        if e.kind == "stream.frame":
            if not while_streaming:  # the first frame: the copy pipe is here
                while_streaming.append(inheritable_pipes())
            time.sleep(0.02)
        events.append(e)

    fds_before = len(os.listdir("/proc/self/fd"))
    with Proxy(listen=f"unix://{listen_dir}/d.sock", upstream=f"unix://{path}", sink=slow) as p:
        body = attach_and_read(p, events, close_within=60)
    srv.close()
    assert body == stream
    frames = [e for e in events if e.kind == "stream.frame"]
    assert sum(e.detail["size"] for e in frames) == len(stream) - 256 * 8
    assert not [e for e in events if e.kind == "proxy.error"]
    assert while_streaming == [inheritable]  # the copy pipe is not inherited by children
    wait_for(lambda: len(os.listdir("/proc/self/fd")) <= fds_before)


def test_a_stream_written_in_small_pieces_is_spliced_without_stalling(listen_dir: Path) -> None:
    """dockerd writes each frame's 8-byte header and its payload separately: spliced, every
    piece takes a pipe buffer slot, so the recorder's copy pipe fills by its slots before its
    bytes (a blocking tee then waited for ever). A client that reads late lets many pieces
    pile up. Every byte still arrives, and every frame is recorded."""
    path, srv = bound_daemon(listen_dir, "pieces")
    payload = bytes(range(256)) * 16  # 4 KiB
    frames = 4096  # 16 MiB
    head = bytes([1, 0, 0, 0]) + len(payload).to_bytes(4, "big")

    def serve() -> None:
        conn, _ = srv.accept()
        conn.recv(65536)  # the attach request
        conn.sendall(UPGRADED)
        for _ in range(frames):
            conn.sendall(head)
            conn.sendall(payload)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    events: list[Event] = []
    with Proxy(
        listen=f"unix://{listen_dir}/d.sock", upstream=f"unix://{path}", sink=events.append
    ) as p:
        body = attach_and_read(p, events, stall_after=30, read_after=0.5)  # pieces pile up
    srv.close()
    assert body == (head + payload) * frames
    stdout = sum(e.detail["size"] for e in events if e.kind == "stream.frame")
    assert stdout == frames * len(payload)
