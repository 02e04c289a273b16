"""The demo images: alpine where it is here (the article's image), else the offline busybox one."""

from __future__ import annotations

import contextlib
import subprocess

import httpx

from tracer.endpoint import daemon_client

DEMO_IMAGES = ("alpine:latest", "dockertrace/busybox:latest")


def demo_image(upstream: str | None = None) -> str:
    """alpine where it is here (the article's image), else the offline busybox image; asked of
    the daemon at `upstream` (one API call), or else of the one the docker CLI uses."""
    if upstream is not None:
        with contextlib.suppress(httpx.HTTPError, ValueError), daemon_client(upstream, 3) as c:
            for image in DEMO_IMAGES:
                if c.get(f"/images/{image}/json").status_code == 200:
                    return image.removesuffix(":latest")
        return "alpine"
    for image in DEMO_IMAGES:
        r = subprocess.run(["docker", "image", "inspect", image], capture_output=True)
        if r.returncode == 0:
            return image.removesuffix(":latest")
    return "alpine"


def default_command(image: str) -> list[str]:
    """`docker run --rm IMAGE echo hi`, IMAGE the demo image the session found."""
    for candidate in DEMO_IMAGES:
        if candidate.removesuffix(":latest") == image and candidate.startswith("dockertrace/"):
            image = candidate
    return ["run", "--rm", image, "echo", "hi"]
