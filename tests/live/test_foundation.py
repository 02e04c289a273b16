"""The ground everything stands on: a real daemon runs a container, and real eBPF sees it."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import threading
import time

from tests.conftest import need
from tracer.sources import doctor

SMOKE_BPF = r"""
struct ev_t {
    u32 pid;            // tgid of the process
    u32 kind;           // 1 = exec, 2 = unshare
    u64 flags;          // unshare flags
    char comm[16];      // comm at the time of the event
};
BPF_PERF_OUTPUT(events);

TRACEPOINT_PROBE(sched, sched_process_exec) {
    struct ev_t ev = {};
    ev.pid = bpf_get_current_pid_tgid() >> 32;
    ev.kind = 1;
    bpf_get_current_comm(&ev.comm, sizeof(ev.comm));
    events.perf_submit(args, &ev, sizeof(ev));
    return 0;
}

TRACEPOINT_PROBE(syscalls, sys_enter_unshare) {
    struct ev_t ev = {};
    ev.pid = bpf_get_current_pid_tgid() >> 32;
    ev.kind = 2;
    ev.flags = args->unshare_flags;
    bpf_get_current_comm(&ev.comm, sizeof(ev.comm));
    events.perf_submit(args, &ev, sizeof(ev));
    return 0;
}
"""

CLONE_NEWNS_UTS_IPC_PID_NET = 0x00020000 | 0x04000000 | 0x08000000 | 0x20000000 | 0x40000000


class SmokeEvent(ctypes.Structure):
    _fields_ = [
        ("pid", ctypes.c_uint32),
        ("kind", ctypes.c_uint32),
        ("flags", ctypes.c_uint64),
        ("comm", ctypes.c_char * 16),
    ]


def test_doctor_says_live_is_possible(docker_daemon: str) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "tracer", "doctor"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "live tracing: possible" in r.stdout
    assert "✓ daemon" in r.stdout and "API 1." in r.stdout


def test_docker_run_prints_hi(demo_image: str) -> None:
    r = subprocess.run(
        ["docker", "run", "--rm", demo_image, "echo", "hi"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hi\n"


def test_bcc_sees_echo_exec_and_runc_unshare(demo_image: str) -> None:
    need(doctor.check_bcc().ok, "bcc cannot load a tracepoint program here")
    import bcc  # type: ignore[import-not-found]

    b = bcc.BPF(text=SMOKE_BPF)
    seen: list[tuple[int, str, int]] = []

    def on_event(_cpu: int, data: int, _size: int) -> None:
        ev = ctypes.cast(data, ctypes.POINTER(SmokeEvent)).contents
        seen.append((ev.kind, ev.comm.decode(errors="replace"), ev.flags))

    b["events"].open_perf_buffer(on_event, page_cnt=64)
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            b.perf_buffer_poll(timeout=100)

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    try:
        r = subprocess.run(
            ["docker", "run", "--rm", demo_image, "echo", "hi"], capture_output=True, timeout=120
        )
        assert r.returncode == 0
        time.sleep(0.3)
    finally:
        done.set()
        t.join()
        b.cleanup()
    assert (1, "echo", 0) in seen, "no exec of echo seen"
    unshares = [(comm, flags) for kind, comm, flags in seen if kind == 2]
    assert any(
        comm == "runc:[1:CHILD]"
        and flags & CLONE_NEWNS_UTS_IPC_PID_NET == CLONE_NEWNS_UTS_IPC_PID_NET
        for comm, flags in unshares
    ), f"no unshare of the five namespaces by runc:[1:CHILD]: {unshares}"


def test_setup_twice_changes_nothing(docker_daemon: str) -> None:
    """Set-up is idempotent: run again on a set-up machine, it installs and starts nothing.
    The first run settles what a working tree changed since the last set-up (an edited
    pyproject.toml rightly reinstalls the venv); the second must change nothing."""
    for _ in range(2):
        r = subprocess.run(
            ["bash", "tracer/setup.sh", "env"], capture_output=True, text=True, timeout=300
        )
        assert r.returncode == 0, r.stderr
    assert "packages: all present" in r.stderr
    assert "already answering /_ping (left as it is)" in r.stderr
    assert "venv: up to date" in r.stderr
    for changed in ("installing", "starting", "creating venv", "building"):
        assert changed not in r.stderr, r.stderr
