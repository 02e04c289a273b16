"""containerd's events as `ctr events` prints them: lines (good, odd, garbage), clocks, faults."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from tracer.events import Event
from tracer.probes.containerd_events import (
    ContainerdEvents,
    clock_offset,
    container_id,
    parse_ctr_line,
    to_event,
)

DATA = Path(__file__).parent / "data" / "ctr_events.txt"
CID = "53bf9d7cacaa2f49cfca1be555114a7aa54fdd5b25132089f011a045d3b5b069"


def lines() -> list[str]:
    return DATA.read_text().splitlines()


def test_recorded_lines_parse_with_their_payload() -> None:
    recs = [parse_ctr_line(line) for line in lines()[:3]]
    assert [r.topic for r in recs if r] == ["/containers/create", "/tasks/create", "/tasks/start"]
    create, task, start = recs
    assert create is not None and create.namespace == "moby" and create.payload["id"] == CID
    assert task is not None and task.payload["io"]["stdout"].endswith(f"{CID}/init-stdout")
    assert start is not None and start.payload == {"container_id": CID, "pid": 26284}
    assert start.wall_time == "2026-12-01 22:08:55.969523182 +0000 UTC"
    assert start.wall_ns == 1796162935969523182  # date -d '2026-12-01 22:08:55Z' +%s, plus ns


def test_garbage_and_half_lines() -> None:
    warning, empty, bad_date, bad_json, snapshot = (parse_ctr_line(x) for x in lines()[3:])
    assert warning is None and empty is None and bad_date is None
    assert bad_json is not None and bad_json.namespace == "lesson6"
    assert bad_json.payload_error and bad_json.payload_error.startswith("payload is not JSON")
    assert bad_json.wall_ns == 1796162935_500000000  # 23:08:55.5 at +0100 is 22:08:55.5 UTC
    assert snapshot is not None and snapshot.topic == "/snapshot/prepare"
    assert parse_ctr_line("\x00\xff garbage /x") is None


def test_which_container() -> None:
    assert container_id("/tasks/exit", {"container_id": "a", "id": "b"}) == "a"
    assert container_id("/containers/delete", {"id": "c"}) == "c"
    assert container_id("/images/update", {"name": "busybox"}) is None


def test_wall_clock_mapped_onto_the_monotonic_one() -> None:
    offset = clock_offset()
    direct = time.clock_gettime_ns(time.CLOCK_REALTIME) - time.clock_gettime_ns(
        time.CLOCK_MONOTONIC
    )
    assert abs(offset - direct) < 5_000_000  # both read the same two clocks within 5 ms
    rec = parse_ctr_line(lines()[2])
    assert rec is not None
    ev = to_event(rec, offset_ns=rec.wall_ns - 1000)
    assert ev.time_ns == 1000 and ev.kind == "containerd.event" and ev.layer == "containerd"
    assert ev.detail["wall_ns"] == rec.wall_ns and ev.detail["container_id"] == CID
    assert Event.from_json(ev.to_json()) == ev  # a recording keeps it whole


def test_no_ctr_or_no_socket_says_why(tmp_path: Path) -> None:
    got: list[Event] = []
    ContainerdEvents(got.append, address=str(tmp_path / "none.sock"), ctr="/bin/true").start()
    no_ctr = ContainerdEvents(got.append, address=str(tmp_path))
    no_ctr.ctr = None
    no_ctr.start()
    assert [e.kind for e in got] == ["source.unavailable"] * 2
    assert got[0].detail == {"source": "containerd-events",
                             "reason": f"no containerd socket at {tmp_path}/none.sock"}  # fmt: skip
    assert "no `ctr` on PATH" in got[1].detail["reason"]


def test_a_ctr_that_dies_is_reported_and_its_lines_kept(tmp_path: Path) -> None:
    """A stand-in ctr that prints the recorded lines and fails as ctr does on a dead socket."""
    fake = tmp_path / "ctr"
    fake.write_text(f"#!/bin/sh\ncat {DATA}\necho 'ctr: connection refused' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    sock = tmp_path / "containerd.sock"
    sock.touch()
    got: list[Event] = []
    source = ContainerdEvents(got.append, address=str(sock), ctr=str(fake))
    source.start()
    deadline = time.monotonic() + 5
    while not any(e.kind == "source.unavailable" for e in got) and time.monotonic() < deadline:
        time.sleep(0.01)
    source.close()
    kinds = [e.kind for e in got]
    assert kinds.count("containerd.event") == 5 and kinds[-1] == "source.unavailable"
    assert got[-1].detail["reason"] == "`ctr events` exited with 1: ctr: connection refused"
    assert source.unparsed == 3 and os.path.exists(sock)
