"""The server's place in the CPU queue: behind the run it shows, which keeps its own place."""

from __future__ import annotations

import contextlib
import os

# On 2 cores a room's fan-out took CPU from the traced `docker run` (its dockerd, containerd,
# runc and the session's proxy and probes): nice 10 lets all of them go first, and the server
# still gets its share on a busy machine (a SCHED_IDLE one waited out each busy spell).
SERVER_NICE = 10


def step_back(by: int = SERVER_NICE) -> int:
    """Make the calling thread (a nice value is a thread's, on Linux: the server's loop thread,
    and what it starts from now on) `by` nicer; returns its nice value before."""
    before = os.getpriority(os.PRIO_PROCESS, 0)
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, min(19, before + by))
    return before


def give_back(pid: int, nice: int) -> bool:
    """Put every thread of process `pid` (a live run's session, started by the server's
    thread and so as nice as it) back at `nice`; False when not allowed (not root)."""
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            os.setpriority(os.PRIO_PROCESS, int(tid), nice)
    except (OSError, ValueError):
        return False
    return True
