"""Engines other than Debian's 20.10, on SYNTHETIC event sequences: the bundled recording of
Debian's engine rewritten to what each engine is documented to do (runc's source, containerd's
and Docker's docs). None of them is a recording of that engine; none is bundled as one."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.tui.builders import ev
from tracer.chain.fold import fold, runs
from tracer.chain.model import Check, Trace
from tracer.events import Event
from tracer.probes.decode import layer_of_comm, layer_of_exec
from tracer.probes.lineage import Lineage
from tracer.record.format import read_recording

ASSETS = Path(__file__).resolve().parents[2] / "assets"


@pytest.fixture(scope="module")
def debian() -> list[Event]:
    rec = read_recording(ASSETS / "run-echo-hi.jsonl")
    assert rec.problems == []
    return rec.events


def dockerd_pid(events: list[Event]) -> int:
    """dockerd's pid in the recording (the daemon that answered the run), not a fixed number."""
    return next(e.pid for e in events if e.comm == "dockerd")


def check(trace: Trace, name: str) -> Check:
    return next(c for c in trace.checks if c.name == name)


def runc_init_by_fd(events: list[Event], path: str, comm: str) -> list[Event]:
    """runc init re-exec'd from a sealed copy run by fd, named by the fd number until runc names
    its stages; without runc 1.1's read-only bind mount of itself (runc.XXXX)."""
    out = []
    reexec = next(e for e in events if str(e.detail.get("filename", "")).startswith("/dev/fd/"))
    for e in events:
        if e.kind == "sys.mount" and "/runc." in str(e.detail.get("target", "")):
            continue
        if e is reexec:
            e = replace(e, comm=comm, detail={**e.detail, "filename": path})
        out.append(e)
    return out


def assert_echo_is_the_command(trace: Trace) -> None:
    assert [s.status for s in trace.steps] == ["observed"] * 7
    cmd = trace.step(6).evidence[0]
    assert cmd.detail["filename"] == "/bin/echo" and cmd.comm == "echo"
    assert trace.container is not None and trace.container.host_pid == cmd.pid


def test_synthetic_runc_1_1_15_memfd_reexec(debian: list[Event]) -> None:
    """runc ≥ 1.1.15: fexecve of the memfd "runc_cloned:/proc/self/exe": /dev/fd/5, comm "5"."""
    events = runc_init_by_fd(debian, "/dev/fd/5", "5")
    trace = fold(events)
    assert_echo_is_the_command(trace)
    assert not any(e.comm == "5" for e in trace.step(6).evidence)
    lin = Lineage(lookup=lambda pid: None)
    lin.seed(100, 1, "runc", ["runc", "create"])
    lin.on_fork(100, 101, 0x4111, "runc")
    lin.on_exec(101, "/proc/self/exe", ["runc", "init"], "runc", "exe")
    assert lin.on_exec(101, "/dev/fd/5", ["runc", "init"], "exe", "5").layer == "runc"
    assert layer_of_comm("5", ["runc", "init"]) == "runc"


def test_synthetic_memfd_reexec_without_argv_is_not_the_command(debian: list[Event]) -> None:
    """tracefs may lose the argv and the layer: an exec of /dev/fd/5 is still runc's, not the
    container's command (never a wrong "observed" for step 6)."""
    events = [
        replace(e, layer="kernel", detail={**e.detail, "argv": None})
        if e.detail.get("filename") == "/dev/fd/5"
        else e
        for e in runc_init_by_fd(debian, "/dev/fd/5", "5")
    ]
    assert_echo_is_the_command(fold(events))


def test_synthetic_runc_1_2_overlay_sealed_binary(debian: list[Event]) -> None:
    """runc 1.2 seals itself in a private overlayfs made with fsopen/fsmount (no mount(2) call
    the probes see) and execs it as /proc/self/fd/N; the rootfs overlay is still dockerd's."""
    events = runc_init_by_fd(debian, "/proc/self/fd/7", "7")
    trace = fold(events)
    assert_echo_is_the_command(trace)
    (mount,) = check(trace, "overlay-mount").evidence
    assert (mount.comm, mount.pid) == ("dockerd", dockerd_pid(debian))
    assert str(mount.detail["target"]).startswith("/var/lib/docker/overlay2/")
    assert layer_of_exec("/proc/self/fd/7", ["runc", "init"], "runc", "runc") == "runc"


def test_synthetic_runc_dmz_execs_the_command_after_its_own_copy(debian: list[Event]) -> None:
    """runc 1.2.0 with RUNC_DMZ=true: runc:[2:INIT] fexecve's a memfd copy of runc-dmz (argv is
    the container's), which then execs the command: both are the container's, the command is
    the second."""
    echo = next(e for e in debian if e.kind == "proc.exec" and e.layer == "container")
    dmz = replace(
        echo,
        time_ns=echo.time_ns - 1000,
        comm="8",
        detail={"filename": "/proc/self/fd/8", "argv": ["echo", "hi"]},
    )
    trace = fold([*debian, dmz])
    assert_echo_is_the_command(trace)
    assert layer_of_exec("/proc/self/fd/8", ["echo", "hi"], "runc", "runc:[2:INIT]") == "container"
    assert layer_of_exec("/bin/echo", ["echo", "hi"], "container", "8") == "container"


