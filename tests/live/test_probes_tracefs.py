"""The tracefs backend on a real `docker run`, beside an exec storm: what it sees, what it cannot.

tracefs prints pointer arguments as numbers, so mount paths, pivot_root's paths, clone3's flags
and connect's address are not read; these tests assert they are reported as unreadable, never
made up. argv comes from /proc after the exec (said so in the event); the overlay's target comes
from the mount table diff of dockerd's namespace.
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import need
from tests.live.probes_scenario import Observed, storm_leaks, traced_docker_run
from tracer.events import NAMESPACE_FLAGS
from tracer.probes.base import host_facts, judge

FIVE = set(NAMESPACE_FLAGS)


@pytest.fixture(scope="module")
def run(demo_image: str) -> Observed:
    choice = next(c for c in judge(host_facts()) if c.name == "tracefs")
    need(choice.usable, f"tracefs backend: {choice.reason}")
    return traced_docker_run("tracefs", demo_image)


def test_the_container_ran(run: Observed) -> None:
    assert run.returncode == 0 and run.stdout == "hi\n"
    assert all(e.source == "tracefs" for e in run.events)


def test_shim_and_runc_are_execd(run: Observed) -> None:
    shims = run.of("proc.exec", lambda e: e.detail["filename"].endswith("containerd-shim-runc-v2"))
    assert shims and all(e.layer == "shim" for e in shims)
    runcs = run.of("proc.exec", lambda e: e.detail["filename"].endswith("/runc"))
    assert runcs and all(e.layer == "runc" for e in runcs)
    # argv is read from /proc after the exec: present when the process lived long enough
    for e in runcs:
        assert e.detail["argv"] is None or e.detail["argv"][0] == "runc"
        assert ("argv_from" in e.detail) != (e.detail["argv"] is None)
    create = [e for e in runcs if e.detail["argv"] and "create" in e.detail["argv"]]
    unread = [e for e in runcs if e.detail["argv"] is None]
    assert create or unread, "runc create neither seen nor reported unreadable"


def stages(run: Observed) -> dict[int, int]:
    """runc:[1:CHILD] -> runc:[2:INIT] pids of every container started while tracing (other
    users of this daemon may start some too), found by structure: tracefs prints the comm its
    cache holds when the line is read, which may lag runc's renaming of its stages."""
    clones = run.of("sys.clone", lambda e: "CLONE_PARENT" in e.detail["flag_names"])
    by_pid = {e.pid: e.detail["ret"] for e in clones if e.layer == "runc"}
    pairs = {p: c for p, c in by_pid.items() if p in by_pid.values()}  # a stage cloning again
    assert pairs, [(e.pid, e.comm, e.detail) for e in clones]
    return pairs


def test_runc_child_unshares_five_namespaces(run: Observed) -> None:
    children = stages(run)
    unshares = run.of("sys.unshare", lambda e: set(e.detail["flag_names"]) >= FIVE)
    assert unshares, [(e.comm, e.detail) for e in run.of("sys.unshare")]
    assert unshares[0].pid in children and unshares[0].layer == "runc"
    assert unshares[0].comm.startswith("runc:[")


def test_clone_parent_is_readable_for_clone(run: Observed) -> None:
    assert all(child != init for child, init in stages(run).items())
    for e in run.of("sys.clone3"):  # flags live in user memory: tracefs cannot read them
        assert e.detail["flags"] is None and e.detail["unreadable"] == ["flags"]


def test_dockerd_mounts_the_overlay(run: Observed) -> None:
    mounts = run.of("sys.mount", lambda e: e.layer == "dockerd" and e.detail["ret"] == 0)
    assert mounts and all(e.detail["target"] is None for e in mounts)
    assert all("target" in e.detail["unreadable"] for e in mounts)
    new = [m for e in mounts for m in e.detail.get("new_in_mount_table", [])]
    overlay = [m for m in new if m["fstype"] == "overlay"]
    assert overlay and overlay[-1]["target"].endswith("/merged")


def test_init_stage_mounts_and_pivots(run: Observed) -> None:
    inits = set(stages(run).values())
    assert run.of("sys.mount", lambda e: e.pid in inits)
    pivots = run.of("sys.pivot_root", lambda e: e.pid in inits)
    assert pivots and pivots[0].detail["ret"] == 0 and pivots[0].detail["new_root"] is None


def test_echo_is_execd_in_the_container_and_exits(run: Observed) -> None:
    inits = set(stages(run).values())
    echo = run.of("proc.exec", lambda e: e.detail["filename"].endswith("/echo"))
    assert echo and echo[0].layer == "container" and echo[0].pid in inits
    exits = run.of("proc.exit", lambda e: e.pid == echo[0].pid)
    assert exits and exits[0].detail["exit_code"] == 0


def test_no_storm_exec_reaches_user_space(run: Observed) -> None:
    assert run.storm_execs > 0
    assert storm_leaks(run) == [], storm_leaks(run)[:3]


def test_instance_is_removed(run: Observed) -> None:
    assert run.leftovers_after_close == []


def test_the_tracers_own_syscalls_are_left_out_but_its_forks_kept(run: Observed) -> None:
    assert not [e for e in run.events if e.kind.startswith("sys.") and e.pid == os.getpid()]
    cli = run.of("proc.exec", lambda e: e.detail["filename"].endswith("/docker"))
    assert run.of(
        "proc.fork", lambda e: e.pid == os.getpid() and e.detail["child_pid"] == cli[0].pid
    )
