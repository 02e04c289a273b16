"""trace_pipe parsing and decoding, from lines recorded on a real `docker run` (tracefs backend)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracer.events import NAMESPACE_FLAGS, Event
from tracer.probes.lineage import Lineage
from tracer.probes.tracefs.decode import HostView, TracefsDecoder
from tracer.probes.tracefs.parse import parse_line, syscall_args, syscall_ret
from tracer.probes.tracefs.probe import TracefsSource

RECORDED = Path(__file__).parent / "data" / "probes_tracefs_docker_run.txt"
FIVE = set(NAMESPACE_FLAGS)


def blind_view() -> HostView:
    """A host where /proc tells nothing: only what tracefs itself printed counts."""
    return HostView(
        cmdline=lambda pid: None,
        comm=lambda pid: None,
        tgid=lambda tid: None,
        mounts=lambda pid: None,
        mnt_ns=lambda pid: None,
    )


def test_plain_line() -> None:
    rec = parse_line(
        "   runc:[2:INIT]-5305    (   5305) [001] .....   396.283067: "
        "sys_mount(dev_name: 0xc000148a30, dir_name: 0xc000148a40, type: 0xc0, flags: 0x5000, "
        "data: 0)"
    )
    assert rec is not None
    assert (rec.comm, rec.tid, rec.tgid, rec.cpu) == ("runc:[2:INIT]", 5305, 5305, 1)
    assert rec.time_ns == 396_283_067_000 and rec.event == "sys_mount"
    assert syscall_args(rec.body)["flags"] == 0x5000


def test_comm_with_dashes_and_unknown_comm_and_tgid() -> None:
    rec = parse_line(
        " memfd:sealed-91-1076    (   1076) [001] .....   395.845016: sys_clone3 -> 0x0"
    )
    assert rec is not None and rec.comm == "memfd:sealed-91" and rec.tid == 1076
    rec = parse_line(
        "           <...>-5265    (-------) [001] .....   395.891650: sys_clone -> 0x0"
    )
    assert rec is not None and rec.comm is None and rec.tgid is None


def test_exit_values_are_signed() -> None:
    assert syscall_ret(" -> 0xfffffffffffffffe") == -2
    assert syscall_ret(" -> 0x14af") == 0x14AF
    assert syscall_ret(" -> 0x0") == 0


def test_not_a_record() -> None:
    assert parse_line("# tracer: nop") is None
    assert parse_line("CPU:1 [LOST 12 EVENTS]") is None


@pytest.fixture(scope="module")
def decoded() -> list[Event]:
    lineage = Lineage(lookup=lambda pid: None)
    lineage.seed(3208, 1, "dockerd", ["dockerd"])
    lineage.seed(3196, 1, "containerd", ["containerd"])
    decoder = TracefsDecoder(lineage, blind_view())
    events: list[Event] = []
    for text in RECORDED.read_text().splitlines():
        rec = parse_line(text)
        assert rec is not None, text
        events += decoder.feed(rec)
    return events


def of(events: list[Event], kind: str) -> list[Event]:
    return [e for e in events if e.kind == kind]


def test_recorded_chain_decodes(decoded: list[Event]) -> None:
    execs = {e.detail["filename"]: e for e in of(decoded, "proc.exec")}
    assert execs["/usr/local/bin/docker"].layer == "cli"
    assert execs["/usr/bin/containerd-shim-runc-v2"].layer == "shim"
    assert execs["/usr/sbin/runc"].layer == "runc"
    echo = execs["/bin/echo"]
    assert echo.layer == "container"
    assert echo.detail["argv"] is None and echo.detail["unreadable"] == ["argv"]
    exits = [e for e in of(decoded, "proc.exit") if e.pid == echo.pid]
    assert exits[0].detail == {"exit_code": 0, "signal": None}


def test_recorded_namespace_calls(decoded: list[Event]) -> None:
    unshare = [e for e in of(decoded, "sys.unshare") if set(e.detail["flag_names"]) >= FIVE]
    assert unshare and unshare[0].layer == "runc" and unshare[0].detail["ret"] == 0
    parents = [e for e in of(decoded, "sys.clone") if "CLONE_PARENT" in e.detail["flag_names"]]
    assert len(parents) == 2 and all(e.layer == "runc" for e in parents)
    assert parents[1].pid == unshare[0].pid
    pivot = of(decoded, "sys.pivot_root")
    assert pivot[0].pid == parents[1].detail["ret"]
    assert pivot[0].detail["new_root"] is None and "new_root" in pivot[0].detail["unreadable"]


def test_recorded_mounts_say_what_is_unreadable(decoded: list[Event]) -> None:
    by_dockerd = [e for e in of(decoded, "sys.mount") if e.layer == "dockerd"]
    assert by_dockerd and by_dockerd[0].comm == "dockerd" and by_dockerd[0].pid == 3208
    assert by_dockerd[0].detail["target"] is None
    assert "new_in_mount_table" not in by_dockerd[0].detail  # no /proc here: nothing claimed


def test_threads_are_not_reported_as_forks(decoded: list[Event]) -> None:
    forks = of(decoded, "proc.fork")
    children = {e.detail["child_pid"] for e in forks}
    assert {e.pid for e in of(decoded, "proc.exec")} <= children  # each exec'd process was forked
    thread_clones = [
        e for e in of(decoded, "sys.clone") if "CLONE_THREAD" in e.detail["flag_names"]
    ]
    assert thread_clones
    assert not children & {e.detail["ret"] for e in thread_clones}


def test_clone3_flags_are_unreadable(decoded: list[Event]) -> None:
    clone3 = of(decoded, "sys.clone3")
    assert clone3 and all(e.detail["flags"] is None for e in clone3)


def test_lost_event_notices_are_counted_not_parsed() -> None:
    source = TracefsSource()  # not started: only its line handling is used
    source._line("CPU:1 [LOST 12 EVENTS]")
    source._line("# tracer: nop")
    assert source.lost_events() == 12 and source.unparsed == 1
