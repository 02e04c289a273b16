"""Stand-in .deb packages that carry Docker's engine packages' names and relationships."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

# A stand-in daemon refuses to run: nothing in a test chroot may start a real engine.
DAEMON = '#!/bin/sh\necho "stand-in {name}: not a daemon (dockertrace set-up test)" >&2\nexit 1\n'
VERSIONED = '#!/bin/sh\necho "{name} version {version} (stand-in)"\n'


@dataclass(frozen=True)
class Standin:
    """One package: its control fields (Conflicts, Replaces, Provides copied from the real
    package's control file) and the binaries it ships."""

    name: str
    version: str
    maintainer: str
    relations: dict[str, str]
    daemons: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()

    def control(self, arch: str) -> str:
        fields = {
            "Package": self.name,
            "Version": self.version,
            "Architecture": arch,
            "Maintainer": self.maintainer,
            **self.relations,
            "Description": f"stand-in for {self.name} (dockertrace set-up test, no real engine)",
        }
        return "".join(f"{k}: {v}\n" for k, v in fields.items())


# From docker/docker-ce-packaging deb/common/control and containerd.io's published control
# (Conflicts/Replaces/Provides: containerd, runc). Depends on packages outside the engine
# (iptables, nftables, libc6) are left out: they play no part in the conflict, and minbase lacks
# some of them.
DOCKER_CE = (
    Standin(
        "docker-ce",
        "5:28.1.1-1~debian.12~bookworm",
        "Docker <support@docker.com>",
        {
            "Depends": "containerd.io (>= 1.7.27), docker-ce-cli",
            "Conflicts": "docker (<< 1.5~), docker-engine, docker.io",
            "Replaces": "docker-engine, docker-ce-cli (<< 5:28.0.0)",
        },
        daemons=("dockerd",),
    ),
    Standin(
        "docker-ce-cli",
        "5:28.1.1-1~debian.12~bookworm",
        "Docker <support@docker.com>",
        {
            "Conflicts": "docker (<< 1.5~), docker-engine, docker.io",
            "Replaces": "docker-ce (<< 5:0)",
            "Breaks": "docker-ce (<< 5:0)",
        },
        tools=("docker",),
    ),
    Standin(
        "containerd.io",
        "1.7.27-1",
        "Containerd team <help@containerd.io>",
        {
            "Conflicts": "containerd, runc",
            "Replaces": "containerd, runc",
            "Provides": "containerd, runc",
        },
        daemons=("containerd",),
        tools=("containerd-shim-runc-v2", "runc"),
    ),
)


def build(pkg: Standin, out: Path, arch: str) -> Path:
    """Builds PKG's .deb in OUT with dpkg-deb; its binaries go in /usr/bin."""
    tree = out / pkg.name
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(pkg.control(arch))
    bindir = tree / "usr" / "bin"
    bindir.mkdir(parents=True)
    version = pkg.version.split(":")[-1].split("-")[0]
    for name in pkg.daemons + pkg.tools:
        text = DAEMON if name in pkg.daemons else VERSIONED
        (bindir / name).write_text(text.format(name=name, version=version))
        (bindir / name).chmod(0o755)
    deb = out / f"{pkg.name}.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-b", str(tree), str(deb)],
        check=True,
        capture_output=True,
    )
    return deb
