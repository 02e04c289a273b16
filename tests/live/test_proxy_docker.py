"""The real docker CLI through the proxy, each case compared with the same command run direct."""

from __future__ import annotations

import hashlib
import os
import pty
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import need
from tests.live.conftest import Traced, docker

pytestmark = pytest.mark.live


def both(traced: Traced, args: list[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
    """Run direct and through the proxy; assert the client saw exactly the same; return it."""
    direct = docker(args, **kw)
    proxied = docker(args, env=traced.env(), **kw)
    assert proxied.returncode == direct.returncode, proxied.stderr
    assert proxied.stdout == direct.stdout
    assert proxied.stderr == direct.stderr
    return proxied


def unique(prefix: str) -> str:
    return f"dockertrace-test-{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def sleeper(demo_image: str) -> Iterator[str]:
    name = unique("sleeper")
    docker(["run", "-d", "--name", name, demo_image, "sleep", "120"]).check_returncode()
    yield name
    docker(["rm", "-f", name])


def test_docker_run_is_unchanged_and_recorded(traced: Traced, demo_image: str) -> None:
    out = both(traced, ["run", "--rm", demo_image, "echo", "hi"])
    assert out.stdout == b"hi\n"
    traced.settle()
    creates = traced.of("http.request", endpoint="/containers/create", method="POST")
    assert creates and creates[-1]["body_json"]["Cmd"] == ["echo", "hi"]
    assert any(f["excerpt"] == "hi\n" for f in traced.of("stream.frame", stream="stdout"))
    assert any(a["peer_comm"] == "docker" for a in traced.of("conn.accept"))


def test_stdin_eof_reaches_the_container(traced: Traced, demo_image: str) -> None:
    out = both(traced, ["run", "--rm", "-i", demo_image, "cat"], input=b"ok\n")
    assert out.stdout == b"ok\n" and out.returncode == 0


def test_exit_code_and_streams_kept_apart(traced: Traced, demo_image: str) -> None:
    script = "echo to-out; echo to-err >&2; exit 3"
    out = both(traced, ["run", "--rm", demo_image, "sh", "-c", script])
    assert (out.returncode, out.stdout, out.stderr) == (3, b"to-out\n", b"to-err\n")
    traced.settle()
    assert any(f["excerpt"] == "to-err\n" for f in traced.of("stream.frame", stream="stderr"))


def test_ten_megabytes_of_output(traced: Traced, demo_image: str) -> None:
    args = [
        "run",
        "--rm",
        demo_image,
        "sh",
        "-c",
        "dd if=/dev/zero bs=1048576 count=10 2>/dev/null",
    ]
    out = both(traced, args)
    assert len(out.stdout) == 10 * 1024 * 1024


def run_in_pty(args: list[str], env: dict[str, str] | None) -> tuple[int, bytes]:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        ["docker", *args], stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    got = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    os.close(master)
    return proc.wait(60), got


def test_tty_run_under_a_pseudo_terminal(traced: Traced, demo_image: str) -> None:
    args = ["run", "--rm", "-it", demo_image, "sh", "-c", "echo hi-from-tty; exit 4"]
    direct = run_in_pty(args, None)
    proxied = run_in_pty(args, traced.env())
    assert proxied == direct
    assert proxied[0] == 4 and b"hi-from-tty\r\n" in proxied[1]
    traced.settle()
    assert any(u["tty"] for u in traced.of("http.upgrade"))


def test_logs_follow(traced: Traced, demo_image: str) -> None:
    name = unique("logs")
    script = "for i in 1 2 3; do echo line $i; echo warn $i >&2; sleep 0.3; done"
    docker(["run", "-d", "--name", name, demo_image, "sh", "-c", script]).check_returncode()
    try:
        out = both(traced, ["logs", "-f", name])
        assert out.stdout == b"line 1\nline 2\nline 3\n"
        assert out.stderr == b"warn 1\nwarn 2\nwarn 3\n"
    finally:
        docker(["rm", "-f", name])


def test_exec_with_and_without_stdin(traced: Traced, sleeper: str) -> None:
    assert both(traced, ["exec", sleeper, "echo", "exec-ok"]).stdout == b"exec-ok\n"
    assert both(traced, ["exec", "-i", sleeper, "cat"], input=b"piped\n").stdout == b"piped\n"
    assert both(traced, ["exec", sleeper, "sh", "-c", "exit 7"]).returncode == 7


def test_cp_out_of_a_container(traced: Traced, sleeper: str, tmp_path: Any) -> None:
    direct, proxied = tmp_path / "direct", tmp_path / "proxied"
    docker(["cp", f"{sleeper}:/bin/busybox", str(direct)]).check_returncode()
    docker(["cp", f"{sleeper}:/bin/busybox", str(proxied)], env=traced.env()).check_returncode()
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (direct, proxied)]
    assert digest[0] == digest[1] and direct.stat().st_size > 100_000


def test_events_since_until(traced: Traced, demo_image: str) -> None:
    since = str(int(time.time()) - 1)
    name = unique("events")
    docker(["run", "--rm", "--name", name, demo_image, "true"]).check_returncode()
    time.sleep(1.1)
    until = str(int(time.time()))
    args = ["events", "--since", since, "--until", until, "--filter", f"container={name}"]
    out = both(traced, args)
    assert b" start " in out.stdout and b" die " in out.stdout


def test_name_conflict_409(traced: Traced, sleeper: str, demo_image: str) -> None:
    out = both(traced, ["create", "--name", sleeper, demo_image, "true"])
    assert out.returncode != 0 and b"Conflict" in out.stderr
    traced.settle()
    assert traced.of("http.response", endpoint="/containers/create", status=409)


def test_missing_image_404(traced: Traced) -> None:
    out = both(traced, ["image", "inspect", "dockertrace/no-such-image:nope"])
    assert out.returncode != 0 and b"No such image" in out.stderr
    traced.settle()
    assert traced.of("http.response", status=404)


def test_twenty_parallel_runs_keep_every_line(traced: Traced, demo_image: str) -> None:
    procs = [
        subprocess.Popen(
            [
                "docker",
                "run",
                "--rm",
                demo_image,
                "sh",
                "-c",
                f"for i in 1 2 3 4 5 6 7 8 9 10; do echo run{n} line $i; done",
            ],
            env=traced.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(20)
    ]
    results = [(p.communicate(timeout=120), p.returncode) for p in procs]
    for n, ((out, err), code) in enumerate(results):
        assert code == 0, err
        assert out.decode().splitlines() == [f"run{n} line {i}" for i in range(1, 11)]


def test_malformed_request_gets_the_daemons_400_and_others_go_on(traced: Traced) -> None:
    path = traced.address.removeprefix("unix://")
    bad = socket.socket(socket.AF_UNIX)
    bad.settimeout(10)
    bad.connect(path)
    bad.sendall(b"NOT HTTP AT ALL\r\n\r\n")
    reply = b""
    while chunk := bad.recv(4096):
        reply += chunk
    bad.close()
    assert reply.startswith(b"HTTP/1.1 400 Bad Request")
    assert docker(["version", "--format", "{{.Server.Version}}"], env=traced.env()).returncode == 0
    traced.settle()
    assert any("malformed request" in e["error"] for e in traced.of("proxy.error"))


def open_session(path: str) -> bytes:
    """BuildKit's /session: an h2c upgrade, after which dockerd speaks HTTP/2 first."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    s.sendall(
        b"POST /v1.41/session HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
        b"X-Docker-Expose-Session-Uuid: " + uuid.uuid4().hex.encode() + b"\r\n"
        b"X-Docker-Expose-Session-Name: dockertrace-test\r\n"
        b"X-Docker-Expose-Session-Sharedkey: k\r\n\r\n"
    )
    got = b""
    while b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" not in got:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    s.close()
    return got.split(b"SM\r\n\r\n")[0]


def test_h2c_session_passes_through_untouched(traced: Traced, docker_daemon: str) -> None:
    direct = open_session(docker_daemon)
    proxied = open_session(traced.address.removeprefix("unix://"))
    assert proxied == direct
    assert proxied.startswith(b"HTTP/1.1 101 Switching Protocols")
    traced.settle()
    assert traced.of("http.upgrade", protocol="h2c")
    assert any(h["bytes_out"] >= 24 for h in traced.of("h2.stream"))


def test_docker_py_and_curl_clients(traced: Traced, demo_image: str) -> None:
    import docker as docker_py  # the SDK (a dev dependency)

    for host in (None, traced.address):
        client = docker_py.DockerClient(base_url=host or "unix:///var/run/docker.sock")
        try:
            out = client.containers.run(demo_image, ["sh", "-c", "echo py-out"], remove=True)
            assert out == b"py-out\n"
            assert client.ping() is True
        finally:
            client.close()
    need(shutil.which("curl") is not None, "curl is not installed")
    path = traced.address.removeprefix("unix://")
    curl = subprocess.run(
        ["curl", "-sS", "--unix-socket", path, "-i", "http://docker/v1.41/_ping"],
        capture_output=True,
        timeout=30,
    )
    assert curl.stdout.startswith(b"HTTP/1.1 200 OK") and curl.stdout.endswith(b"\r\n\r\nOK")
    traced.settle()
    assert any(r["peer_comm"] == "curl" for r in traced.of("conn.accept"))
