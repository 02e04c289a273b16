"""Fixtures for live tests: root, a real dockerd answering /_ping, the demo image."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import need
from tracer.endpoint import DEFAULT_SOCKET, try_connect


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
