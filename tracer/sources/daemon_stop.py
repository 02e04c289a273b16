"""Stopping the real dockerd for a lesson, only when asked, and always starting it again."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psutil

from tracer.endpoint import DEFAULT_SOCKET, try_connect

LOG = "/var/log/dockertrace/dockerd.log"
WAIT_S = 30.0


@dataclass
class DaemonNote:
    """What was done to the daemon, for the learner to read: before, and after it is back."""

    text: str = ""
    after: str = ""


def _systemd_unit_active() -> bool:
    if not os.path.isdir("/run/systemd/system"):
        return False
    r = subprocess.run(["systemctl", "is-active", "--quiet", "docker.service"], check=False)
    return r.returncode == 0


def _wait(socket_path: str, up: bool) -> bool:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if (try_connect(socket_path)[0] == "ok") == up:
            return True
        time.sleep(0.2)
    return False


@contextmanager
def stopped_dockerd(
    name: str = "dockerd", socket_path: str = DEFAULT_SOCKET, log: str = LOG
) -> Iterator[DaemonNote]:
    """dockerd stopped inside the block, started again after it (even on error or Ctrl-C), the
    same way it was running: through systemd, or with its own command line in the background.
    (`name`, `socket_path` and `log` let a test use a stand-in daemon.)"""
    note = DaemonNote()
    found = [
        p
        for p in psutil.process_iter(["name", "status"])
        if p.info["name"] == name and p.info["status"] != psutil.STATUS_ZOMBIE
    ]
    if not found:
        note.text = f"{name} is not running: nothing to stop\n"
        yield note
        return
    proc = found[0]
    cmdline = proc.cmdline()
    systemd = name == "dockerd" and _systemd_unit_active()
    if systemd:
        # docker.socket would start the service again on the first connection: stop both.
        subprocess.run(["systemctl", "stop", "docker.socket", "docker.service"], check=False)
    else:
        proc.terminate()
        try:
            proc.wait(WAIT_S)
        except psutil.TimeoutExpired:
            proc.kill()
    _wait(socket_path, up=False)
    note.text = f"{name} (pid {proc.pid}) stopped; {socket_path} has no listener now\n"
    try:
        yield note
    finally:
        if systemd:
            subprocess.run(["systemctl", "start", "docker.socket", "docker.service"], check=False)
        else:
            os.makedirs(os.path.dirname(log), exist_ok=True)
            with open(log, "ab") as out:
                subprocess.Popen(
                    cmdline,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        back = _wait(socket_path, up=True)
        note.after = (
            f"{name} started again and answers on its socket\n"
            if back
            else f"{name} did not answer within {WAIT_S:.0f} s after restarting; see {log}\n"
        )
