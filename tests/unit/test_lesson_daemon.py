"""Stopping "dockerd" for lesson 4, with a stand-in daemon: it is stopped, then back, always."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tracer.endpoint import try_connect
from tracer.sources.daemon_stop import stopped_dockerd

SERIAL = itertools.count()


def pids_named(name: str) -> list[int]:
    return [
        p.pid
        for p in psutil.process_iter(["name", "status"])
        if p.info["name"] == name and p.info["status"] != psutil.STATUS_ZOMBIE
    ]


def daemons_named(name: str) -> list[int]:
    """The listening stand-in, not the children it forks for each connection (a check's
    connection may still be served by one for a moment)."""
    pids = pids_named(name)
    return [pid for pid in pids if _ppid(pid) not in pids]


def _ppid(pid: int) -> int | None:
    try:
        return psutil.Process(pid).ppid()
    except psutil.Error:
        return None


@pytest.fixture
def stand_in() -> Iterator[tuple[str, str, str]]:
    """A socat renamed to a name of its own, listening on a Unix socket: (name, socket, log)."""
    socat = shutil.which("socat")
    assert socat, "socat is installed by tracer/setup.sh"
    d = Path(f"/tmp/dtd-{os.getpid()}")
    d.mkdir(exist_ok=True)
    name = f"dtfake{next(SERIAL)}-{os.getpid() % 10000}"
    exe = d / name
    shutil.copy(socat, exe)
    sock = str(d / "daemon.sock")
    subprocess.Popen(
        [str(exe), f"UNIX-LISTEN:{sock},fork,unlink-early", "EXEC:/bin/cat"],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while try_connect(sock)[0] != "ok" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert try_connect(sock)[0] == "ok", "the stand-in daemon did not start"
    yield name, sock, str(d / "log" / "daemon.log")
    for pid in pids_named(name):
        p = psutil.Process(pid)
        p.kill()
        p.wait(10)  # reaps it where it is our child (the restarted one is)
    shutil.rmtree(d)


def test_stopped_inside_the_block_and_back_after(stand_in: tuple[str, str, str]) -> None:
    name, sock, log = stand_in
    [before] = daemons_named(name)
    with stopped_dockerd(name, sock, log) as note:
        assert try_connect(sock)[0] != "ok"
        assert note.text == f"{name} (pid {before}) stopped; {sock} has no listener now\n"
    assert note.after == f"{name} started again and answers on its socket\n"
    assert try_connect(sock)[0] == "ok"
    [after] = daemons_named(name)
    assert after != before  # a new process, from the same command line
    assert psutil.Process(after).cmdline()[1:] == [
        f"UNIX-LISTEN:{sock},fork,unlink-early",
        "EXEC:/bin/cat",
    ]


def test_back_even_when_the_block_fails(stand_in: tuple[str, str, str]) -> None:
    name, sock, log = stand_in
    with pytest.raises(RuntimeError), stopped_dockerd(name, sock, log):
        raise RuntimeError("the step broke")
    assert try_connect(sock)[0] == "ok"


def test_nothing_to_stop() -> None:
    with stopped_dockerd("dt-no-such-daemon", "/nonexistent.sock") as note:
        assert note.text == "dt-no-such-daemon is not running: nothing to stop\n"