def containerd_store(events: list[Event], cid: str) -> list[Event]:
    """Docker with containerd's image store: containerd's snapshotter prepares the layers and
    dockerd mounts the rootfs once, at /start, on /var/lib/docker/rootfs/overlayfs/ID."""
    out = []
    moved = False
    for e in events:
        target = str(e.detail.get("target", ""))
        if e.kind == "sys.mount" and e.detail.get("fstype") == "overlay":
            if moved:
                continue
            e = replace(e, detail={**e.detail, "target": f"/var/lib/docker/rootfs/overlayfs/{cid}"})
            moved = True
        elif e.kind == "sys.mount" and "/overlay2/" in target:
            e = replace(e, detail={**e.detail, "target": f"/var/lib/docker/rootfs/overlayfs/{cid}"})
        out.append(e)
    return out


def created_id(events: list[Event]) -> str:
    trace = fold(events)
    assert trace.container is not None
    return trace.container.id


def test_synthetic_containerd_image_store_says_who_mounted(debian: list[Event]) -> None:
    cid = created_id(debian)
    trace = fold(containerd_store(debian, cid))
    assert_echo_is_the_command(trace)
    overlay = check(trace, "overlay-mount")
    assert overlay.agrees is False
    (mount,) = overlay.evidence
    assert (mount.comm, mount.pid) == ("dockerd", dockerd_pid(debian))
    assert mount.detail["target"] == f"/var/lib/docker/rootfs/overlayfs/{cid}"


def test_synthetic_overlay_mounted_where_the_probes_cannot_see(debian: list[Event]) -> None:
    """A snapshotter mounting inside containerd with the new mount API: no mount(2) event. The
    check says it cannot tell, and step 3 claims no mount."""
    cid = created_id(debian)
    events = [
        e
        for e in containerd_store(debian, cid)
        if not (e.kind == "sys.mount" and e.detail.get("fstype") == "overlay")
    ]
    trace = fold(events)
    overlay = check(trace, "overlay-mount")
    assert overlay.agrees is None and overlay.evidence == ()
    assert not any(e.detail.get("fstype") == "overlay" for e in trace.step(3).evidence)
    assert not any("overlay" in f for f in trace.step(3).facts)


def test_synthetic_image_store_mounts_stay_with_their_own_run(debian: list[Event]) -> None:
    """Two runs at once: each rootfs mount is named by its container, whichever run's request
    was the latest begun when dockerd mounted it."""
    cid = created_id(debian)
    one = containerd_store(debian, cid)
    mount = next(e for e in one if e.detail.get("fstype") == "overlay")
    # A second client whose create began just before the first run's mount: the latest begun.
    other = [
        ev(0, "proxy", "conn.accept", 0, "", conn=99, peer_pid=777, peer_comm="docker"),
        ev(
            0.1,
            "proxy",
            "http.request",
            0,
            "",
            conn=99,
            seq=1,
            method="POST",
            endpoint="/containers/create",
            path="/containers/create",
        ),
    ]
    other = [replace(e, time_ns=mount.time_ns - 1000 + i) for i, e in enumerate(other)]
    traces = runs([*one, *other])
    mine = next(t for t in traces if t.container and t.container.id == cid)
    (mount,) = check(mine, "overlay-mount").evidence
    assert mount.detail["target"] == f"/var/lib/docker/rootfs/overlayfs/{cid}"
    theirs = next(t for t in traces if t is not mine)
    assert check(theirs, "overlay-mount").agrees is None


def test_synthetic_containerd_2_shim(debian: list[Event]) -> None:
    """containerd 2.x: only the v2 shim is left (containerd-shim and containerd-shim-runc-v1 are
    gone), and runc keeps its state under /run/containerd/runc/NAMESPACE; other runtimes' shims
    (gVisor's runsc, Kata) carry the same prefix."""
    old_root, new_root = "/var/run/docker/runtime-runc/moby", "/run/containerd/runc/moby"

    def two(e: Event) -> Event:
        if e.kind != "proc.exec":
            return e
        argv = [str(a).replace(old_root, new_root) for a in e.detail.get("argv") or []]
        return replace(e, detail={**e.detail, "argv": argv})

    trace = fold([two(e) for e in debian])
    assert_echo_is_the_command(trace)
    assert [h.dst for h in trace.hops if h.step == 4][:3] == ["containerd", "shim", "runc"]
    runc_create = next(e for e in trace.step(4).evidence if e.layer == "runc")
    assert new_root in runc_create.detail["argv"]
    assert layer_of_comm("containerd-shim") == "shim"
    for shim in ("containerd-shim-runc-v2", "containerd-shim-runsc-v1", "containerd-shim-kata-v2"):
        assert layer_of_exec(f"/usr/bin/{shim}", [shim, "start"], "containerd", "c") == "shim"
