"""The psutil view: the daemons with their sockets, and a container's pid inside its namespace."""

from __future__ import annotations

import os
import subprocess
import time

import psutil

from tracer.events import Event
from tracer.probes.procs import ProcSource, moving_parts


def test_daemons_and_their_sockets(docker_daemon: str) -> None:
    parts = {m.role: m for m in moving_parts()}
    assert {"dockerd", "containerd"} <= parts.keys()
    assert docker_daemon in parts["dockerd"].listens or "/run/docker.sock" in " ".join(
        parts["dockerd"].listens
    )
    assert any(p.endswith("containerd.sock") for p in parts["containerd"].listens)
    assert any(a.startswith("--containerd") for a in parts["dockerd"].cmdline)


def test_container_process_nspid_and_proc_source(demo_image: str) -> None:
    name = f"dockertrace-procs-{os.getpid()}"
    subprocess.run(
        ["docker", "run", "-d", "--rm", "--name", name, demo_image, "sleep", "30"],
        check=True,
        capture_output=True,
    )
    try:
        host_pid = int(
            subprocess.run(
                ["docker", "inspect", "-f", "{{.State.Pid}}", name],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        events: list[Event] = []
        source = ProcSource(refresh_seconds=0.2)
        source.start(events.append, seed_pids=[os.getpid()])
        try:
            time.sleep(0.3)
        finally:
            source.close()
        seen = {e.pid: e for e in events}
        assert seen[host_pid].detail["nspid"] == [host_pid, 1]  # pid 1 in its own namespace
        assert seen[host_pid].layer == "container" and seen[host_pid].detail["role"] == "container"
        shim = seen[psutil.Process(host_pid).ppid()]
        assert shim.detail["role"] == "shim" and shim.layer == "shim"
        roles = {e.detail["role"] for e in events}
        assert {"dockerd", "containerd", "shim"} <= roles
        assert all(e.kind == "proc.seen" and e.source == "proc" for e in events)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
