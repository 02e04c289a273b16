"""What the engine's paths say: a cgroup path's container, an overlay's layers in its options."""

from __future__ import annotations

import re
from dataclasses import dataclass

# /docker/ID (v1, cgroupfs), /system.slice/docker-ID.scope (systemd), /moby/ID (containerd's
# default parent), .../cri-containerd-ID.scope, /machine.slice/libpod-ID.scope
CGROUP_PART = re.compile(r"^(?:[a-z][a-z-]*-)?(?P<id>[0-9a-f]{64})(?:\.scope)?$")
ENGINE_DIR_PART = re.compile(r"^[0-9a-f]{64}$")


def container_id_of_cgroup(path: str) -> str | None:
    """The container id a cgroup path names (its deepest part that is one), or None."""
    for part in reversed(path.split("/")):
        m = CGROUP_PART.match(part)
        if m:
            return m["id"]
    return None


def container_id_of_path(path: str) -> str | None:
    """The container id in an engine path: /var/lib/docker/containers/ID/config.v2.json,
    /var/run/docker/containerd/ID/init-stdout, a bundle under .../moby/ID."""
    for part in path.split("/"):
        if ENGINE_DIR_PART.match(part):
            return part
    return None


@dataclass(frozen=True)
class OverlayLayers:
    """An overlay mount's layers, from its option string."""

    lower: tuple[str, ...]  # read-only, top first: the image's layers (and docker's init layer)
    upper: str | None  # the container's own writable layer
    work: str | None  # overlayfs's scratch directory beside it

    @property
    def count(self) -> int:
        return len(self.lower) + (1 if self.upper else 0)


def _split(value: str, sep: str) -> list[str]:
    """Split on `sep` except where escaped with a backslash (overlayfs's own quoting)."""
    parts = re.split(rf"(?<!\\){re.escape(sep)}", value)
    return [p.replace("\\" + sep, sep) for p in parts]


def overlay_layers(data: str | None) -> OverlayLayers | None:
    """lowerdir=A:B,upperdir=U,workdir=W -> its layers; None where it is not an overlay's."""
    if not data:
        return None
    options: dict[str, str] = {}
    for item in _split(data, ","):
        key, eq, value = item.partition("=")
        if eq:
            options[key.strip()] = value
    if "lowerdir" not in options:
        return None
    lower = tuple(p for p in _split(options["lowerdir"], ":") if p)
    return OverlayLayers(lower, options.get("upperdir"), options.get("workdir"))
