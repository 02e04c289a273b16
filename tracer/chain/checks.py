"""Reality checks: where this machine differs from the simple story, settled by the events.

Each check says whether the events agree and which events show it; tracer.text.story words it."""

from __future__ import annotations

from collections.abc import Callable

from tracer.chain.context import RunContext
from tracer.chain.model import Check
from tracer.chain.runs import endpoint_of, is_ns_flags


def reality_checks(ctx: RunContext) -> tuple[Check, ...]:
    """The checks this run's events can settle (or say there is not enough evidence for)."""
    checks = (check(ctx) for check in CHECKS)
    return tuple(c for c in checks if c is not None)


def _overlay_mount(ctx: RunContext) -> Check:
    mounts = ctx.overlay_mounts
    if not mounts:
        return Check("overlay-mount", "", "", None)
    m = next((m for m in mounts if "-init/" not in str(m.detail.get("target"))), mounts[0])
    return Check("overlay-mount", "", "", m.layer in ("containerd", "shim"), (m,))


def _namespaces(ctx: RunContext) -> Check:
    unshares, clones = ctx.unshares, ctx.clones
    ns_clone = [c for c in clones if is_ns_flags(c)]
    if not (unshares or ns_clone):
        return Check("namespaces", "", "", None)
    parent_clones = [c for c in clones if "CLONE_PARENT" in c.detail.get("flag_names", [])]
    agrees = bool(ns_clone) and not unshares
    return Check("namespaces", "", "", agrees, (*unshares[:1], *parent_clones[-1:]))


def _pid_namespace(ctx: RunContext) -> Check | None:
    cmd = ctx.command
    ns_pid, via = ctx.ns_pid
    if cmd is None or ns_pid is None or via is None:
        return None
    return Check("pid-namespace", "", "", ns_pid == 1, (cmd,), basis={"ns_pid": (via,)})


def _parent(ctx: RunContext) -> Check | None:
    cmd = ctx.command
    if cmd is None or not ctx.runc_creates:
        return None
    rc = ctx.runc_creates[0]
    rc_exit = next((e for e in ctx.kernel if e.kind == "proc.exit" and e.pid == rc.pid), None)
    if rc_exit is None or rc_exit.time_ns >= cmd.time_ns:
        return None
    return Check("parent", "", "", False, (rc_exit, cmd))


def _api_order(ctx: RunContext) -> Check | None:
    order = [endpoint_of(e) for e in ctx.requests]
    attach = next((i for i, p in enumerate(order) if p.endswith("/attach")), None)
    start = next((i for i, p in enumerate(order) if p.endswith("/start")), None)
    if attach is None or start is None:
        return None
    return Check("api-order", "", "", attach < start, tuple(ctx.requests))


CHECKS: tuple[Callable[[RunContext], Check | None], ...] = (
    _overlay_mount,
    _namespaces,
    _pid_namespace,
    _parent,
    _api_order,
)
