"""What a stopped or killed dockertrace leaves behind: the containers it labelled, its sockets.

`dockertrace run` labels its containers `dockertrace.session=<its pid>`. When a session closes
(normally, on Ctrl-C or SIGTERM) it removes its own; a session killed outright (kill -9) cannot,
so the next session to start removes those of processes that are gone, their session sockets
that nobody listens on, and their tracefs instances.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable

import httpx
import psutil

from tracer.endpoint import daemon_client, try_connect
from tracer.probes.base import tracefs_root
from tracer.probes.tracefs.probe import clean_stale_instances

LABEL = "dockertrace.session"
_SESSION_SOCKET = re.compile(r"^session-(\d+)\.sock$")


def label_args(pid: int | None = None) -> list[str]:
    """`docker run` options that mark a container as this process's."""
    return ["--label", f"{LABEL}={pid or os.getpid()}"]


def owner_alive(pid: int, since: float = 0.0) -> bool:
    """Whether process `pid` lives and is the one that existed at `since` (unix seconds), not
    a newer process that reused a dead one's pid."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return not since or proc.create_time() <= since + 1
    except psutil.Error:
        return False


def remove_containers(upstream: str, doomed: Callable[[int, float], bool]) -> list[str]:
    """Force-remove the labelled containers that `doomed(owner pid, created)` picks; ids."""
    if not upstream.startswith("unix://"):
        return []
    removed: list[str] = []
    with (
        contextlib.suppress(httpx.HTTPError, ValueError),
        daemon_client(upstream, timeout=10) as c,
    ):
        query = {"all": "1", "filters": json.dumps({"label": [LABEL]})}
        for ctr in c.get("/containers/json", params=query).json():
            owner = str((ctr.get("Labels") or {}).get(LABEL, ""))
            if owner.isdigit() and doomed(int(owner), float(ctr.get("Created") or 0)):
                r = c.delete(f"/containers/{ctr['Id']}", params={"force": "1"})
                if r.status_code in (204, 404):
                    removed.append(str(ctr["Id"])[:12])
    return removed


def remove_own(upstream: str) -> list[str]:
    me = os.getpid()
    return remove_containers(upstream, lambda pid, _: pid == me)


def sweep(upstream: str, session_dir: str) -> list[str]:
    """Remove what dead sessions left: their containers, their unanswered session sockets."""
    dead = remove_containers(upstream, lambda pid, created: not owner_alive(pid, created))
    gone = [f"container {c}" for c in dead]
    root = tracefs_root()
    if root is not None:  # a killed tracefs run's instance, whichever backend starts next
        with contextlib.suppress(OSError):
            gone += [f"tracefs instance {p}" for p in clean_stale_instances(root)]
    with contextlib.suppress(OSError):
        for name in os.listdir(session_dir):
            m = _SESSION_SOCKET.match(name)
            path = os.path.join(session_dir, name)
            if (
                m
                and not owner_alive(int(m[1]), os.stat(path).st_mtime)
                and try_connect(path)[0] != "ok"
            ):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                    gone.append(f"socket {path}")
    return gone
