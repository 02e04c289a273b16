"""The bcc backend on a real `docker run`, with an exec storm of unrelated processes beside it."""

from __future__ import annotations

import os

import pytest

from tests.conftest import need
from tests.live.probes_scenario import Observed, storm_leaks, traced_docker_run, wait_clean
from tracer.events import NAMESPACE_FLAGS, Event
from tracer.probes.base import host_facts, judge
from tracer.probes.bcc.probe import BccSource
from tracer.probes.leftovers import held_maps

FIVE = set(NAMESPACE_FLAGS)


@pytest.fixture(scope="module")
def run(demo_image: str) -> Observed:
    bcc = next(c for c in judge(host_facts()) if c.name == "bcc")
    need(bcc.usable, f"bcc backend: {bcc.reason}")
    return traced_docker_run("bcc", demo_image)


def test_the_container_ran(run: Observed) -> None:
    assert run.returncode == 0 and run.stdout == "hi\n"
    assert all(e.source == "bpf" for e in run.events)


def test_cli_exec_and_its_connect_to_the_socket(run: Observed) -> None:
    cli = run.of("proc.exec", lambda e: e.detail["filename"].endswith("/docker"))
    assert cli and cli[0].layer == "cli"
    assert cli[0].detail["argv"][:2] == ["docker", "run"]
    assert run.of(
        "sys.connect", lambda e: e.pid == cli[0].pid and "docker.sock" in e.detail["path"]
    )


def test_shim_and_runc_create_are_execd(run: Observed) -> None:
    shims = run.of("proc.exec", lambda e: e.detail["filename"].endswith("containerd-shim-runc-v2"))
    assert shims and all(e.layer == "shim" for e in shims)
    create = run.of("proc.exec", lambda e: "create" in e.detail["argv"] and e.layer == "runc")
    assert create, [e.detail for e in run.of("proc.exec")]
    assert create[0].detail["argv"][0] == "runc"


def test_runc_child_unshares_five_namespaces(run: Observed) -> None:
    unshares = run.of("sys.unshare", lambda e: set(e.detail["flag_names"]) >= FIVE)
    assert unshares, [e.detail for e in run.of("sys.unshare")]
    assert unshares[0].comm == "runc:[1:CHILD]" and unshares[0].layer == "runc"
    assert unshares[0].detail["ret"] == 0


def test_clone_parent_makes_the_init_stage(run: Observed) -> None:
    def parent_clone(e: Event) -> bool:
        return "CLONE_PARENT" in e.detail["flag_names"] and e.detail["ret"] > 0

    clones = run.of("sys.clone", parent_clone) + run.of("sys.clone3", parent_clone)
    assert "runc:[1:CHILD]" in {e.comm for e in clones}, [(e.comm, e.detail) for e in clones]
    by_child = next(e for e in clones if e.comm == "runc:[1:CHILD]")
    by_parent = next(e for e in clones if e.detail["ret"] == by_child.pid)
    assert by_parent.comm == "runc:[0:PARENT]"
    init = run.of("proc.exec", lambda e: e.pid == by_child.detail["ret"])
    # CLONE_PARENT twice: the init stage is a child of runc itself, like the stage that made it
    assert init and init[0].ppid == by_parent.ppid == by_child.ppid


def test_dockerd_mounts_the_overlay(run: Observed) -> None:
    overlay = run.of("sys.mount", lambda e: e.detail["fstype"] == "overlay")
    assert overlay, [e.detail for e in run.of("sys.mount")][:5]
    assert overlay[-1].detail["target"].endswith("/merged")
    assert overlay[-1].comm == "dockerd" and overlay[-1].layer == "dockerd"


def test_init_stage_mounts_proc_and_pivots(run: Observed) -> None:
    proc = run.of("sys.mount", lambda e: e.detail["fstype"] == "proc")
    assert proc and proc[0].comm == "runc:[2:INIT]"
    pivots = run.of("sys.pivot_root", lambda e: e.comm == "runc:[2:INIT]")
    assert pivots and pivots[0].detail["ret"] == 0
    assert proc[0].time_ns < pivots[0].time_ns


def test_echo_is_execd_in_the_container_and_exits(run: Observed) -> None:
    echo = run.of("proc.exec", lambda e: e.detail["filename"].endswith("/echo"))
    assert echo, [e.detail["filename"] for e in run.of("proc.exec")]
    assert echo[0].layer == "container" and echo[0].detail["argv"] == ["echo", "hi"]
    assert echo[0].detail["old_comm"] == "runc:[2:INIT]"
    exits = run.of("proc.exit", lambda e: e.pid == echo[0].pid)
    assert exits and exits[0].detail["exit_code"] == 0 and exits[0].detail["signal"] is None
    assert exits[0].layer == "container"


def test_no_storm_exec_reaches_user_space(run: Observed) -> None:
    assert run.storm_execs > 0
    assert storm_leaks(run) == [], storm_leaks(run)[:3]


def test_events_serialise_and_nothing_is_left(run: Observed) -> None:
    for e in run.events:
        assert Event.from_json(e.to_json()) == Event.from_json(e.to_json())
    assert len(run.map_ids) == 11  # all of ours were held while it ran
    assert run.leftovers_after_close == []


def test_prepare_overlaps_compile_and_close_without_start_is_clean(root: None) -> None:
    bcc = next(c for c in judge(host_facts()) if c.name == "bcc")
    need(bcc.usable, f"bcc backend: {bcc.reason}")
    unused = BccSource()
    unused.prepare()
    unused.close()  # compiled, never started: its maps go with it
    source = BccSource()
    source.prepare()
    source.start(None, seed_pids=[os.getpid()])
    try:
        assert source.compile_seconds > 0 and os.getpid() in source.tracked_pids()
        maps = list(held_maps(os.getpid()))
        assert len(maps) == 11  # only the started one's
    finally:
        source.close()
    assert wait_clean(maps) == []


def test_the_tracers_own_syscalls_are_left_out_but_its_forks_kept(run: Observed) -> None:
    assert not [e for e in run.events if e.kind.startswith("sys.") and e.pid == os.getpid()]
    cli = run.of("proc.exec", lambda e: e.detail["filename"].endswith("/docker"))
    assert run.of(
        "proc.fork", lambda e: e.pid == os.getpid() and e.detail["child_pid"] == cli[0].pid
    )
