"""Where the proxy listens, safely: a root-only directory, docker.sock's mode and group, no
live socket replaced, TCP only with TLS and verified client certificates."""

from __future__ import annotations

import contextlib
import grp
import os
import socket
import ssl
import stat
from dataclasses import dataclass
from urllib.parse import urlsplit

from tracer.endpoint import try_connect


class ProxyError(RuntimeError):
    """The proxy cannot start; the message says why and what to do."""


@dataclass(frozen=True)
class TlsConfig:
    """Server certificate and key, and the CA that client certificates must be signed by."""

    cert: str
    key: str
    ca: str

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert, self.key)
        ctx.load_verify_locations(self.ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx


def parse_address(url: str) -> tuple[socket.AddressFamily, str | tuple[str, int]]:
    """unix:///path or tcp://host:port (the forms DOCKER_HOST takes) as a socket address."""
    if url.startswith("unix://"):
        return socket.AF_UNIX, url.removeprefix("unix://")
    if url.startswith("tcp://"):
        parts = urlsplit(url)
        if not parts.hostname or parts.port is None:
            raise ProxyError(f"{url}: expected tcp://HOST:PORT")
        family = socket.AF_INET6 if ":" in parts.hostname else socket.AF_INET
        return family, (parts.hostname, parts.port)
    raise ProxyError(f"{url}: only unix:///path and tcp://HOST:PORT are supported")


def bind_listener(url: str, tls: TlsConfig | None) -> tuple[socket.socket, str | None, str]:
    """(listening socket, socket file to remove at exit, URL for DOCKER_HOST)."""
    family, addr = parse_address(url)
    if family != socket.AF_UNIX:
        if tls is None:
            raise ProxyError(
                f"refusing to listen on {url} without TLS: anyone who can reach the port would "
                "control the Docker daemon; give --tls-cert, --tls-key and --tls-ca"
            )
        tls.server_context()  # fail now, with ssl's message, if the files are wrong
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as e:
            sock.close()
            raise ProxyError(f"cannot listen on {url}: {e.strerror or e}") from e
        sock.listen(128)
        host, port = sock.getsockname()[:2]
        return sock, None, f"tcp://{host}:{port}"
    assert isinstance(addr, str)
    path = os.path.abspath(addr)
    _prepare_directory(os.path.dirname(path))
    _remove_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # no window in which others may connect
    try:
        sock.bind(path)
    except OSError as e:
        sock.close()
        raise ProxyError(f"cannot listen on {path}: {e.strerror or e}") from e
    finally:
        os.umask(old)
    _like_docker_sock(path)
    sock.listen(128)
    return sock, path, f"unix://{path}"


def _prepare_directory(directory: str) -> None:
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
    except OSError as e:
        raise ProxyError(f"cannot create {directory}: {e.strerror or e}") from e
    st = os.stat(directory)
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ProxyError(
            f"{directory} is writable by others ({stat.filemode(st.st_mode)}): someone could "
            "replace the socket; use a directory only its owner can write"
        )
    if st.st_uid not in (0, os.geteuid()):
        raise ProxyError(f"{directory} belongs to uid {st.st_uid}, not to root or to you")


def _remove_stale(path: str) -> None:
    """Remove a socket nobody listens on; never one that answers, never a non-socket."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise ProxyError(f"{path} exists and is not a socket; not touching it")
    state, _ = try_connect(path, timeout=1.0)
    if state == "ok":
        raise ProxyError(f"{path} already has a live listener (another proxy?); not replacing it")
    os.unlink(path)


def _like_docker_sock(path: str) -> None:
    """Mode 0660 and group docker where it exists, like /var/run/docker.sock."""
    try:
        gid = grp.getgrnam("docker").gr_gid
    except KeyError:
        gid = -1
    if gid >= 0:
        with contextlib.suppress(PermissionError):
            os.chown(path, -1, gid)
    os.chmod(path, 0o660)
