"""containerd's own record of a run: its event service, read through `ctr events`, as Events.

`ctr events` (a child process) rather than a gRPC client: Debian's containerd ships ctr beside
the daemon, so it always speaks that daemon's API version, and it needs no grpcio (a large
native dependency) nor containerd's protobuf definitions; its one line per event (Go's
time.Time, namespace, topic, the event as JSON) is all a lesson shows. Without a namespace
filter it reports every namespace (moby, a lesson's own).

containerd stamps each event with CLOCK_REALTIME; the events' `time_ns` is CLOCK_MONOTONIC.
The offset between the two clocks is sampled when the subscription starts (the pair read
back-to-back, the tightest of a few tries) and subtracted; the original stays in
`detail.wall_time` / `detail.wall_ns`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil

from tracer.events import Event, EventSink

DEFAULT_ADDRESS = "/run/containerd/containerd.sock"
NAME = "containerd-events"
CLOCK_NOTE = "containerd's CLOCK_REALTIME, minus the realtime-monotonic offset sampled at start"
# "2026-12-01 22:08:54.661574153 +0000 UTC moby /tasks/start {"container_id":...}"
LINE = re.compile(
    r"^(?P<date>\d{4}-\d\d-\d\d) (?P<clock>\d\d:\d\d:\d\d)(?:\.(?P<frac>\d{1,9}))? "
    r"(?P<tz>[+-]\d{4})(?: [A-Za-z0-9+-]+)? (?P<ns>\S+) (?P<topic>/\S*)(?: (?P<json>.*))?$"
)
READY_WAIT_S = 0.5  # how long start() waits for ctr to be connected to containerd


@dataclass(frozen=True)
class CtrLine:
    """One event as `ctr events` prints it."""

    wall_ns: int  # ns since the epoch (containerd's clock)
    wall_time: str  # as printed
    namespace: str
    topic: str
    payload: dict[str, Any]
    payload_error: str | None = None  # the JSON part did not parse: why


def parse_ctr_line(line: str) -> CtrLine | None:
    """A `ctr events` line, or None for anything else (a warning, garbage)."""
    m = LINE.match(line.strip())
    if m is None:
        return None
    try:
        day = datetime.strptime(f"{m['date']} {m['clock']} {m['tz']}", "%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        return None
    frac = int((m["frac"] or "0").ljust(9, "0"))
    since = day - datetime(1970, 1, 1, tzinfo=UTC)
    wall_ns = since // timedelta(seconds=1) * 1_000_000_000 + frac
    payload: dict[str, Any] = {}
    error = None
    if m["json"]:
        try:
            decoded = json.loads(m["json"])
            payload = decoded if isinstance(decoded, dict) else {"value": decoded}
        except json.JSONDecodeError as e:
            error = f"payload is not JSON: {e.msg} at column {e.colno}"
            payload = {"raw": m["json"][:200]}
    wall = line.strip().split(f" {m['ns']} {m['topic']}", 1)[0]
    return CtrLine(wall_ns, wall, m["ns"], m["topic"], payload, error)


def container_id(topic: str, payload: Mapping[str, Any]) -> str | None:
    """Which container an event is about: tasks name it container_id, containers id."""
    cid = payload.get("container_id")
    if cid is None and topic.startswith("/containers/"):
        cid = payload.get("id")
    return str(cid) if cid else None


def clock_offset(samples: int = 5) -> int:
    """CLOCK_REALTIME - CLOCK_MONOTONIC in ns, from the tightest of `samples` back-to-back reads."""
    best: tuple[int, int] | None = None
    for _ in range(samples):
        m0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        r = time.clock_gettime_ns(time.CLOCK_REALTIME)
        m1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        if best is None or m1 - m0 < best[0]:
            best = (m1 - m0, r - (m0 + m1) // 2)
    assert best is not None
    return best[1]


def to_event(rec: CtrLine, offset_ns: int) -> Event:
    detail: dict[str, Any] = {
        "topic": rec.topic,
        "namespace": rec.namespace,
        "container_id": container_id(rec.topic, rec.payload),
        "payload": rec.payload,
        "wall_time": rec.wall_time,
        "wall_ns": rec.wall_ns,
        "clock": CLOCK_NOTE,
    }
    if rec.payload_error:
        detail["payload_error"] = rec.payload_error
    return Event(
        time_ns=rec.wall_ns - offset_ns,
        source="containerd",
        layer="containerd",
        kind="containerd.event",
        comm="containerd",
        detail=detail,
    )


def unavailable(reason: str) -> Event:
    """What the session records when containerd's events cannot be read, and why."""
    return Event(
        time_ns=time.clock_gettime_ns(time.CLOCK_MONOTONIC),
        source="containerd",
        layer="containerd",
        kind="source.unavailable",
        comm="containerd",
        detail={"source": NAME, "reason": reason},
    )


