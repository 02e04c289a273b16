"""A private Docker engine for fault tests: its own containerd and dockerd, killed at will.

The shared engine serves every other test, so the faults (dockerd killed, containerd restarted)
happen here instead: a containerd on /run/dt-test/containerd.sock with its own root, state and
ttrpc address, and a dockerd on /run/dt-test/docker.sock with its own data root, exec root,
bridge (dttest0) and no iptables. Never `--bridge=none`: a dockerd started so deletes the
host's docker0, the shared engine's bridge (libnetwork's removeDefaultBridgeInterface). The
demo image is copied in with `docker save | docker load`. Teardown removes containers, stops
both daemons and their shims, deletes the bridge, unmounts and deletes the directories.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import need
from tracer.endpoint import try_connect

RUN = Path("/run/dt-test")
LIB = Path("/var/lib/dt-test")
CONTAINERD_SOCK = RUN / "containerd.sock"
DOCKER_SOCK = RUN / "docker.sock"
TEST_LABEL = "dockertrace.test"
BRIDGE = "dttest0"
BRIDGE_CIDR = "172.31.254.1/24"
CONTAINERD_CONFIG = f"""version = 2
root = "{LIB}/containerd"
state = "{RUN}/containerd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{CONTAINERD_SOCK}"
[ttrpc]
  address = "{CONTAINERD_SOCK}.ttrpc"
[debug]
  address = "{RUN}/containerd-debug.sock"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{LIB}/opt"
"""


class PrivateEngine:
    """Start, kill and restart a private containerd + dockerd pair."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.containerd: subprocess.Popen[bytes] | None = None
        self.dockerd: subprocess.Popen[bytes] | None = None
        self.url = f"unix://{DOCKER_SOCK}"

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ, DOCKER_HOST=self.url)
        env.pop("DOCKER_CONTEXT", None)
        return env

    def docker(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout)  # fmt: skip

    def start_containerd(self) -> None:
        config = RUN / "containerd.toml"
        config.write_text(CONTAINERD_CONFIG)
        log = open(self.logs / "containerd.log", "ab")  # noqa: SIM115
        self.containerd = subprocess.Popen(
            ["containerd", "--config", str(config), "--address", str(CONTAINERD_SOCK),
             "--root", str(LIB / "containerd"), "--state", str(RUN / "containerd-state")],
            stdout=log, stderr=log,
        )  # fmt: skip
        _wait(lambda: try_connect(str(CONTAINERD_SOCK))[0] == "ok", "containerd", self.containerd)

    def start_dockerd(self) -> None:
        daemon_json = RUN / "daemon.json"
        daemon_json.write_text("{}")
        log = open(self.logs / "dockerd.log", "ab")  # noqa: SIM115
        self.dockerd = subprocess.Popen(
            ["dockerd", f"--containerd={CONTAINERD_SOCK}", "-H", self.url,
             "--data-root", str(LIB / "docker"), "--exec-root", str(RUN / "exec"),
             "--pidfile", str(RUN / "docker.pid"), "--config-file", str(daemon_json),
             f"--bridge={BRIDGE}", "--iptables=false", "--ip6tables=false", "--ip-forward=false",
             "--ip-masq=false", "--storage-driver=overlay2"],
            stdout=log, stderr=log,
        )  # fmt: skip
        _wait(lambda: self.docker("version").returncode == 0, "dockerd", self.dockerd)

    def kill_dockerd(self) -> None:
        assert self.dockerd is not None
        self.dockerd.kill()
        self.dockerd.wait(30)

    def restart_containerd(self) -> None:
        assert self.containerd is not None
        self.containerd.terminate()
        self.containerd.wait(30)
        self.start_containerd()

    def stop(self) -> None:
        """Everything down: containers, dockerd, containerd, shims, mounts, directories."""
        if self.dockerd is not None and self.dockerd.poll() is None:
            ids = self.docker("ps", "-aq").stdout.split()
            if ids:
                self.docker("rm", "-f", *ids, timeout=120)
            self.dockerd.terminate()
            try:
                self.dockerd.wait(30)
            except subprocess.TimeoutExpired:
                self.dockerd.kill()
                self.dockerd.wait()
        if self.containerd is not None and self.containerd.poll() is None:
            self.containerd.terminate()
            try:
                self.containerd.wait(30)
            except subprocess.TimeoutExpired:
                self.containerd.kill()
                self.containerd.wait()
        for proc in private_processes():
            with contextlib.suppress(psutil.Error):
                proc.kill()
        _unmount_under(LIB, RUN)
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)
        for d in (RUN, LIB):
            shutil.rmtree(d, ignore_errors=True)


def private_processes() -> list[psutil.Process]:
    """Shims (and anything else) started for the private engine: their argv names its paths."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        argv = " ".join(proc.info.get("cmdline") or [])
        if str(RUN) in argv or str(LIB) in argv:
            found.append(proc)
    return found


def _unmount_under(*roots: Path) -> None:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for point in sorted(points, key=len, reverse=True):
        if any(point == str(r) or point.startswith(f"{r}/") for r in roots):
            subprocess.run(["umount", "-l", point], capture_output=True)


def leftovers() -> list[str]:
    found = [f"process {p.pid} {p.name()}" for p in private_processes()]
    with open("/proc/self/mountinfo") as f:
        found += [f"mount {line.split()[4]}" for line in f if str(LIB) in line or str(RUN) in line]
    found += [f"directory {d}" for d in (RUN, LIB) if d.exists()]
    if subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode == 0:
        found.append(f"bridge {BRIDGE}")
    return found


def _wait(cond: object, what: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(cond) and cond():
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}; see its log")
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up in {timeout} s")


@pytest.fixture(scope="module")
def private_engine(
    demo_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrivateEngine]:
    need(shutil.which("containerd") is not None and shutil.which("dockerd") is not None,
         "containerd and dockerd binaries are needed for the private engine")  # fmt: skip
    need(not DOCKER_SOCK.exists(), f"{DOCKER_SOCK} exists: another private engine is running")
    for d in (RUN, LIB):
        d.mkdir(mode=0o711, parents=True, exist_ok=True)
    engine = PrivateEngine(tmp_path_factory.mktemp("engine-logs"))
    try:
        for cmd in (
            ["link", "add", BRIDGE, "type", "bridge"],
            ["addr", "add", BRIDGE_CIDR, "dev", BRIDGE],
            ["link", "set", BRIDGE, "up"],
        ):
            subprocess.run(["ip", *cmd], check=True, capture_output=True)
        engine.start_containerd()
        engine.start_dockerd()
        save = subprocess.Popen(["docker", "save", demo_image], stdout=subprocess.PIPE)
        load = subprocess.run(["docker", "load"], stdin=save.stdout, env=engine.env,
                              capture_output=True, timeout=120)  # fmt: skip
        save.wait(60)
        assert load.returncode == 0, load.stderr
        yield engine
    finally:
        engine.stop()
        left = leftovers()
        assert not left, f"the private engine left {left}"
