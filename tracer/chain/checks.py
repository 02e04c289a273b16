"""Reality checks: where this machine differs from the simple story, settled by the events."""

from __future__ import annotations

from collections.abc import Sequence

from tracer.chain.model import Check, Container
from tracer.chain.runs import endpoint_of, is_ns_flags
from tracer.events import Event
from tracer.text.describe import describe, short_flags, short_ids


def reality_checks(
    requests: Sequence[Event],
    mounts: Sequence[Event],
    unshares: Sequence[Event],
    clones: Sequence[Event],
    runc_creates: Sequence[Event],
    cmd: Event | None,
    container: Container,
    kernel: Sequence[Event],
) -> tuple[Check, ...]:
    checks: list[Check] = []
    if mounts:
        m = next((m for m in mounts if "-init/" not in str(m.detail.get("target"))), mounts[0])
        checks.append(
            Check(
                "overlay-mount",
                "containerd sets up the OverlayFS root filesystem",
                short_ids(f"{m.comm} (pid {m.pid}) mounted overlay on {m.detail.get('target')}"),
                m.layer in ("containerd", "shim"),
                (m,),
            )
        )
    else:
        checks.append(
            Check("overlay-mount", "containerd sets up the OverlayFS root filesystem", "", None)
        )
    ns_clone = [c for c in clones if is_ns_flags(c)]
    parent_clones = [c for c in clones if "CLONE_PARENT" in c.detail.get("flag_names", [])]
    if unshares or ns_clone:
        parts = [
            f"{u.comm} (pid {u.pid}) called unshare({short_flags(u.detail.get('flag_names'))})"
            for u in unshares[:1]
        ]
        parts += [f"{c.comm} (pid {c.pid}) called {describe(c)}" for c in parent_clones[-1:]]
        checks.append(
            Check(
                "namespaces",
                "runc calls clone() with the namespace flags",
                "; then ".join(parts),
                bool(ns_clone) and not unshares,
                (*unshares[:1], *parent_clones[-1:]),
            )
        )
    else:
        checks.append(Check("namespaces", "runc calls clone() with the namespace flags", "", None))
    if cmd is not None and container.ns_pid is not None:
        checks.append(
            Check(
                "pid-namespace",
                "the container's process is pid 1 inside, another pid on the host",
                f"{cmd.comm}: host pid {cmd.pid}, pid {container.ns_pid} inside "
                f"({container.ns_pid_how})",
                container.ns_pid == 1,
                (cmd,),
            )
        )
    if cmd is not None and runc_creates:
        rc = runc_creates[0]
        rc_exit = next((e for e in kernel if e.kind == "proc.exit" and e.pid == rc.pid), None)
        if rc_exit is not None and rc_exit.time_ns < cmd.time_ns:
            ms = (cmd.time_ns - rc_exit.time_ns) / 1e6
            checks.append(
                Check(
                    "parent",
                    "runc is the container process's parent",
                    f"runc create (pid {rc.pid}) exited {ms:.1f} ms before {cmd.comm} ran: the "
                    "process outlives runc; the shim stays to wait for it",
                    False,
                    (rc_exit, cmd),
                )
            )
    order = [endpoint_of(e) for e in requests]
    attach = next((i for i, p in enumerate(order) if p.endswith("/attach")), None)
    start = next((i for i, p in enumerate(order) if p.endswith("/start")), None)
    if attach is not None and start is not None:
        checks.append(
            Check(
                "api-order",
                "docker run creates the container, then starts it",
                short_ids("the CLI attached before it started: " + " → ".join(order)),
                attach < start,
                tuple(requests),
            )
        )
    return tuple(checks)
