"""The engine failing under a traced `docker run` (on a private engine, tests/live/engine.py):
dockerd killed, then started again; containerd restarted. The client sees what it sees without
dockertrace, the trace shows where the chain broke, and the proxy serves the next request."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable

import pytest

from tests.live.engine import TEST_LABEL, PrivateEngine, private_engine  # noqa: F401
from tracer.events import Event
from tracer.sources.session import LiveSession
from tracer.text.story import fold

pytestmark = pytest.mark.live
IMAGE = "dockertrace/busybox"
TAG = f"faults-{os.getpid()}"
KILLED_RUN: list[Event] = []  # the traced run dockerd died under, for the chain's verdict


def run_under_fault(
    engine: PrivateEngine, docker_host: str, fault: Callable[[], None]
) -> tuple[int, str, str]:
    """`docker run` a 3 s container; once it runs, apply the fault. (exit code, out, err)."""
    env = dict(engine.env, DOCKER_HOST=docker_host)
    argv = ["docker", "run", "--rm", "--label", f"{TEST_LABEL}={TAG}", IMAGE,
            "sh", "-c", "sleep 3; echo done"]  # fmt: skip
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    deadline = time.monotonic() + 20
    while not engine.docker("ps", "-q", "--filter", f"label={TEST_LABEL}={TAG}").stdout.strip():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    fault()
    out, err = proc.communicate(timeout=90)
    return proc.returncode, out, err


def kind_of_error(stderr: str) -> str:
    """The client's error without times and ids: what kind of failure it reports."""
    msgs = re.findall(r'msg="([^"]*)"', stderr) or stderr.strip().splitlines()[-1:]
    return re.sub(r"[0-9a-f]{12,64}", "ID", " | ".join(msgs))


def leftover_containers(engine: PrivateEngine) -> list[str]:
    deadline = time.monotonic() + 15
    while True:
        ids = engine.docker("ps", "-aq", "--filter", f"label={TEST_LABEL}={TAG}").stdout.split()
        if not ids or time.monotonic() > deadline:
            return ids
        time.sleep(0.5)


def wait_endpoint(events: list[Event], conn: int) -> list[Event]:
    return [e for e in events if e.detail.get("conn") == conn]


def test_dockerd_killed_during_a_traced_run(private_engine: PrivateEngine) -> None:  # noqa: F811
    engine = private_engine
    direct = run_under_fault(engine, engine.url, engine.kill_dockerd)
    engine.start_dockerd()
    assert not leftover_containers(engine)
    with LiveSession(upstream=engine.url) as session:
        traced = run_under_fault(engine, session.docker_host, engine.kill_dockerd)
        down = session.run_docker(["version", "--format", "{{.Server.Version}}"])
        engine.start_dockerd()
        after = session.run_docker(["version", "--format", "{{.Server.Version}}"])
        events = session.snapshot()
    print(f"\ndirect: {direct[0]} {kind_of_error(direct[2])!r}\n"
          f"traced: {traced[0]} {kind_of_error(traced[2])!r}")  # fmt: skip
    # the same kind of failure as without dockertrace
    assert traced[0] == direct[0] != 0
    assert kind_of_error(traced[2]) == kind_of_error(direct[2])
    # while dockerd was down the CLI got no answer that looks like the daemon's
    assert down.returncode != 0
    assert any(e.kind == "upstream.unreachable" for e in events)
    # once it is back, the same proxy serves the next request
    assert after.returncode == 0 and after.stdout.strip(), after.stderr
    # the trace shows where the chain broke: /wait asked, never answered, the daemon hung up
    waits = [e for e in events if e.kind == "http.request" and e.detail["path"].endswith("/wait")]
    assert waits, "the CLI's /wait request was recorded"
    conn, seq = waits[0].detail["conn"], waits[0].detail["seq"]
    answers = [
        e
        for e in wait_endpoint(events, conn)
        if e.kind == "http.response" and e.detail["seq"] == seq and e.detail.get("complete", True)
    ]
    assert not answers, "no complete answer to /wait"
    closes = [e.detail["reason"] for e in wait_endpoint(events, conn) if e.kind == "conn.close"]
    assert closes and "daemon" in closes[0], closes
    assert not leftover_containers(engine)
    KILLED_RUN.extend(e for e in events if e.time_ns <= waits[0].time_ns + 10**10)


def test_the_chain_says_the_answer_never_came_back() -> None:
    assert KILLED_RUN, "runs after test_dockerd_killed_during_a_traced_run"
    trace = fold(KILLED_RUN, "bcc")
    assert trace.steps[6].status != "observed"  # the exit status never travelled back


def test_containerd_restarted_during_a_traced_run(private_engine: PrivateEngine) -> None:  # noqa: F811
    engine = private_engine
    direct = run_under_fault(engine, engine.url, engine.restart_containerd)
    with LiveSession(upstream=engine.url) as session:
        traced = run_under_fault(engine, session.docker_host, engine.restart_containerd)
        after = session.run_docker(["run", "--rm", "--label", f"{TEST_LABEL}={TAG}", IMAGE,
                                    "echo", "next"])  # fmt: skip
        events = session.snapshot()
    print(f"\ndirect: {direct}\ntraced: {traced}")
    assert traced == direct  # the shim keeps the container through the restart: same result
    assert after.returncode == 0 and after.stdout == b"next\n"
    responses = [e for e in events if e.kind == "http.response"]
    assert responses and all(e.detail.get("complete", True) for e in responses)
    assert not [e for e in events if e.kind in ("proxy.error", "upstream.unreachable")]
    assert not leftover_containers(engine)
