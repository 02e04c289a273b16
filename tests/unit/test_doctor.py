"""doctor tells apart the failures the article teaches, each with its own line and exit status."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracer.endpoint import Endpoint, current_endpoint, try_connect
from tracer.proxy import relay
from tracer.sources import doctor


def run_doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "tracer", "doctor", "--no-bpf", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=60,
    )


@pytest.fixture
def sock_dir(tmp_path: Path) -> Iterator[Path]:
    # AF_UNIX paths are limited to 108 bytes; pytest's tmp paths can be long.
    d = Path(f"/tmp/dt-doctor-{os.getpid()}-{tmp_path.name[-8:]}")
    d.mkdir(exist_ok=True)
    yield d
    for p in d.iterdir():
        p.unlink()
    d.rmdir()


@pytest.fixture
def http500(sock_dir: Path) -> Iterator[str]:
    """A fake daemon that answers every request with HTTP 500."""
    path = str(sock_dir / "500.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            with conn:
                if not conn.recv(65536):
                    continue  # a bare connect() probe
                body = b"boom: storage driver failed"
                conn.sendall(
                    b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
                )

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield path
    stop.set()
    t.join()
    srv.close()


def test_no_socket(sock_dir: Path) -> None:
    r = run_doctor({"DOCKER_HOST": f"unix://{sock_dir}/absent.sock"})
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "✗ socket" in r.stdout and "no such file" in r.stdout
    assert "cannot connect" in r.stdout


def test_nobody_listening(sock_dir: Path) -> None:
    path = str(sock_dir / "dead.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)  # bound, never listening: connect() is refused, as after a daemon crash
    try:
        assert try_connect(path)[0] == "refused"
        r = run_doctor({"DOCKER_HOST": f"unix://{path}"}, "--json")
    finally:
        s.close()
    assert r.returncode == 1
    assert '"failure": "cannot-connect"' in r.stdout
    assert "nobody is listening" in r.stdout


def test_http_error_is_not_cannot_connect(http500: str) -> None:
    check = doctor.check_daemon(Endpoint(f"unix://{http500}", "test"))
    assert not check.ok
    assert check.data["failure"] == "http-error"
    assert "HTTP 500" in check.found


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user")
def test_permission_denied(sock_dir: Path, http500: str) -> None:
    os.chmod(sock_dir, 0o755)
    os.chmod(http500, 0o600)
    r = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-c",
            "from tracer.sources import doctor; from tracer.endpoint import Endpoint;"
            f"c = doctor.check_daemon(Endpoint('unix://{http500}', 't'));"
            "print(c.data['failure'], c.found)",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).parents[2],
    )
    assert r.stdout.startswith("permission-denied"), r.stdout + r.stderr


def test_no_docker_cli(tmp_path: Path) -> None:
    r = run_doctor({"PATH": str(tmp_path), "DOCKER_HOST": "unix:///nonexistent.sock"})
    assert "✗ docker CLI" in r.stdout and "no `docker` on PATH" in r.stdout
    assert "Traceback" not in r.stderr


def test_endpoint_from_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib
    import json

    meta = tmp_path / "contexts" / "meta" / hashlib.sha256(b"remote").hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(
        json.dumps({"Name": "remote", "Endpoints": {"docker": {"Host": "tcp://10.0.0.9:2376"}}})
    )
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    ep = current_endpoint({})
    assert ep.url == "tcp://10.0.0.9:2376"
    assert ep.origin == "context remote"
    assert current_endpoint({"DOCKER_HOST": "unix:///x.sock"}).origin == "DOCKER_HOST"


def test_the_relay_check_says_which_loop_forwards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relay, "_duplex", None)
    python = doctor.check_relay()
    assert python.ok and "Python" in python.found and "gcc and python3-dev" in python.warning
    monkeypatch.setattr(relay, "_duplex", object())
    c = doctor.check_relay()
    assert c.ok and "in C" in c.found and not c.warning
