"""Load and long-stream drivers shared by tests/live/test_load.py and bench/load.py.

`hammer` runs N clients × M requests through a socket and the same requests straight at the
daemon, and compares the answers. `stream_rss` keeps an `/events` stream and a `logs -f` stream
flowing through a `dockertrace proxy` process and samples its resident memory (the recording
parent and its forwarding child together).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
LABEL = "dockertrace.test"
# Headers that legitimately differ between two answers to the same request.
VOLATILE_HEADERS = frozenset({"date"})


@dataclass
class LoadResult:
    requests: int = 0  # through the proxy
    errors: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    seconds: float = 0.0
    containers: int = 0


def _client(path: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=path), base_url="http://d", timeout=60)


def _answer(r: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    headers = {k.lower(): v for k, v in r.headers.items() if k.lower() not in VOLATILE_HEADERS}
    return r.status_code, headers, r.content


@contextmanager
def static_containers(direct: str, image: str, tag: str, n: int = 3) -> Iterator[str]:
    """A few created (never started) labelled containers: a `/containers/json` that does not
    change while other tests run. Yields the filtered list query."""
    ids = []
    with _client(direct) as c:
        try:
            for _ in range(n):
                body = {"Image": image, "Cmd": ["true"], "Labels": {LABEL: f"{tag}-static"}}
                r = c.post("/v1.41/containers/create", json=body)
                r.raise_for_status()
                ids.append(r.json()["Id"])
            filters = json.dumps({"label": [f"{LABEL}={tag}-static"]})
            yield f"/v1.41/containers/json?all=1&filters={filters}"
        finally:
            for cid in ids:
                c.delete(f"/v1.41/containers/{cid}?force=1")


def _lifecycle(c: httpx.Client, image: str, tag: str) -> list[tuple[str, int, Any]]:
    """create, start, wait, remove one short container: (step, status, comparable body)."""
    body = {"Image": image, "Cmd": ["true"], "Labels": {LABEL: tag}}
    out: list[tuple[str, int, Any]] = []
    r = c.post("/v1.41/containers/create", json=body)
    cid = r.json().get("Id", "") if r.status_code == 201 else ""
    out.append(("create", r.status_code, sorted(r.json())))  # the Id differs, the shape not
    r = c.post(f"/v1.41/containers/{cid}/start")
    out.append(("start", r.status_code, r.content))
    r = c.post(f"/v1.41/containers/{cid}/wait")
    out.append(("wait", r.status_code, r.json()))
    r = c.delete(f"/v1.41/containers/{cid}")
    out.append(("remove", r.status_code, r.content))
    return out


def hammer(
    proxy: str, direct: str, image: str, tag: str, clients: int = 50, per_client: int = 200
) -> LoadResult:
    """Each client: one lifecycle (4 requests) and per_client-4 cheap requests through the
    proxy, every cheap one also sent direct and compared (status, headers but Date, body)."""
    result = LoadResult()
    lock = threading.Lock()
    with static_containers(direct, image, tag) as listing:
        expected_cycle: list[tuple[str, int, Any]] = []
        with _client(direct) as c:
            expected_cycle = _lifecycle(c, image, tag)
        cheap = ["/_ping", "/v1.41/version", listing]

        def one_client(n: int) -> None:
            errors: list[str] = []
            mismatches: list[str] = []
            count = 0
            with _client(proxy) as via, _client(direct) as straight:
                for i in range(per_client - 4):
                    url = cheap[(i + n) % len(cheap)]
                    try:
                        got = _answer(via.get(url))
                        count += 1
                        want = _answer(straight.get(url))
                    except httpx.HTTPError as e:
                        errors.append(f"client {n} {url}: {type(e).__name__}: {e}")
                        continue
                    if got != want:
                        mismatches.append(f"client {n} {url}: {got[:2]} != {want[:2]}")
                    if i == per_client // 2:
                        try:
                            cycle = _lifecycle(via, image, tag)
                            count += 4
                        except (httpx.HTTPError, ValueError) as e:
                            errors.append(f"client {n} lifecycle: {type(e).__name__}: {e}")
                            continue
                        if cycle != expected_cycle:
                            mismatches.append(f"client {n} lifecycle: {cycle} != {expected_cycle}")
            with lock:
                result.requests += count
                result.errors += errors
                result.mismatches += mismatches
                result.containers += 1

        t0 = time.perf_counter()
        threads = [threading.Thread(target=one_client, args=(n,)) for n in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        result.seconds = time.perf_counter() - t0
    return result


def rss_kb(pid: int) -> int:
    """Resident memory of a process and its children (the proxy and its relay), in KiB."""
    total = 0
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total


@contextmanager
def proxy_process(directory: Path, upstream: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`dockertrace proxy --quiet --record FILE` as a user runs it."""
    sock = directory / "run" / "docker.sock"
    sock.parent.mkdir(mode=0o755, exist_ok=True)
    argv = [sys.executable, "-m", "tracer", "proxy", "--quiet", "--record",
            str(directory / "load.jsonl"), "--listen", f"unix://{sock}",
            "--upstream", f"unix://{upstream}"]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not sock.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "proxy did not start"
            time.sleep(0.05)
        yield str(sock), proc
    finally:
        proc.terminate()
        proc.wait(15)


