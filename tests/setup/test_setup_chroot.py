"""tracer/setup.sh in a Debian chroot: it keeps an engine that is there (stand-ins carrying
docker-ce's, docker-ce-cli's and containerd.io's names and relationships), stops before apt
would remove anything, and `setup.sh remove` leaves the packages as they were."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import need
from tests.setup import standins
from tests.setup.chroot import Chroot, arch, chroot, need_tools

DEBIAN_ENGINE = ("docker.io", "containerd", "runc")


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Chroot]:
    missing = need_tools()
    need(not missing, f"the set-up tests need: {', '.join(missing)}")
    with chroot(tmp_path) as c:
        yield c


@pytest.fixture
def docker_ce(tmp_path: Path) -> list[Path]:
    out = tmp_path / "debs"
    out.mkdir()
    return [standins.build(p, out, arch()) for p in standins.DOCKER_CE]


def test_keeps_docker_ce_and_installs_no_debian_engine(box: Chroot, docker_ce: list[Path]) -> None:
    box.install_debs(docker_ce)
    # What the issue saw: Debian's engine in one plan removes all three of Docker's packages.
    apt_sh = "/opt/dockertrace/tracer/setup/apt.sh"
    plan = box.run("bash", "-c", f". {apt_sh}; plan_removals docker.io containerd runc")
    assert plan.stdout.split() == ["containerd.io", "docker-ce", "docker-ce-cli"]

    r = box.setup("env")
    assert r.returncode == 0, r.stderr
    assert "engine: found Docker's engine: docker-ce 5:28.1.1-1~debian.12~bookworm" in r.stderr
    assert "runc                     /usr/bin/runc from containerd.io 1.7.27-1" in r.stderr
    assert "in a chroot" in r.stderr
    for name in ("docker-ce", "docker-ce-cli", "containerd.io", "socat"):
        assert box.installed(name), f"{name} not installed after set-up:\n{r.stderr}"
    for name in DEBIAN_ENGINE:
        assert not box.installed(name), f"set-up installed Debian's {name}:\n{r.stderr}"

    before = box.packages()
    again = box.setup("env")
    assert again.returncode == 0, again.stderr
    assert "packages: all present" in again.stderr
    assert box.packages() == before


def test_a_plan_that_removes_a_package_changes_nothing(box: Chroot) -> None:
    # busybox-static Conflicts with and Replaces Debian's busybox: apt would remove busybox.
    box.run("apt-get", "-qq", "install", "-y", "--no-install-recommends", "busybox")
    before = box.packages()
    r = box.setup("env", packages="busybox-static socat")
    assert r.returncode == 3, r.stderr
    assert "would make apt remove or replace: busybox" in r.stderr
    assert "busybox-static: apt would remove busybox" in r.stderr
    assert "nothing was installed, removed or changed" in r.stderr
    assert "DOCKERTRACE_SKIP_PACKAGES='busybox-static'" in r.stderr
    assert box.packages() == before
    assert not (box.root / "var/lib/dockertrace").exists()


def test_remove_after_a_fresh_setup_leaves_the_packages_as_before(box: Chroot) -> None:
    before = box.packages()
    r = box.setup("env")
    assert r.returncode == 0, r.stderr
    assert "engine: none here" in r.stderr
    for name in (*DEBIAN_ENGINE, "socat"):
        assert box.installed(name), f"{name} not installed on a machine without an engine"
    recorded = (box.root / "var/lib/dockertrace/installed-packages").read_text().split()
    assert set(DEBIAN_ENGINE) <= set(recorded)

    gone = box.setup("remove")
    assert gone.returncode == 0, gone.stderr
    assert "purging what set-up installed" in gone.stderr
    assert box.packages() == before
    assert not (box.root / "var/lib/dockertrace").exists()

    again = box.setup("remove")
    assert again.returncode == 0, again.stderr
    assert "nothing to remove" in again.stderr


def test_a_docker_cli_alone_gets_debians_engine_beside_it(box: Chroot) -> None:
    """A static docker CLI in /usr/local/bin and nothing else (as CI images and Docker's own
    downloads leave it): that is no engine, so Debian's goes in beside it; the CLI is untouched,
    still first on PATH, and `remove` takes away only what set-up installed."""
    cli = box.root / "usr/local/bin/docker"
    cli.write_text("#!/bin/sh\necho 'Docker version 28.1.1, build 4eba377'\n")
    cli.chmod(0o755)
    before = box.packages()
    r = box.setup("env")
    assert r.returncode == 0, r.stderr
    assert "engine: only a docker CLI here (/usr/local/bin/docker (not from a package))" in r.stderr
    for name in DEBIAN_ENGINE:
        assert box.installed(name), f"{name} not installed beside a lone CLI:\n{r.stderr}"
    assert box.run("sh", "-c", "command -v docker").stdout.strip() == "/usr/local/bin/docker"
    assert "Docker version 28.1.1" in cli.read_text()

    again = box.setup("env")
    assert again.returncode == 0, again.stderr
    assert "engine: found Debian's engine: docker.io" in again.stderr
    assert "packages: all present" in again.stderr

    gone = box.setup("remove")
    assert gone.returncode == 0, gone.stderr
    assert box.packages() == before
    assert "Docker version 28.1.1" in cli.read_text()


def test_a_docker_cli_pointed_elsewhere_gets_no_engine(box: Chroot) -> None:
    """The same lone CLI with DOCKER_HOST set is someone's way to an engine elsewhere: set-up
    installs no engine over it."""
    cli = box.root / "usr/local/bin/docker"
    cli.write_text("#!/bin/sh\necho 'Docker version 28.1.1, build 4eba377'\n")
    cli.chmod(0o755)
    env = {"DOCKERTRACE_PACKAGES": "socat", "DOCKER_HOST": "ssh://teacher@lab"}
    r = box.run("bash", "/opt/dockertrace/tracer/setup.sh", "env", env=env, check=False)
    assert r.returncode == 0, r.stderr
    assert "engine: found binaries not from a package" in r.stderr
    for name in DEBIAN_ENGINE:
        assert not box.installed(name), f"set-up installed Debian's {name}:\n{r.stderr}"


def test_no_registry_names_what_cannot_be_had_and_goes_on(box: Chroot) -> None:
    """apt's lists gone and the mirror unreachable (a classroom offline): set-up names the
    packages it cannot get and finishes; nothing is installed."""
    (box.root / "etc/apt/sources.list").write_text("deb http://127.0.0.1:9/debian bookworm main\n")
    for lists in (box.root / "var/lib/apt/lists").glob("*_Packages"):
        lists.unlink()
    before = box.packages()
    r = box.setup("env")
    assert r.returncode == 0, r.stderr
    assert "apt-get update failed" in r.stderr
    assert "cannot be had here" in r.stderr and "docker.io" in r.stderr and "socat" in r.stderr
    assert box.packages() == before
