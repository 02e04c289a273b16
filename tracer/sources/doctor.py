"""The machine checks behind `dockertrace doctor`: each layer, what was found, how to fix it."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
import psutil

from tracer.endpoint import (
    CONTAINERD_SOCKET,
    Endpoint,
    current_endpoint,
    daemon_client,
    inspect_socket_file,
    try_connect,
)
from tracer.proxy import relay
from tracer.sources import engine

CAP_PERFMON = 38
CAP_BPF = 39


@dataclass
class Check:
    """One layer's verdict."""

    name: str
    ok: bool
    found: str
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    warning: str = ""


@dataclass
class Report:
    """Every layer's verdict, in the order a `docker run` goes through them (tracer.sources.picker
    says from it whether live tracing can run)."""

    checks: list[Check]

    def get(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)


def _run_version(argv: list[str]) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text and out.returncode == 0 else None


def check_cli() -> Check:
    path = shutil.which("docker")
    if not path:
        return Check(
            "docker CLI",
            False,
            "no `docker` on PATH",
            "install the docker CLI (apt-get install docker.io); "
            "dockertrace can still talk to the API itself with httpx",
        )
    version = _run_version([path, "--version"]) or "version unknown"
    return Check("docker CLI", True, f"{path}: {version}", data={"path": path})


def check_endpoint(ep: Endpoint) -> Check:
    ok = ep.url.startswith(("unix://", "tcp://", "ssh://"))
    return Check(
        "endpoint",
        ok,
        f"{ep.url} (from {ep.origin})",
        "" if ok else "DOCKER_HOST must be unix://PATH or tcp://HOST:PORT",
        data={"url": ep.url, "origin": ep.origin},
    )


def check_socket(ep: Endpoint) -> Check:
    path = ep.socket_path
    if path is None:
        return Check("socket", True, f"{ep.url} is not a Unix socket (remote daemon)")
    f = inspect_socket_file(path)
    if not f.exists:
        return Check(
            "socket",
            False,
            f.describe(),
            "start dockerd (`bash tracer/setup.sh env` does), or point DOCKER_HOST at its socket",
        )
    if not f.is_socket:
        return Check("socket", False, f.describe(), f"{path} should be a socket dockerd created")
    return Check("socket", True, f.describe(), data=asdict(f))


def check_daemon(ep: Endpoint, timeout: float = 5.0) -> Check:
    """Tell apart: nothing listening, permission denied, HTTP error, and a daemon that answers."""
    path = ep.socket_path
    if path is not None:
        reach, why = try_connect(path, timeout)
        if reach in ("no-socket", "refused", "not-a-socket"):
            return Check(
                "daemon",
                False,
                f"cannot connect: {why}",
                "Cannot connect to the Docker daemon: start dockerd, or check DOCKER_HOST",
                data={"failure": "cannot-connect"},
            )
        if reach == "permission":
            return Check(
                "daemon",
                False,
                f"permission denied: {why}",
                "run as root, or join the socket's group (usermod -aG docker $USER, log in again)",
                data={"failure": "permission-denied"},
            )
        if reach != "ok":
            return Check("daemon", False, why, "", data={"failure": "cannot-connect"})
    elif not ep.url.startswith("tcp://"):
        return Check("daemon", False, f"cannot check {ep.url} from here", "")
    try:
        with daemon_client(ep.url, timeout=timeout) as client:
            ping = client.get("/_ping")
            if ping.status_code != 200:
                return Check(
                    "daemon",
                    False,
                    f"the daemon answered HTTP {ping.status_code} to /_ping: "
                    f"{ping.text.strip()[:120]!r}",
                    "the daemon is there but unwell: see /var/log/dockertrace/dockerd.log",
                    data={"failure": "http-error", "status": ping.status_code},
                )
            version = client.get("/version").json()
    except httpx.HTTPError as e:
        return Check(
            "daemon",
            False,
            f"cannot connect: {e}",
            "Cannot connect to the Docker daemon",
            data={"failure": "cannot-connect"},
        )
    except ValueError:
        return Check("daemon", False, "/version did not return JSON", "", {"failure": "http-error"})
    found = (
        f"Docker Engine {version.get('Version')} (API {version.get('ApiVersion')}, "
        f"min API {version.get('MinAPIVersion')})"
    )
    return Check("daemon", True, found, data={"version": version})


def check_containerd() -> Check:
    f = inspect_socket_file(CONTAINERD_SOCKET)
    version = _run_version(["containerd", "--version"]) if shutil.which("containerd") else None
    if not f.exists:
        return Check(
            "containerd",
            False,
            f"{CONTAINERD_SOCKET}: no such socket; {version or 'containerd not installed'}",
            "start containerd (`bash tracer/setup.sh env` does)",
        )
    reach, why = try_connect(CONTAINERD_SOCKET)
    return Check(
        "containerd",
        reach == "ok",
        f"{f.describe()}; {version or 'version unknown'}",
        "" if reach == "ok" else why,
    )


def check_runc() -> Check:
    path = shutil.which("runc")
    if not path:
        return Check("runc", False, "no `runc` on PATH", "apt-get install runc")
    return Check("runc", True, f"{path}: {_run_version([path, '--version']) or 'version unknown'}")