class ContainerdEvents:
    """`ctr events` running for the session: start, (wait_ready), close; events to the sink."""

    name = NAME

    def __init__(
        self,
        sink: EventSink,
        address: str = DEFAULT_ADDRESS,
        ctr: str | None = None,
        connected: Callable[[int], bool] | None = None,
    ) -> None:
        self.sink = sink
        self.address = address
        self.ctr = ctr or shutil.which("ctr")
        self._connected = connected or _has_unix_peer
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._closing = False
        self.offset_ns = 0
        self.lines = 0
        self.unparsed = 0
        self.reason: str | None = None  # why it is not running, if it is not

    def start(self) -> None:
        """Spawn ctr (quick); say why not, as a `source.unavailable` event, if it cannot run."""
        if self.ctr is None:
            return self._unavailable("no `ctr` on PATH (Debian's containerd package ships it)")
        if not os.path.exists(self.address):
            return self._unavailable(f"no containerd socket at {self.address}")
        if not os.access(self.address, os.R_OK | os.W_OK):
            return self._unavailable(f"permission denied on {self.address} (uid {os.getuid()})")
        self.offset_ns = clock_offset()
        try:
            self._proc = subprocess.Popen(
                [self.ctr, "--address", self.address, "events"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # a Ctrl-C at the terminal is for us, not for it
            )
        except OSError as e:
            return self._unavailable(f"cannot run {self.ctr}: {e.strerror}")
        self._thread = threading.Thread(target=self._read, name="dockertrace-ctr", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float = READY_WAIT_S) -> bool:
        """Until ctr is connected to containerd (its subscription follows at once), or it died."""
        deadline = time.monotonic() + timeout
        while self._proc is not None and time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            if self._connected(self._proc.pid):
                return True
            time.sleep(0.01)
        return False

    def _unavailable(self, reason: str) -> None:
        self.reason = reason
        self.sink(unavailable(reason))

    def _read(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        for raw in proc.stdout:
            self.lines += 1
            rec = parse_ctr_line(raw.decode(errors="replace"))
            if rec is None:
                self.unparsed += 1
                continue
            self.sink(to_event(rec, self.offset_ns))
        code = proc.wait()
        if not self._closing:  # it ended by itself: the session must say so
            err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
            self._unavailable(f"`ctr events` exited with {code}: {err[-300:] or 'no message'}")

    def close(self) -> None:
        self._closing = True
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for pipe in (self._proc.stdout, self._proc.stderr) if self._proc else ():
            if pipe is not None:
                pipe.close()

    def status(self) -> dict[str, Any]:
        return {"lines": self.lines, "unparsed": self.unparsed, "reason": self.reason}


def _has_unix_peer(pid: int) -> bool:
    """Whether process `pid` holds a Unix socket: ctr's only one is its dial to containerd
    (about 25 ms after its start here), and the subscription is its first call on it."""
    try:
        return bool(psutil.Process(pid).net_connections("unix"))
    except psutil.Error:
        return False
