"""Long streams through the proxy: a pull from a local registry and a legacy `docker build`."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator

import pytest

from tests.live.conftest import Traced, docker

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def pushed(registry: str, demo_image: str) -> Iterator[str]:
    """The demo image pushed to the local registry (directly), with no local copy of that tag."""
    ref = f"{registry}/dockertrace/proxy-pull:{uuid.uuid4().hex[:8]}"
    docker(["tag", demo_image, ref]).check_returncode()
    push = docker(["push", ref])
    assert push.returncode == 0, push.stderr
    docker(["rmi", ref]).check_returncode()
    yield ref
    docker(["rmi", "-f", ref])


def test_pull_from_a_local_registry(traced: Traced, pushed: str) -> None:
    out = docker(["pull", pushed], env=traced.env())
    assert out.returncode == 0, out.stderr
    assert f"Status: Downloaded newer image for {pushed}".encode() in out.stdout
    assert docker(["image", "inspect", pushed]).returncode == 0
    traced.settle()
    pulls = traced.of("http.response", endpoint="/images/create", status=200)
    assert pulls and pulls[-1]["streaming"] is True
    assert traced.of("stream.frame", direction="daemon->client")


def test_a_failed_pull_is_recorded_as_a_stream_error_or_404(traced: Traced, registry: str) -> None:
    ref = f"{registry}/dockertrace/not-there:nope"
    direct = docker(["pull", ref])
    proxied = docker(["pull", ref], env=traced.env())
    assert proxied.returncode == direct.returncode != 0
    assert proxied.stderr == direct.stderr
    traced.settle()
    statuses = [r["status"] for r in traced.of("http.response", endpoint="/images/create")]
    assert 404 in statuses or traced.of("stream.error")


def test_legacy_build(traced: Traced, demo_image: str) -> None:
    context = tempfile.mkdtemp(prefix="dockertrace-build-")
    tag = f"dockertrace/proxy-build:{uuid.uuid4().hex[:8]}"
    try:
        with open(os.path.join(context, "Dockerfile"), "w") as f:
            f.write(f"FROM {demo_image}\nRUN echo built-through-the-proxy > /proof\n")
        env = dict(traced.env(), DOCKER_BUILDKIT="0")
        out = subprocess.run(
            ["docker", "build", "--no-cache", "-t", tag, context],
            env=env,
            capture_output=True,
            timeout=180,
        )
        assert out.returncode == 0, out.stderr
        assert b"Successfully tagged " + tag.encode() in out.stdout
        check = docker(["run", "--rm", tag, "cat", "/proof"])
        assert check.stdout == b"built-through-the-proxy\n"
        traced.settle()
        builds = traced.of("http.response", endpoint="/build", status=200)
        assert builds and builds[-1]["streaming"] is True
        request = traced.of("http.request", endpoint="/build")[-1]
        assert request["body_size"] > 0  # the build context, forwarded as it came
    finally:
        docker(["rmi", "-f", tag])
        shutil.rmtree(context, ignore_errors=True)
