"""What the probe benches share: the chain evidence of a `docker run`, CPU accounting."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tracer.events import NAMESPACE_FLAGS, Event

IMAGE = "dockertrace/busybox:latest"
FIVE = set(NAMESPACE_FLAGS)


def chain_evidence(events: Iterable[Event]) -> dict[str, bool]:
    """The chain events a traced `docker run IMAGE echo hi` must show, each found or not."""
    evs = list(events)

    def has(kind: str, pred: object) -> bool:
        return any(e.kind == kind and pred(e) for e in evs)  # type: ignore[operator]

    def exec_of(suffix: str) -> bool:
        return has("proc.exec", lambda e: e.detail["filename"].endswith(suffix))

    echo_pids = {
        e.pid for e in evs if e.kind == "proc.exec" and e.detail["filename"] == "/bin/echo"
    }
    return {
        "exec docker": exec_of("/docker"),
        "exec containerd-shim-runc-v2": exec_of("containerd-shim-runc-v2"),
        "exec runc": exec_of("/runc"),
        "unshare 5 namespaces": has("sys.unshare", lambda e: set(e.detail["flag_names"]) >= FIVE),
        "clone CLONE_PARENT x2": sum(
            1 for e in evs if e.kind == "sys.clone" and "CLONE_PARENT" in e.detail["flag_names"]
        )
        >= 2,
        "mount by dockerd": has("sys.mount", lambda e: e.layer == "dockerd"),
        "pivot_root": has("sys.pivot_root", lambda e: e.detail["ret"] == 0),
        "exec echo (container)": has(
            "proc.exec", lambda e: e.detail["filename"] == "/bin/echo" and e.layer == "container"
        ),
        "exit echo": has("proc.exit", lambda e: e.pid in echo_pids),
    }


def cpu_seconds() -> float:
    """CPU time of this process (all its threads, not its children)."""
    t = os.times()
    return t.user + t.system


class Window:
    """Wall and CPU time over a stretch of code."""

    def __enter__(self) -> Window:
        self.wall0, self.cpu0 = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = cpu_seconds() - self.cpu0

    @property
    def cpu_share(self) -> float:
        return self.cpu / self.wall if self.wall else 0.0


def median(xs: list[float]) -> float:
    s = sorted(xs)
    return s[len(s) // 2] if s else float("nan")


def percentile(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] if s else float("nan")
