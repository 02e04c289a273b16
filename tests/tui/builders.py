"""Builders for TUI test data: a `docker run --rm IMAGE echo hi` trace, every field defaulted."""

from __future__ import annotations

from typing import Any

from tracer.chain.model import STEP_TITLES, Check, Container, Hop, Step, Trace
from tracer.events import NAMESPACE_FLAGS, Event

T0 = 5_000_000_000_000
MS = 1_000_000
CID = "3f2a9c0d1e2b"
FLAGS = list(NAMESPACE_FLAGS)


def ev(ms: float, layer: str, kind: str, pid: int = 0, comm: str = "", **detail: Any) -> Event:
    source = "proxy" if layer == "proxy" else "bpf"
    return Event(T0 + int(ms * MS), source, layer, kind, pid, pid, 0, comm, detail)  # type: ignore[arg-type]


def run_events() -> list[Event]:
    """The events of one run, in time order (index comments are used by the tests)."""
    argv = ["docker", "run", "--rm", "dockertrace/busybox:latest", "echo", "hi"]
    return [
        ev(0, "cli", "proc.exec", 4242, "docker", filename="/usr/local/bin/docker", argv=argv),  # 0
        ev(5, "cli", "sys.connect", 4242, "docker", path="/run/dockertrace/docker.sock"),  # 1
        ev(5.2, "proxy", "conn.accept", 0, "", conn=1, peer_pid=4242, peer_comm="docker"),  # 2
        ev(
            8,
            "proxy",
            "http.request",
            0,
            "",
            conn=1,
            seq=1,
            method="POST",
            target="/v1.41/containers/create",
            path="/containers/create",
            body_json={
                "Image": "dockertrace/busybox:latest",
                "Cmd": ["echo", "hi"],
                "HostConfig": {"AutoRemove": True},
            },
        ),  # 3
        ev(
            9,
            "dockerd",
            "sys.mount",
            800,
            "dockerd",
            fstype="overlay",
            source="overlay",
            target="/var/lib/docker/overlay2/ab12/merged",
        ),  # 4
        ev(
            30,
            "proxy",
            "http.response",
            0,
            "",
            conn=1,
            seq=1,
            method="POST",
            path="/containers/create",
            status=201,
            reason="Created",
            body_json={"Id": CID + "77", "Warnings": []},
        ),  # 5
        ev(
            34,
            "proxy",
            "http.request",
            0,
            "",
            conn=1,
            seq=2,
            method="POST",
            target=f"/v1.41/containers/{CID}/start",
            path=f"/containers/{CID}/start",
        ),  # 6
        ev(36, "dockerd", "sys.connect", 800, "dockerd", path="/run/containerd/containerd.sock"),
        ev(
            40,
            "shim",
            "proc.exec",
            5100,
            "containerd-shim",
            filename="/usr/bin/containerd-shim-runc-v2",
            argv=["containerd-shim-runc-v2", "-namespace", "moby", "-id", CID],
        ),  # 8
        ev(
            60,
            "runc",
            "proc.exec",
            5120,
            "runc",
            filename="/usr/sbin/runc",
            argv=[
                "runc",
                "--root",
                "/var/run/docker/runtime-runc/moby",
                "create",
                "--bundle",
                f"/run/containerd/io.containerd.runtime.v2.task/moby/{CID}",
                CID,
            ],
        ),  # 9
        ev(
            70, "runc", "sys.clone", 5121, "runc:[0:PARENT]", flag_names=["CLONE_PARENT"], ret=5122
        ),  # 10
        ev(
            72, "runc", "sys.unshare", 5122, "runc:[1:CHILD]", flag_names=FLAGS, flags=0x6C020000
        ),  # 11
        ev(
            74, "runc", "sys.clone", 5122, "runc:[1:CHILD]", flag_names=["CLONE_PARENT"], ret=5123
        ),  # 12
        ev(80, "runc", "sys.mount", 5123, "runc:[2:INIT]", fstype="proc", target="/proc"),  # 13
        ev(82, "runc", "sys.pivot_root", 5123, "runc:[2:INIT]", new_root=".", put_old="."),  # 14
        ev(
            200, "container", "proc.exec", 5123, "echo", filename="/bin/echo", argv=["echo", "hi"]
        ),  # 15
        ev(202, "container", "proc.exit", 5123, "echo", exit_code=0),  # 16
        ev(
            203,
            "proxy",
            "stream.frame",
            0,
            "",
            conn=2,
            seq=1,
            direction="daemon->client",
            stream="stdout",
            size=3,
            excerpt="hi\n",
        ),  # 17
        ev(
            260,
            "proxy",
            "http.response",
            0,
            "",
            conn=3,
            seq=1,
            method="POST",
            path=f"/containers/{CID}/wait",
            status=200,
            reason="OK",
            body_json={"StatusCode": 0, "Error": None},
        ),  # 18
        ev(270, "cli", "proc.exit", 4242, "docker", exit_code=0),  # 19
    ]