def check_engine(layers: list[engine.Layer] | None = None) -> Check:
    """Whose engine this is and where each layer's binary comes from (package or path)."""
    layers = engine.find_layers() if layers is None else layers
    data: dict[str, Any] = {"layers": [asdict(layer) for layer in layers]}
    if not any(layer.path for layer in layers):
        return Check(
            "engine",
            False,
            "none here (no docker, dockerd, containerd, containerd-shim-runc-v2 or runc)",
            "`sudo bash tracer/setup.sh env` installs Debian's where there is no engine",
            data,
        )
    lines = [engine.engine_name(layers)] + [layer.describe() for layer in layers]
    odd = engine.unchecked(layers)
    data["unchecked"] = odd
    warning = (
        f"the chain has not been checked against {', '.join(odd)} on a live run: a step it "
        "cannot tell on this engine shows as missing, with the reason"
        if odd
        else ""
    )
    return Check("engine", True, f"\n{'':<14}".join(lines), data=data, warning=warning)


def _effective_caps() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def check_privileges() -> Check:
    if os.geteuid() == 0:
        return Check("privileges", True, "running as root")
    caps = _effective_caps()
    if caps & (1 << CAP_BPF) and caps & (1 << CAP_PERFMON):
        return Check("privileges", True, "CAP_BPF and CAP_PERFMON")
    return Check(
        "privileges",
        False,
        f"uid {os.geteuid()} without CAP_BPF/CAP_PERFMON",
        "run with sudo for live tracing; `dockertrace replay` works without",
    )


BCC_SMOKE = "TRACEPOINT_PROBE(sched, sched_process_exec) { return 0; }"


def check_bcc(load: bool = True) -> Check:
    try:
        import bcc  # optional: whether it imports is the first check
    except ImportError as e:
        return Check(
            "bcc",
            False,
            f"cannot import bcc: {e}",
            "apt-get install python3-bpfcc and use a venv made with --system-site-packages",
        )
    if not load:
        return Check("bcc", True, "imports (not loaded: no privileges)")
    if os.geteuid() != 0 and not check_privileges().ok:
        return Check("bcc", False, "imports, but loading needs privileges", "run with sudo")
    try:
        b = bcc.BPF(text=BCC_SMOKE)
        b.cleanup()
    except Exception as e:  # bcc raises bare Exception on compile/load failures
        return Check(
            "bcc",
            False,
            f"imports, but a tracepoint program does not compile or load: {str(e)[:160]}",
            "kernel headers missing? `bash tracer/setup.sh env` links the distribution's",
        )
    return Check("bcc", True, "a tracepoint program compiles and loads")


def check_tracefs() -> Check:
    for root in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        if os.path.exists(os.path.join(root, "trace_pipe")):
            writable = os.access(os.path.join(root, "instances"), os.W_OK)
            return Check(
                "tracefs",
                writable,
                f"mounted at {root}" + ("" if writable else " (instances not writable)"),
                "" if writable else "run as root",
                data={"root": root},
            )
    return Check(
        "tracefs",
        False,
        "not mounted",
        "mount -t tracefs nodev /sys/kernel/tracing (as root)",
    )


def check_processes() -> Check:
    found: dict[str, list[dict[str, Any]]] = {"dockerd": [], "containerd": []}
    for p in psutil.process_iter(["pid", "name", "create_time", "cmdline"]):
        name = p.info["name"]
        if name in found:
            found[name].append(
                {
                    "pid": p.info["pid"],
                    "create_time": p.info["create_time"],
                    "cmdline": p.info["cmdline"] or [],
                }
            )
    parts = []
    for name, procs in found.items():
        for info in procs:
            parts.append(f"{name} pid {info['pid']}: {' '.join(info['cmdline'])[:80]}")
    missing = [n for n, procs in found.items() if not procs]
    return Check(
        "processes",
        not missing,
        "; ".join(parts) if parts else "neither dockerd nor containerd is running",
        f"not seen: {', '.join(missing)}" if missing else "",
        data=found,
    )


def check_relay() -> Check:
    """Which loop the proxy forwards with: C where the install could build it, else Python."""
    if relay.duplex_in_c():
        return Check("relay", True, "the proxy relays in C (tracer/proxy/_duplex.c)")
    return Check(
        "relay",
        True,
        "the proxy relays in Python (its C loop was not built, or DOCKERTRACE_RELAY=python)",
        warning="`GET /_ping` through the proxy costs ~5 % more than with the C loop: install "
        "gcc and python3-dev, then `.venv/bin/pip install -e .`",
    )


def diagnose(load_bcc: bool = True) -> Report:
    ep = current_endpoint()
    privileged = check_privileges()
    steps: list[Callable[[], Check]] = [
        check_cli,
        lambda: check_endpoint(ep),
        lambda: check_socket(ep),
        lambda: check_daemon(ep),
        check_containerd,
        check_runc,
        check_engine,
        lambda: privileged,
        lambda: check_bcc(load=load_bcc and privileged.ok),
        check_tracefs,
        check_processes,
        check_relay,
    ]
    return Report([step() for step in steps])
