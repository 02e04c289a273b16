"""Live: the classroom page with N viewers: kernel event to viewer p50/p99, server CPU and memory,
and the traced `docker run` with viewers against the same with none, all measured in this run.

Run as root, under the locks: flock -x /tmp/dockertrace-quiet.lock flock /tmp/dockertrace-live.lock
.venv/bin/python bench/web_viewers.py [--viewers 200] [--rounds 3] [--against OTHER_CHECKOUT]
(targets at 200 viewers: p99 ≤ 250 ms, server CPU ≤ 1 core, RSS ≤ 150 MB, traced run with
viewers ≤ 1.10× the same without). --against measures another checkout (its own .venv) in the
same rounds, interleaved: a baseline.

A real `dockertrace serve` (live, its session in tracer.sources.live_child as always) on
loopback; the viewers are SSE clients on plain sockets in 4 processes of their own, at
SCHED_IDLE (laptops elsewhere in a room take no CPU from the run; here they share its 2 cores).
While the run goes on a client only reads and keeps each read's bytes with two times; it
parses them after the run, so that its own work does not delay its next read. Each kernel
event (source bpf or tracefs; its time_ns is bpf_ktime_get_ns, CLOCK_MONOTONIC) then has:
- to the viewer's socket: the kernel's receive time stamp of the read (SO_TIMESTAMPNS). A read
  that took several of the server's writes has the last one's stamp: an upper bound when the
  client reads late;
- to the viewer's read: when the client process read it (the above plus the client's own
  waits for a CPU: an upper bound of what a laptop across the room, with its own CPU, sees).
The server gives its own account too (/api/state): kernel event to the server (the tracing's
delay) and to written to the last viewer's connection, and its fan-out's flushes and their
CPU. Server CPU: its process's user+system time over the round's wall time (POST /api/run
to the run's end); RSS: its peak, sampled every 20 ms. Run time: the docker CLI's exec to its
exit (kernel events), with the viewers and, by a server of its own, without any; and
`docker run` timed from outside with no tracing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import selectors
import socket
import statistics
import struct
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
from tracer.probes.containerd_events import clock_offset  # noqa: E402

TOKEN = "bench-token"
CLIENT_PROCS = 4


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


# The event's kernel time and source, read without decoding the whole line (the line's
# first two fields, as Event.to_json writes them): the clients' own CPU is kept small.
HEAD = re.compile(rb'^data: \{"time_ns":(\d+),"source":"(\w+)"')
SO_TIMESTAMPNS = 35  # <asm-generic/socket.h>: the kernel's receive time of what recvmsg reads
KERNEL = (b"bpf", b"tracefs")


class Viewer:
    """One SSE client on a plain socket. For each kernel event it keeps two delays: to the
    kernel's receive time stamp of the bytes at this socket (SO_TIMESTAMPNS: what a laptop
    across the room would get, without its network and its own CPU), and to when this process
    read them (that plus the client's own waits: on this machine the clients share the 2 cores
    with the run, at SCHED_IDLE)."""

    def __init__(self, port: int, run: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.sendall(b"GET /api/events HTTP/1.1\r\nHost: bench\r\n\r\n")
        self.sock.setblocking(False)
        self.run = run
        self.ids: list[int] = []
        self.at_socket: list[float] = []
        self.at_read: list[float] = []
        self.kind = self.ident = b""
        self.partial = b""
        self.reads: list[tuple[bytes, int, int]] = []  # what came, its receive and read times
        self.joined = self.ended = False
        self._prefix = f"{run}:".encode()

    def readable(self, real_to_mono: int) -> None:
        """Take what came, with its times; nothing more while the run goes on (the parsing
        waits for its end: the client's own CPU would delay the next read)."""
        try:
            data, anc, _, _ = self.sock.recvmsg(1 << 20, 64)
        except BlockingIOError:
            return
        now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        if not data:
            self.ended = True
            return
        stamp = now
        for level, kind, raw in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, ns = struct.unpack("qq", raw[:16])
                stamp = sec * 1_000_000_000 + ns - real_to_mono
        self.reads.append((data, stamp, now))
        if not self.joined or b"event: run" in data:
            self.parse()

    def parse(self) -> None:
        for data, stamp, now in self.reads:
            self._parse(data, stamp, now)
        self.reads.clear()

    def _parse(self, data: bytes, stamp: int, now: int) -> None:
        *lines, self.partial = (self.partial + data).split(b"\n")
        for line in lines:
            if line.startswith(b"event: "):
                self.kind = line[7:]
            elif line.startswith(b"id: "):
                self.ident = line[4:]
            elif not line.startswith(b"data: "):
                continue
            elif self.kind == b"event" and self.ident.startswith(self._prefix):
                self.ids.append(int(self.ident.split(b":")[1]))
                m = HEAD.match(line)
                if m is None:
                    ev = json.loads(line[6:])
                    t, source = int(ev["time_ns"]), ev["source"].encode()
                else:
                    t, source = int(m[1]), m[2]
                if source in KERNEL:
                    self.at_socket.append((stamp - t) / 1e6)
                    self.at_read.append((now - t) / 1e6)
            elif self.kind == b"hello":
                self.joined = True
            elif self.kind == b"run":
                body = json.loads(line[6:])
                if body["run"] == self.run and body["state"] in ("finished", "failed"):
                    self.ended = True

    def result(self) -> dict[str, Any]:
        self.parse()
        self.sock.close()
        return {"ids": self.ids, "lat": self.at_socket, "read": self.at_read}


def client_process(port: int, count: int, run: int, ready: Any, results: Any) -> None:
    """`count` viewers in this process; says when all are connected, then sends what each got.
    They stand in for laptops elsewhere in the room: SCHED_IDLE, so that their own reading
    takes no CPU from the run (on this 2-core machine); their read delay is then an upper
    bound, and the delay at their sockets is the server's."""
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    offset = clock_offset(20)  # realtime - monotonic: the receive stamps are realtime
    viewers = [Viewer(port, run) for _ in range(count)]
    sel = selectors.DefaultSelector()
    for v in viewers:
        sel.register(v.sock, selectors.EVENT_READ, v)
    said_ready = False
    deadline = time.monotonic() + 180
    while any(not v.ended for v in viewers) and time.monotonic() < deadline:
        ready_ones = sel.select(1.0)
        for key, _ in ready_ones:
            v = key.data
            v.readable(offset)
            if v.ended:
                sel.unregister(v.sock)
        if not ready_ones:  # a quiet second: the run's end may be in what came
            for v in viewers:
                v.parse()
                if v.ended and v.sock.fileno() in sel.get_map():
                    sel.unregister(v.sock)
        if not said_ready and all(v.joined for v in viewers):
            said_ready = True
            ready.set()
    results.put([v.result() for v in viewers])


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
    clients = [psutil.Process(p.pid) for p in procs]
    clients_cpu0 = _cpu(clients)
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
    clients_cpu = _cpu(clients) - clients_cpu0
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
        "read": [x for v in got for x in v["read"]],
        "cpu": (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / wall,
        "clients_cpu": clients_cpu / wall,
        "rss_mb": max(peak.peak, server.memory_info().rss) / 2**20,
        "cli_ms": cli_time(events),
        "dropped": state["dropped"],
        "state": state["run"]["state"],
        "arrival_p99": state["arrival_p99_ms"],
        "fanout": state.get("fanout"),
        "sent_p99": state.get("sent_p99_ms"),
    }


def _cpu(procs: list[psutil.Process]) -> float:
    return sum(c.user + c.system for c in (p.cpu_times() for p in procs))


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
    """A `dockertrace serve` of its own for a round, from a checkout (this one, or the
    baseline's, each with its own .venv): its viewers join an empty session, then the
    instructor's run starts (as in a class)."""

    def __init__(self, tree: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        python = tree / ".venv/bin/python" if tree != ROOT else Path(sys.executable)
        cmd = [str(python), "-m", "tracer", "serve", "--listen", f"127.0.0.1:{self.port}"]
        self.proc = subprocess.Popen([*cmd, "--token", TOKEN], cwd=tree, stdout=subprocess.DEVNULL)
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
    ap.add_argument(
        "--against",
        metavar="DIR",
        type=Path,
        help="another checkout (with its .venv) measured in the same rounds, interleaved",
    )
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (the live session)", file=sys.stderr)
        return 2
    from tracer.sources.session import demo_image

    image = demo_image()
    direct_run(image)  # warm: the image's layers in the page cache
    trees = {"this": ROOT} | ({"against": args.against.resolve()} if args.against else {})
    direct: list[float] = []
    rows: dict[str, dict[str, list[Any]]] = {name: {"zero": [], "full": []} for name in trees}
    for _ in range(args.rounds):
        direct.append(direct_run(image))
        for name, tree in trees.items():
            rows[name]["zero"].append(Server(tree).round(0))
            rows[name]["full"].append(Server(tree).round(args.viewers))
    print(
        f"{args.rounds} rounds, {args.viewers} viewers; docker run direct (no tracing): "
        f"{statistics.median(direct):.1f} ms (median)"
    )
    for name, tree in trees.items():
        print(f"\n== {name}: {tree} ({_commit(tree)})")
        report(rows[name], args.viewers, statistics.median(direct))
    print(f"\nload average at the end: {os.getloadavg()} (2 cores)")
    return 0


def _commit(tree: Path) -> str:
    out = subprocess.run(
        ["git", "-C", str(tree), "describe", "--always", "--dirty"], capture_output=True, text=True
    )
    return out.stdout.strip()


def _lat(name: str, values: list[float]) -> str:
    return (
        f"{name}: p50 {pct(values, 0.5):.1f} ms, p99 {pct(values, 0.99):.1f} ms, "
        f"max {max(values, default=float('nan')):.1f} ms ({len(values)} samples)"
    )


def _ms(rows: list[dict[str, Any]]) -> str:
    return ", ".join(f"{r['cli_ms']:.0f}" for r in rows)


def report(rows: dict[str, list[Any]], viewers: int, direct: float) -> None:
    zero, full = rows["zero"], rows["full"]
    zero_cli = statistics.median(r["cli_ms"] for r in zero)
    full_cli = statistics.median(r["cli_ms"] for r in full)
    print(f"{full[0]['events']} events a run")
    print(
        f"traced, no viewers (CLI exec to exit):  {zero_cli:7.1f} ms  "
        f"{zero_cli / direct:.2f}× direct   (rounds: {_ms(zero)})"
    )
    print(
        f"traced, {viewers} viewers:                 {full_cli:7.1f} ms  "
        f"{full_cli / direct:.2f}× direct, {full_cli / zero_cli:.2f}× no viewers"
        f"   (rounds: {_ms(full)})"
    )
    paired = statistics.median(f["cli_ms"] / z["cli_ms"] for z, f in zip(zero, full, strict=True))
    print(
        f"  the same, each round's with viewers over its without (adjacent), median: {paired:.2f}×"
    )
    print(_lat("kernel event to the viewer's socket", [x for r in full for x in r["lat"]]))
    print(_lat("kernel event to the viewer's read  ", [x for r in full for x in r["read"]]))
    arrival = [r["arrival_p99"] or 0 for r in full]
    alone = [r["arrival_p99"] or 0 for r in zero]
    print(f"kernel event to the server, p99 per round: {arrival} ms (no viewers: {alone})")
    print(
        f"kernel event to written to the last viewer, the server's p99 per round: "
        f"{[r['sent_p99'] for r in full]} ms"
    )
    print(
        f"server CPU over the run: {max(r['cpu'] for r in full):.2f} cores (worst round; "
        f"no viewers: {max(r['cpu'] for r in zero):.2f}); the viewers' clients (all 4, "
        f"SCHED_IDLE): {statistics.median(r['clients_cpu'] for r in full):.2f} cores (median); "
        "peak RSS "
        f"{max(r['rss_mb'] for r in full):.0f} MB"
    )
    if all(r["fanout"] for r in full):
        flushes = [r["fanout"]["flushes"] for r in full]
        cpu = sum(r["fanout"]["cpu_s"] for r in full) / sum(flushes)
        wall = sum(r["fanout"]["wall_s"] for r in full) / sum(flushes)
        print(
            f"the server's fan-out: {flushes} flushes a run, each {cpu * 1e3:.1f} ms CPU, "
            f"{wall * 1e3:.1f} ms wall ({cpu / viewers * 1e6:.0f} µs CPU a viewer); writes "
            f"that found the viewer's client behind: {[r['fanout']['behind'] for r in full]}"
        )
    complete = sum(r["complete"] for r in full)
    total = sum(r["viewers"] for r in full)
    dropped = max(r["dropped"] for r in full)
    print(f"viewers with every event in order: {complete}/{total}; dropped so far: {dropped}")
    print("runs:", ", ".join(r["state"] for r in zero + full))


if __name__ == "__main__":
    raise SystemExit(main())
