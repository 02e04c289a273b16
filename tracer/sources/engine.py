"""This machine's container engine: each layer's binary, version, and the package it came from."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import psutil

# A command's stdout when it exited 0, else None: the one seam to the machine (tests pass a dict).
Runner = Callable[[list[str]], "str | None"]

# Each layer's binary and the flag that prints its version.
LAYERS: tuple[tuple[str, str], ...] = (
    ("docker", "--version"),
    ("dockerd", "--version"),
    ("containerd", "--version"),
    ("containerd-shim-runc-v2", "-v"),
    ("runc", "--version"),
)
# The engine the chain has been checked against on live runs (the bundled recordings): Debian
# 12's docker.io 20.10, containerd 1.6 and runc 1.1, as major.minor.
CHECKED = {"dockerd": "20.10", "containerd": "1.6", "containerd-shim-runc-v2": "1.6", "runc": "1.1"}
ORIGINS = (
    ("debian.org", "Debian"),
    ("ubuntu.com", "Ubuntu"),
    ("docker.com", "Docker"),
    ("containerd.io", "Docker"),
    ("microsoft.com", "Microsoft"),
)
VERSION = re.compile(r"\bv?(\d+\.\d+(?:\.\d+)?)")


def run_command(argv: list[str]) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


@dataclass(frozen=True)
class Layer:
    """One layer's binary: where it is, its version, and who installed it."""

    name: str
    path: str | None
    version: str | None = None
    package: str | None = None
    origin: str | None = None
    pid: int | None = None

    def describe(self) -> str:
        """'containerd 1.6.20 from containerd (Debian) at /usr/bin/containerd', or
        'runc 1.1.5 at /usr/sbin/runc' for a binary no package owns."""
        if self.path is None:
            return f"{self.name}: not here"
        text = f"{self.name} {self.version or '(version unknown)'}"
        if self.package:
            text += f" from {self.package} ({self.origin or 'unknown origin'})"
        text += f" at {self.path}"
        return text + (f", running (pid {self.pid})" if self.pid else "")

    @property
    def minor(self) -> str | None:
        return ".".join(self.version.split(".")[:2]) if self.version else None


def parse_version(text: str | None) -> str | None:
    """The first dotted version in a --version output ('Docker version 20.10.24+dfsg1, ...',
    'containerd github.com/containerd/containerd 1.6.20~ds1 ...', 'containerd ... v2.0.0 ...')."""
    m = VERSION.search(text or "")
    return m.group(1) if m else None


def origin_of(maintainer: str) -> str:
    for needle, origin in ORIGINS:
        if needle in maintainer:
            return origin
    return maintainer.split("<")[0].strip() or "unknown maintainer"


def owner(path: str, run: Runner) -> tuple[str | None, str | None]:
    """The package that ships PATH (as given or resolved: /bin is /usr/bin on usrmerge) and its
    origin, from dpkg's database."""
    for candidate in dict.fromkeys([path, os.path.realpath(path)]):
        out = run(["dpkg-query", "-S", candidate])
        lines = [ln for ln in (out or "").splitlines() if ln and not ln.startswith("diversion")]
        if lines:
            package = lines[0].split(":")[0]
            maintainer = run(["dpkg-query", "-W", "-f", "${Maintainer}", package]) or ""
            return package, origin_of(maintainer)
    return None, None


def running_daemons() -> dict[str, tuple[int, str]]:
    """name -> (pid, binary) for the engine's daemons that run here."""
    found: dict[str, tuple[int, str]] = {}
    for p in psutil.process_iter(["pid", "name", "exe"]):
        if p.info["name"] in ("dockerd", "containerd") and p.info["exe"]:
            found.setdefault(p.info["name"], (p.info["pid"], p.info["exe"]))
    return found


def find_layers(
    run: Runner = run_command,
    which: Callable[[str], str | None] = shutil.which,
    running: Mapping[str, tuple[int, str]] | None = None,
) -> list[Layer]:
    """Each layer's binary: a running daemon's own, else the one on PATH."""
    running = running_daemons() if running is None else running
    layers = []
    for name, flag in LAYERS:
        pid, path = running.get(name, (None, None))
        path = path or which(name)
        if path is None:
            layers.append(Layer(name, None))
            continue
        package, origin = owner(path, run)
        version = parse_version(run([path, flag]))
        layers.append(Layer(name, path, version, package, origin, pid))
    return layers


def engine_name(layers: list[Layer]) -> str:
    """Whose engine this is, by the package of its daemon (dockerd, else containerd)."""
    by_name = {layer.name: layer for layer in layers}
    for name in ("dockerd", "containerd"):
        layer = by_name.get(name)
        if layer and layer.path:
            if layer.package:
                return f"{layer.origin}'s engine ({layer.package})"
            return f"an engine not from a package ({layer.path})"
    return "no engine"


def unchecked(layers: list[Layer]) -> list[str]:
    """The layers whose version the chain has not been checked against on a live run."""
    out = []
    for layer in layers:
        checked = CHECKED.get(layer.name)
        if checked and layer.path and layer.minor != checked:
            out.append(f"{layer.name} {layer.version or '(version unknown)'} (checked: {checked})")
    return out
