"""Listening on TCP: only with TLS, and only clients with a certificate from the given CA."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.unit.test_proxy_server import listen_dir, upstream, wait_for  # noqa: F401
from tracer.events import Event
from tracer.proxy.server import Proxy, TlsConfig


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path / "pki"
    d.mkdir()
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
        cwd=d,
    )
    for name, ext in (
        ("server", "subjectAltName=IP:127.0.0.1"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={name}",
            cwd=d,
        )
        (d / f"{name}.ext").write_text(ext + "\n")
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.pem",
            "-days",
            "1",
            "-extfile",
            f"{name}.ext",
            cwd=d,
        )
    return d


def _client(pki: Path, with_cert: bool) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    if with_cert:
        ctx.load_cert_chain(str(pki / "client.pem"), str(pki / "client.key"))
    return httpx.Client(verify=ctx)


def test_tls_with_a_client_certificate_is_forwarded_and_recorded(
    pki: Path,
    upstream: str,  # noqa: F811
) -> None:
    events: list[Event] = []
    tls = TlsConfig(str(pki / "server.pem"), str(pki / "server.key"), str(pki / "ca.pem"))
    with Proxy(
        listen="tcp://127.0.0.1:0", upstream=f"unix://{upstream}", sink=events.append, tls=tls
    ) as p:
        assert p.address.startswith("tcp://127.0.0.1:")
        url = p.address.replace("tcp://", "https://")
        with _client(pki, with_cert=True) as c:
            assert c.get(f"{url}/v1.41/info").text == "you asked for /v1.41/info"
        with _client(pki, with_cert=False) as c, pytest.raises(httpx.TransportError):
            c.get(f"{url}/v1.41/info")
        wait_for(lambda: sum(e.kind == "conn.close" for e in events) >= 2)
    responses = [e.detail for e in events if e.kind == "http.response"]
    assert [(r["endpoint"], r["status"]) for r in responses] == [("/info", 200)]
    closes = [e.detail["reason"] for e in events if e.kind == "conn.close"]
    assert any("TLS handshake failed" in r for r in closes)
