"""`dockertrace proxy` as a user runs it: lines per exchange, JSON, a recording, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tracer.endpoint import try_connect
from tracer.record.format import read_recording

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[2]


def start(args: list[str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracer", "proxy", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc


def wait_listening(path: Path, proc: subprocess.Popen[str]) -> None:
    for _ in range(300):
        if try_connect(str(path))[0] == "ok":
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the proxy did not start listening")


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_proxy_command_prints_records_and_stops_cleanly(
    tmp_path: Path, demo_image: str, stop: signal.Signals
) -> None:
    run_dir = tmp_path / "run"
    sock, recording = run_dir / "docker.sock", tmp_path / "rec.jsonl"
    proc = start(["--listen", f"unix://{sock}", "--record", str(recording)])
    try:
        wait_listening(sock, proc)
        assert oct(run_dir.stat().st_mode & 0o777) == "0o755"
        env = dict(os.environ, DOCKER_HOST=f"unix://{sock}")
        r = subprocess.run(
            ["docker", "run", "--rm", demo_image, "echo", "via-command"],
            env=env,
            capture_output=True,
            timeout=60,
        )
        assert r.stdout == b"via-command\n"
        time.sleep(0.5)
    finally:
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert not sock.exists()
    assert "POST /v1.41/containers/create → 201 Created" in out
    assert "upgraded to tcp (multiplexed stdout/stderr)" in out
    assert "'via-command\\n'" in out
    rec = read_recording(recording)
    kinds = {e.kind for e in rec.events}
    assert {"conn.accept", "http.request", "http.response", "stream.frame"} <= kinds


def test_json_lines_and_a_refused_second_listener(tmp_path: Path, docker_daemon: str) -> None:
    sock = tmp_path / "run" / "docker.sock"
    proc = start(["--listen", f"unix://{sock}", "--json"])
    try:
        wait_listening(sock, proc)
        second = start(["--listen", f"unix://{sock}"])
        _, err = second.communicate(timeout=30)
        assert second.returncode == 1 and "already has a live listener" in err
        env = dict(os.environ, DOCKER_HOST=f"unix://{sock}")
        subprocess.run(["docker", "version"], env=env, capture_output=True, timeout=60, check=True)
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    events = [json.loads(line) for line in out.splitlines()]
    assert any(
        e["kind"] == "http.response" and e["detail"]["endpoint"] == "/version" for e in events
    )
    assert all(e["source"] == "proxy" for e in events)


def test_tcp_listening_requires_tls(tmp_path: Path, docker_daemon: str) -> None:
    proc = start(["--listen", "tcp://127.0.0.1:0"])
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "without TLS" in err
