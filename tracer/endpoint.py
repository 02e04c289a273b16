"""Which Docker endpoint is in effect (DOCKER_HOST, the current context) and how it answers."""

from __future__ import annotations

import errno
import grp
import hashlib
import json
import os
import pwd
import socket
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import httpx

DEFAULT_SOCKET = "/var/run/docker.sock"
CONTAINERD_SOCKET = "/run/containerd/containerd.sock"


@dataclass(frozen=True)
class Endpoint:
    """A daemon address and where the choice came from."""

    url: str  # unix:///path or tcp://host:port
    origin: str  # "DOCKER_HOST", "context NAME", "default"

    @property
    def socket_path(self) -> str | None:
        return self.url.removeprefix("unix://") if self.url.startswith("unix://") else None


def docker_config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def current_endpoint(environ: dict[str, str] | None = None) -> Endpoint:
    """The endpoint the docker CLI would use: DOCKER_HOST, else DOCKER_CONTEXT or the config's
    currentContext, else the default socket."""
    env = os.environ if environ is None else environ
    if env.get("DOCKER_HOST"):
        return Endpoint(env["DOCKER_HOST"], "DOCKER_HOST")
    context = env.get("DOCKER_CONTEXT")
    if not context:
        try:
            config = json.loads((docker_config_dir() / "config.json").read_text())
            context = config.get("currentContext")
        except (OSError, ValueError, AttributeError):
            context = None
    if context and context != "default":
        digest = hashlib.sha256(context.encode()).hexdigest()
        meta = docker_config_dir() / "contexts" / "meta" / digest / "meta.json"
        try:
            host = json.loads(meta.read_text())["Endpoints"]["docker"]["Host"]
            return Endpoint(host, f"context {context}")
        except (OSError, ValueError, KeyError, TypeError):
            return Endpoint(f"unix://{DEFAULT_SOCKET}", f"context {context} (unreadable; default)")
    return Endpoint(f"unix://{DEFAULT_SOCKET}", "default")


@dataclass(frozen=True)
class SocketFile:
    """A socket file as `ls -la` shows it."""

    path: str
    exists: bool
    is_socket: bool = False
    mode: str = ""  # e.g. srw-rw----
    owner: str = ""
    group: str = ""

    def describe(self) -> str:
        if not self.exists:
            return f"{self.path}: no such file"
        kind = "" if self.is_socket else " (not a socket!)"
        return f"{self.mode} {self.owner} {self.group} {self.path}{kind}"


def inspect_socket_file(path: str) -> SocketFile:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return SocketFile(path, exists=False)
    except OSError:
        return SocketFile(path, exists=True, mode="?")
    try:
        owner = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        owner = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return SocketFile(
        path,
        exists=True,
        is_socket=stat.S_ISSOCK(st.st_mode),
        mode=stat.filemode(st.st_mode),
        owner=owner,
        group=group,
    )


Reachability = Literal["ok", "no-socket", "refused", "permission", "not-a-socket", "error"]


def try_connect(path: str, timeout: float = 2.0) -> tuple[Reachability, str]:
    """Connect to a Unix socket and tell apart the failures the article teaches: nothing there,
    nobody listening ("cannot connect"), and permission denied."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
    except FileNotFoundError:
        return "no-socket", f"{path} does not exist"
    except ConnectionRefusedError:
        return "refused", f"nobody is listening on {path} (connection refused)"
    except PermissionError:
        return "permission", f"permission denied opening {path}"
    except OSError as e:
        if e.errno == errno.ENOTSOCK or e.errno == errno.ECONNREFUSED:
            return "not-a-socket", f"{path} is not a socket anyone listens on ({e.strerror})"
        return "error", f"{path}: {e.strerror or e}"
    finally:
        s.close()
    return "ok", f"connected to {path}"


def daemon_client(url: str, timeout: float | None) -> httpx.Client:
    """An httpx client for a daemon at unix:///path or tcp://host:port, over plain HTTP.

    No TLS is spoken on either, so none is set up: httpx would otherwise load the system's CA
    bundle for every client, 0.1 s each, a good part of a `dockertrace run`."""
    import httpx  # lazy: the proxy imports this module for its upstream, never needing httpx

    if url.startswith("unix://"):
        transport = httpx.HTTPTransport(uds=url.removeprefix("unix://"), verify=False)
        base = "http://docker"
    elif url.startswith("tcp://"):
        transport = httpx.HTTPTransport(verify=False)
        base = "http://" + url.removeprefix("tcp://")
    else:
        raise ValueError(f"not a daemon address: {url!r} (unix:///path or tcp://host:port)")
    return httpx.Client(transport=transport, base_url=base, timeout=timeout, verify=False)
