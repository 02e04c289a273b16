"""The scenario the live probe tests share: a traced `docker run` beside an exec storm."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bench.exec_storm import MARK, ExecStorm
from tracer.events import Event
from tracer.probes.leftovers import held_maps, map_name
from tracer.sources.picker import choose_backend


@dataclass
class Observed:
    """What one traced run produced."""

    backend: str
    events: list[Event]
    stdout: str
    returncode: int
    ready_seconds: float
    storm_pids: list[int]
    storm_execs: int
    map_ids: list[int] = field(default_factory=list)
    leftovers_after_close: list[str] = field(default_factory=list)

    def of(self, kind: str, pred: Callable[[Event], bool] = lambda e: True) -> list[Event]:
        return [e for e in self.events if e.kind == kind and pred(e)]


def wait_clean(
    map_ids: Iterable[int] = (), instance: str | None = None, timeout: float = 3.0
) -> list[str]:
    """What is left of one run: its BPF maps (by id: other runs may hold maps of the same names)
    and its tracefs instance. The kernel frees maps a moment after their last fd closes."""
    deadline = time.monotonic() + timeout
    while True:
        left = [f"BPF map {i} {name}" for i in map_ids if (name := map_name(i)) is not None]
        if instance and os.path.exists(instance):
            left.append(f"tracefs instance {instance}")
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def traced_docker_run(backend: str, image: str, storm_workers: int = 3) -> Observed:
    storm = ExecStorm(workers=storm_workers)
    storm.start()  # before the source starts: its workers are not descendants of a seed
    events: list[Event] = []
    try:
        source, _ = choose_backend(forced=backend)
        source.start(events.append, seed_pids=[os.getpid()])
        map_ids = list(held_maps(os.getpid()))
        instance = getattr(source, "instance", None)
        try:
            done = subprocess.run(
                ["docker", "run", "--rm", image, "echo", "hi"],
                capture_output=True,
                text=True,
                timeout=120,
            )
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not any(
                e.kind == "proc.exit" and e.layer == "container" for e in events
            ):
                time.sleep(0.05)
            time.sleep(0.3)
        finally:
            source.close()
    finally:
        storm.stop()
    return Observed(
        backend=backend,
        events=list(events),
        stdout=done.stdout,
        returncode=done.returncode,
        ready_seconds=source.ready_seconds,
        storm_pids=storm.pids,
        storm_execs=storm.count,
        map_ids=map_ids,
        leftovers_after_close=wait_clean(map_ids, instance),
    )


def storm_leaks(obs: Observed) -> list[Event]:
    """Events about the storm: its workers, or anything exec'ing its marked program."""
    return [
        e
        for e in obs.events
        if e.pid in obs.storm_pids
        or MARK in str(e.detail.get("filename", ""))
        or MARK in (e.detail.get("argv") or [""])[:1]
        or e.detail.get("child_pid") in obs.storm_pids
    ]