# step number -> indexes of its evidence in run_events()
EVIDENCE: dict[int, tuple[int, ...]] = {
    1: (0, 3),
    2: (1, 2),
    3: (4, 5, 7),
    4: (8, 9),
    5: (10, 11, 12, 13, 14),
    6: (15,),
    7: (17, 18),
}
# (src, dst, label, step, event index)
HOPS: tuple[tuple[str, str, str, int, int], ...] = (
    ("cli", "socket", "connect /run/dockertrace/docker.sock", 2, 1),
    ("socket", "dockerd", "POST /v1.41/containers/create", 1, 3),
    ("dockerd", "kernel", "mount overlay (overlay2 graph driver)", 3, 4),
    ("dockerd", "containerd", "connect containerd.sock", 3, 7),
    ("containerd", "shim", "exec containerd-shim-runc-v2", 4, 8),
    ("shim", "runc", "exec runc create", 4, 9),
    ("runc", "kernel", "unshare(NEWNS|NEWUTS|NEWIPC|NEWPID|NEWNET)", 5, 11),
    ("runc", "kernel", "exec /bin/echo hi", 6, 15),
    ("kernel", "cli", 'stdout "hi\\n"', 7, 17),
)


def make_steps(
    events: list[Event], missing: tuple[int, ...] = (), skipped: tuple[int, ...] = ()
) -> tuple[Step, ...]:
    steps = []
    for n in STEP_TITLES:
        if n in missing:
            steps.append(Step(n, "missing", reason="no kernel probe: nothing seen"))
        elif n in skipped:
            steps.append(Step(n, "skipped", reason="image was cached, no pull"))
        else:
            evidence = tuple(events[i] for i in EVIDENCE[n])
            steps.append(Step(n, "observed", evidence, summary=f"seen in {len(evidence)} events"))
    return tuple(steps)


def make_trace(
    *,
    events: list[Event] | None = None,
    missing: tuple[int, ...] = (),
    checks: tuple[Check, ...] | None = None,
    backend: str = "bcc",
    **meta: Any,
) -> Trace:
    evs = run_events() if events is None else events
    hops = tuple(
        Hop(s, d, label, step, evs[i])  # type: ignore[arg-type]
        for s, d, label, step, i in HOPS
        if step not in missing and i < len(evs)
    )
    if checks is None:
        checks = (
            Check(
                "overlay-mount",
                "containerd sets up OverlayFS",
                "dockerd mounted overlay on /var/lib/docker/overlay2/ab12/merged "
                "(overlay2 graph driver)",
                False,
                (evs[4],),
            ),
        )
    return Trace(
        steps=make_steps(evs, missing=missing),
        hops=hops,
        events=tuple(evs),
        container=Container(
            CID,
            "dockertrace/busybox:latest",
            ("echo", "hi"),
            0,
            "hi\n",
            host_pid=5123,
            ns_pid=1,
            ns_pid_how="derived: runc:[2:INIT]",
        ),
        checks=checks,
        client_pid=4242,
        backend=backend,
        meta=dict(meta),
    )


def make_header(**extra: Any) -> dict[str, Any]:
    header: dict[str, Any] = {
        "format": "dockertrace-recording",
        "version": 1,
        "kernel": "6.1.0-test",
        "versions": {"docker": "20.10.24", "containerd": "1.6.20", "runc": "1.1.5"},
        "backend": "bcc",
    }
    header.update(extra)
    return header
