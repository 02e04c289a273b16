"""Live: the classroom page with N viewers: kernel event to viewer p50/p99, server CPU and memory,
and the traced `docker run` against a direct one, all measured in this run.

Run as root, under the lock: flock /tmp/dockertrace-live.lock .venv/bin/python
bench/web_viewers.py [--viewers 200] [--rounds 3]   (targets at 200 viewers: p99 ≤ 250 ms,
server CPU ≤ 1 core, RSS ≤ 150 MB, traced run ≤ 1.10× direct)

A real `dockertrace serve` (live, its session in tracer.sources.live_child as always) on
loopback; the viewers are SSE clients in 4 processes of their own (asyncio streams, 50-250 each),
so the server's CPU is its own. Latency: the client's CLOCK_MONOTONIC when an event's line
arrived minus the event's time_ns (the kernel's bpf_ktime_get_ns, the same clock), for the
kernel's events (source bpf or tracefs). Server CPU: its process's user+system time over the
run's wall time (from POST /api/run to the run's end); RSS: its peak, sampled every 20 ms.
Run time: the docker CLI's exec to its exit (kernel events) for the traced run, against
`docker run` timed from outside with no tracing, then with the tracing but no viewers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TOKEN = "bench-token"
CLIENT_PROCS = 4


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


async def _viewer(port: int, joined: Any, out: list[dict[str, Any]], run: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /api/events HTTP/1.1\r\nHost: bench\r\n\r\n")
    await writer.drain()
    ids: list[int] = []
    lat: list[float] = []
    kind = ident = ""
    partial = b""
    said_joined = False
    try:
        while data := await reader.read(1 << 20):  # split here: readline's buffer work is n²
            now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            *lines, partial = (partial + data).split(b"\n")
            for line in lines:
                if line.startswith(b"event: "):
                    kind = line[7:].decode()
                elif line.startswith(b"id: "):
                    ident = line[4:].decode()
                elif not line.startswith(b"data: "):
                    continue
                elif kind == "hello" and not said_joined:
                    said_joined = True
                    joined()
                elif kind == "event" and ident.startswith(f"{run}:"):
                    ev = json.loads(line[6:])
                    ids.append(int(ident.split(":")[1]))
                    if ev["source"] in ("bpf", "tracefs"):
                        lat.append((now - ev["time_ns"]) / 1e6)
                elif kind == "run":
                    body = json.loads(line[6:])
                    if body["run"] == run and body["state"] in ("finished", "failed"):
                        out.append({"ids": ids, "lat": lat})
                        return
    finally:
        writer.close()
    out.append({"ids": ids, "lat": lat})


def client_process(port: int, count: int, run: int, ready: Any, results: Any) -> None:
    """`count` viewers in this process; says when all are connected, then sends what each got.
    They stand in for laptops elsewhere in the room: SCHED_IDLE, so that their own reading
    takes no CPU from the run (on this 2-core machine); their latency is then an upper bound
    (it includes their waits for a CPU)."""
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))

    async def main() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        n = 0

        def joined() -> None:
            nonlocal n
            n += 1
            if n == count:
                ready.set()

        async with asyncio.timeout(180):
            await asyncio.gather(*(_viewer(port, joined, out, run) for _ in range(count)))
        return out

    results.put(asyncio.run(main()))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Peak(threading.Thread):
    """The peak RSS of a process, sampled."""

    def __init__(self, proc: psutil.Process) -> None:
        super().__init__(daemon=True)
        self.proc, self.peak, self.done = proc, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except psutil.Error:
                return


def direct_run(image: str) -> float:
    t = time.perf_counter()
    subprocess.run(["docker", "run", "--rm", image, "echo", "hi"], capture_output=True, check=True)
    return (time.perf_counter() - t) * 1e3


def cli_time(events: list[dict[str, Any]]) -> float:
    """The docker CLI's life in the traced run: its exec to its exit, in ms."""
    execs = [e for e in events if e["kind"] == "proc.exec" and e["comm"] == "docker"]
    if not execs:
        return float("nan")
    pid = execs[0]["pid"]
    exits = [e for e in events if e["kind"] == "proc.exit" and e["pid"] == pid]
    return (exits[0]["time_ns"] - execs[0]["time_ns"]) / 1e6 if exits else float("nan")


