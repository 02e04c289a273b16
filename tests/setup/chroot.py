"""A throw-away Debian chroot for running tracer/setup.sh: a cached debootstrap base, copied per
test, with /proc and an apt archive cache mounted and everything unmounted afterwards."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CACHE = Path("/var/cache/dockertrace")
MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
REPO = Path(__file__).resolve().parents[2]
# Daemons must never start in a test chroot: invoke-rc.d asks this and gets "forbidden".
POLICY_RC = "#!/bin/sh\nexit 101\n"


def arch() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def base() -> Path:
    """The minbase chroot of today (made with debootstrap, ~30 s, once a day per architecture);
    older ones are deleted."""
    CACHE.mkdir(parents=True, exist_ok=True)
    key = f"{SUITE}-minbase-{arch()}-{time.strftime('%Y%m%d')}"
    done = CACHE / key
    with open(CACHE / "chroot.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.is_dir():
            return done
        for old in CACHE.glob(f"{SUITE}-minbase-*"):
            shutil.rmtree(old, ignore_errors=True)
        work = CACHE / f"{key}.partial"
        shutil.rmtree(work, ignore_errors=True)
        r = subprocess.run(
            ["debootstrap", "--variant=minbase", SUITE, str(work), MIRROR],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if r.returncode != 0:
            shutil.rmtree(work, ignore_errors=True)
            raise RuntimeError(f"debootstrap failed: {r.stdout[-2000:]}{r.stderr[-2000:]}")
        (work / "usr/sbin/policy-rc.d").write_text(POLICY_RC)
        (work / "usr/sbin/policy-rc.d").chmod(0o755)
        work.rename(done)
        return done


def mounts_under(root: Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    prefix = str(root).rstrip("/") + "/"
    return [p for p in points if p.startswith(prefix)]


class Chroot:
    """A copy of the base, with tracer/setup.sh and tracer/setup/ copied in at /opt/dockertrace."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def run(
        self, *argv: str, env: dict[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        clean = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
        clean.update({"LC_ALL": "C", "HOME": "/root"})
        clean.update(env or {})
        r = subprocess.run(
            ["chroot", str(self.root), *argv],
            capture_output=True,
            text=True,
            env=clean,
            timeout=240,
        )
        if check and r.returncode != 0:
            raise AssertionError(f"{argv} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
        return r

    def setup(self, *args: str, packages: str = "socat") -> subprocess.CompletedProcess[str]:
        """tracer/setup.sh in the chroot, with a small tool list (the engine handling is the same
        whatever the list; the full one takes ~35 s more to unpack)."""
        env = {"DOCKERTRACE_PACKAGES": packages}
        return self.run("bash", "/opt/dockertrace/tracer/setup.sh", *args, env=env, check=False)

    def packages(self) -> list[str]:
        """dpkg's whole list: status, name, version."""
        fmt = "${db:Status-Abbrev} ${Package} ${Version}\n"
        return sorted(self.run("dpkg-query", "-W", "-f", fmt).stdout.splitlines())

    def installed(self, name: str) -> bool:
        r = self.run("dpkg-query", "-W", "-f", "${db:Status-Abbrev}", name, check=False)
        return r.stdout.startswith("ii")

    def install_debs(self, debs: list[Path]) -> None:
        inside = self.root / "tmp" / "standins"
        inside.mkdir(parents=True, exist_ok=True)
        for deb in debs:
            shutil.copy(deb, inside / deb.name)
        self.run("dpkg", "-i", *(f"/tmp/standins/{d.name}" for d in debs))


@contextmanager
def chroot(tmp: Path) -> Iterator[Chroot]:
    """A fresh copy of the base under TMP; on the way out (failure or not) everything mounted in
    it is unmounted before the copy is deleted, and a copy with a mount left is never deleted."""
    root = tmp / "root"
    # One chroot at a time on this machine: they share the archive cache (apt in one would find
    # the other's lock on it and fail at once), and a new day's base deletes the old one.
    CACHE.mkdir(parents=True, exist_ok=True)
    lock = open(CACHE / "apt-archives.lock", "w")  # noqa: SIM115 (held until the end)
    fcntl.flock(lock, fcntl.LOCK_EX)
    subprocess.run(["cp", "-a", str(base()), str(root)], check=True)
    archives = CACHE / "apt-archives"
    (archives / "partial").mkdir(parents=True, exist_ok=True)
    dest = root / "opt/dockertrace/tracer"
    dest.mkdir(parents=True)
    shutil.copy(REPO / "tracer/setup.sh", dest / "setup.sh")
    shutil.copytree(REPO / "tracer/setup", dest / "setup")
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    try:
        subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
        subprocess.run(
            ["mount", "--bind", str(archives), str(root / "var/cache/apt/archives")], check=True
        )
        yield Chroot(root)
    finally:
        for point in reversed(mounts_under(root)):
            if subprocess.run(["umount", point], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", point], capture_output=True)
        left = mounts_under(root)
        if not left:
            shutil.rmtree(root, ignore_errors=True)
        lock.close()
        assert not left, f"still mounted after the test: {left}"


def need_tools() -> list[str]:
    """What the chroot tests need on the host and do not have."""
    missing = [t for t in ("debootstrap", "dpkg-deb", "chroot", "mount") if not shutil.which(t)]
    if os.geteuid() != 0:
        missing.append("root")
    return missing
