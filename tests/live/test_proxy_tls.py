"""The docker CLI over TCP+TLS with a client certificate, through the proxy, to the real daemon."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.unit.test_proxy_tls import pki  # noqa: F401
from tracer.events import Event
from tracer.proxy.server import Proxy, TlsConfig

pytestmark = pytest.mark.live


def test_docker_run_over_tls(pki: Path, docker_daemon: str, demo_image: str) -> None:  # noqa: F811
    events: list[Event] = []
    tls = TlsConfig(str(pki / "server.pem"), str(pki / "server.key"), str(pki / "ca.pem"))
    with Proxy(
        listen="tcp://127.0.0.1:0", upstream=f"unix://{docker_daemon}", tls=tls, sink=events.append
    ) as p:
        flags = [
            "--tlsverify",
            f"--tlscacert={pki}/ca.pem",
            f"--tlscert={pki}/client.pem",
            f"--tlskey={pki}/client.key",
            "-H",
            p.address,
        ]
        r = subprocess.run(
            [
                "docker",
                *flags,
                "run",
                "--rm",
                "-i",
                demo_image,
                "sh",
                "-c",
                "cat; echo err >&2; exit 2",
            ],
            input=b"over-tls\n",
            capture_output=True,
            timeout=60,
        )
        no_cert = subprocess.run(
            ["docker", "--tls", f"--tlscacert={pki}/ca.pem", "-H", p.address, "version"],
            capture_output=True,
            timeout=60,
        )
    assert (r.returncode, r.stdout, r.stderr) == (2, b"over-tls\n", b"err\n")
    assert no_cert.returncode != 0
    assert any(e.kind == "http.upgrade" for e in events)