@dataclass
class StreamResult:
    samples: list[tuple[float, int]]  # (seconds, KiB)
    event_lines: int
    log_bytes: int

    def growth_mb(self, warmup_s: float) -> float:
        base = next((kb for t, kb in self.samples if t >= warmup_s), self.samples[0][1])
        return (self.samples[-1][1] - base) / 1024


def stream_rss(
    proxy: str, direct: str, pid: int, image: str, tag: str, seconds: float
) -> StreamResult:
    """Stream `/events` and `logs -f` through the proxy for `seconds` while output flows:
    a container prints a line every 10 ms; another is paused and unpaused every 0.2 s
    (directly) so the event stream has something to carry."""
    stop = threading.Event()
    counts = {"events": 0, "logs": 0}
    with _client(direct) as c:
        made = []
        for cmd in (["sh", "-c", "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.01; done"],
                    ["sleep", "3600"]):  # fmt: skip
            body = {"Image": image, "Cmd": cmd, "Labels": {LABEL: tag}}
            cid = c.post("/v1.41/containers/create", json=body).json()["Id"]
            c.post(f"/v1.41/containers/{cid}/start").raise_for_status()
            made.append(cid)
        talker, sleeper = made

        def follow(url: str, key: str) -> None:
            with _client(proxy) as via, via.stream("GET", url, timeout=None) as r:
                for chunk in r.iter_raw():
                    counts[key] += len(chunk)
                    if stop.is_set():
                        return

        def churn() -> None:
            with _client(direct) as d:
                while not stop.is_set():
                    d.post(f"/v1.41/containers/{sleeper}/pause")
                    d.post(f"/v1.41/containers/{sleeper}/unpause")
                    time.sleep(0.2)

        threads = [
            threading.Thread(target=follow, args=("/v1.41/events", "events"), daemon=True),
            threading.Thread(
                target=follow,
                args=(f"/v1.41/containers/{talker}/logs?follow=1&stdout=1&tail=0", "logs"),
                daemon=True,
            ),
            threading.Thread(target=churn, daemon=True),
        ]
        samples: list[tuple[float, int]] = []
        try:
            for t in threads:
                t.start()
            t0 = time.monotonic()
            while (now := time.monotonic() - t0) < seconds:
                samples.append((now, rss_kb(pid)))
                time.sleep(1)
            samples.append((time.monotonic() - t0, rss_kb(pid)))
        finally:
            stop.set()
            for cid in made:
                c.delete(f"/v1.41/containers/{cid}?force=1")
            for t in threads:
                t.join(10)
    return StreamResult(samples, counts["events"], counts["logs"])


def leftover_containers(tag: str) -> list[str]:
    r = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={LABEL}={tag}"],
                       capture_output=True, text=True, env=dict(os.environ))  # fmt: skip
    return r.stdout.split()