def traced_round(url: str, port: int, viewers: int, run: int, server: psutil.Process) -> dict:
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    procs, readies = [], []
    for i in range(CLIENT_PROCS if viewers else 0):
        count = viewers // CLIENT_PROCS + (1 if i < viewers % CLIENT_PROCS else 0)
        ready = ctx.Event()
        p = ctx.Process(target=client_process, args=(port, count, run, ready, results))
        p.start()
        procs.append(p)
        readies.append(ready)
    for ready in readies:
        assert ready.wait(60), "the viewers did not all connect"
    time.sleep(0.3)
    peak = Peak(server)
    peak.start()
    cpu0, t0 = server.cpu_times(), time.perf_counter()
    r = httpx.post(url + "api/run", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert r.status_code == 202, r.text
    with httpx.Client(timeout=5) as c:
        while c.get(url + "api/state").json()["run"]["state"] not in ("finished", "failed"):
            time.sleep(0.05)
        state = c.get(url + "api/state").json()
    wall = time.perf_counter() - t0
    cpu1 = server.cpu_times()
    peak.done.set()
    got = [v for _ in procs for v in results.get(timeout=120)]
    for p in procs:
        p.join(30)
    events = _events_of_run(url, run)
    n = len(events)
    return {
        "events": n,
        "complete": sum(v["ids"] == list(range(n)) for v in got),
        "viewers": len(got),
        "lat": [x for v in got for x in v["lat"]],
        "cpu": (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / wall,
        "rss_mb": max(peak.peak, server.memory_info().rss) / 2**20,
        "cli_ms": cli_time(events),
        "dropped": state["dropped"],
        "state": state["run"]["state"],
        "arrival_p99": state["arrival_p99_ms"],
    }


def _events_of_run(url: str, run: int) -> list[dict[str, Any]]:
    """The run's events as a late joiner gets them (the bench's own check of order, too)."""
    out: list[dict[str, Any]] = []
    kind = ident = ""
    with httpx.stream("GET", url + "api/events", timeout=30) as r:
        for line in r.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("id: "):
                ident = line[4:]
            elif line.startswith("data: "):
                if kind == "event" and ident.startswith(f"{run}:"):
                    out.append(json.loads(line[6:]))
                if kind == "view" and json.loads(line[6:])["run"] == run:
                    return out
    return out


class Server:
    """A `dockertrace serve` of its own for a round: its viewers join an empty session, then
    the instructor's run starts (as in a class)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        cmd = [sys.executable, "-m", "tracer", "serve", "--listen", f"127.0.0.1:{self.port}"]
        self.proc = subprocess.Popen([*cmd, "--token", TOKEN], cwd=ROOT, stdout=subprocess.DEVNULL)
        for _ in range(100):
            try:
                httpx.get(self.url + "api/state", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        self.ps = psutil.Process(self.proc.pid)

    def round(self, viewers: int) -> dict[str, Any]:
        try:
            return traced_round(self.url, self.port, viewers, 1, self.ps)
        finally:
            self.proc.terminate()
            self.proc.wait(30)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--viewers", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (the live session)", file=sys.stderr)
        return 2
    from tracer.sources.session import demo_image

    image = demo_image()
    direct_run(image)  # warm: the image's layers in the page cache
    rows: dict[str, list[Any]] = {"direct": [], "traced, 0 viewers": [], "with viewers": []}
    for _ in range(args.rounds):
        rows["direct"].append(direct_run(image))
        rows["traced, 0 viewers"].append(Server().round(0))
        rows["with viewers"].append(Server().round(args.viewers))
    report(rows, args.viewers)
    return 0


def report(rows: dict[str, list[Any]], viewers: int) -> None:
    direct = statistics.median(rows["direct"])
    zero = rows["traced, 0 viewers"]
    full = rows["with viewers"]
    lat = [x for r in full for x in r["lat"]]
    zero_cli = statistics.median(r["cli_ms"] for r in zero)
    full_cli = statistics.median(r["cli_ms"] for r in full)
    print(f"{len(full)} rounds, {viewers} viewers, {full[0]['events']} events a run")
    print(f"docker run direct (no tracing):         {direct:7.1f} ms (median)")
    print(f"traced, no viewers (CLI exec to exit):  {zero_cli:7.1f} ms  {zero_cli / direct:.2f}×")
    print(
        f"traced, {viewers} viewers:                 {full_cli:7.1f} ms  "
        f"{full_cli / direct:.2f}× direct, {full_cli / zero_cli:.2f}× no viewers"
    )
    print(
        f"kernel event to viewer: p50 {pct(lat, 0.5):.1f} ms, p99 {pct(lat, 0.99):.1f} ms, "
        f"max {max(lat):.1f} ms ({len(lat)} samples)"
    )
    arrival = max(r["arrival_p99"] or 0 for r in full)
    print(f"baseline, kernel event to the server (worst round's p99): {arrival:.1f} ms")
    print(
        f"server CPU over the run: {max(r['cpu'] for r in full):.2f} cores (worst round; "
        f"no viewers: {max(r['cpu'] for r in zero):.2f}); peak RSS "
        f"{max(r['rss_mb'] for r in full):.0f} MB"
    )
    complete = sum(r["complete"] for r in full)
    total = sum(r["viewers"] for r in full)
    dropped = max(r["dropped"] for r in full)
    print(f"viewers with every event in order: {complete}/{total}; dropped so far: {dropped}")
    print("runs:", ", ".join(r["state"] for r in zero + full))
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores)")


if __name__ == "__main__":
    raise SystemExit(main())
