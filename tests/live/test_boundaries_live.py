"""Every boundary of a live `docker run`, cross-checked by tools the test starts itself:
`ctr events` for containerd's topics, bpftrace for the cgroup paths, the graph driver's
directory for the overlay's layers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.conftest import need
from tracer.chain.paths import overlay_layers
from tracer.events import Event
from tracer.probes.containerd_events import parse_ctr_line
from tracer.sources.session import LiveSession

TOPICS = (
    "/containers/create",
    "/tasks/create",
    "/tasks/start",
    "/tasks/exit",
    "/tasks/delete",
    "/containers/delete",
)
BPFTRACE_CGROUP = (
    'tracepoint:cgroup:cgroup_mkdir { printf("MKDIR %d %s\\n", args->root, str(args->path)); }'
)


@dataclass
class Witness:
    """An independent tool's output lines, read on a thread while it runs."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in ln for ln in self.lines) and time.monotonic() < deadline:
            assert self.proc.poll() is None, f"{self.proc.args[0]} ended: {self.lines[-3:]}"
            time.sleep(0.02)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def spawn(argv: list[str], **env: str) -> Witness:
    return Witness(
        subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **env},
        )
    )


@dataclass
class LiveRun:
    events: list[Event]
    cid: str
    ctr: list[str]
    bpftrace: list[str]
    missing_dirs: list[str]
    upper: str | None


@pytest.fixture(scope="module")
def run(demo_image: str) -> Iterator[LiveRun]:
    need(shutil.which("ctr") is not None, "no ctr (Debian's containerd package ships it)")
    need(shutil.which("bpftrace") is not None, "no bpftrace (apt-get install bpftrace)")
    ctr = spawn(["ctr", "events"])
    bt = spawn(["bpftrace", "-e", BPFTRACE_CGROUP], BPFTRACE_STRLEN="200")
    name = f"dockertrace-boundaries-{os.getpid()}"
    try:
        bt.wait_for("Attaching")
        with LiveSession(backend="bcc") as s:
            r = s.run_docker(["run", "--name", name, demo_image, "echo", "hi"])
            assert r.returncode == 0 and r.stdout == b"hi\n", r.stderr
            cid, merged = subprocess.run(
                ["docker", "inspect", "-f", "{{.Id}} {{.GraphDriver.Data.MergedDir}}", name],
                capture_output=True,
                text=True,
            ).stdout.split()
            # the layers must exist while the container does: look before it is removed
            mounts = [
                e
                for e in s.snapshot()
                if e.kind == "sys.mount"
                and e.detail.get("target") == merged
                and e.detail.get("fstype") == "overlay"
            ]
            assert mounts, "no overlay mount of the container seen"
            layers = overlay_layers(mounts[-1].detail.get("data"))
            assert layers is not None, mounts[-1].detail
            missing = [d for d in (*layers.lower, layers.upper or "") if not os.path.isdir(d)]
            subprocess.run(["docker", "rm", name], capture_output=True, check=True)
            time.sleep(0.5)  # /containers/delete reaches both subscribers
            events = s.snapshot()
        ctr.wait_for("/containers/delete")
        yield LiveRun(events, cid, ctr.lines, bt.lines, missing, layers.upper)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        ctr.stop()
        bt.stop()


def of(run: LiveRun, kind: str) -> list[Event]:
    return [e for e in run.events if e.kind == kind]


def test_containerd_topics_match_ctr_events(run: LiveRun) -> None:
    ours = [
        e.detail["topic"]
        for e in of(run, "containerd.event")
        if e.detail["container_id"] == run.cid
    ]
    theirs = []
    for line in run.ctr:
        rec = parse_ctr_line(line)
        if rec and run.cid in json.dumps(rec.payload):
            theirs.append(rec.topic)
    assert ours == theirs and set(TOPICS) <= set(ours)
    unavailable = of(run, "source.unavailable")
    assert unavailable == [], unavailable


def test_containerd_clock_lands_among_the_kernel_events(run: LiveRun) -> None:
    start = next(e for e in of(run, "containerd.event") if e.detail["topic"] == "/tasks/create")
    runc = [
        e
        for e in of(run, "proc.exec")
        if run.cid in " ".join(e.detail.get("argv") or [])
        and "create" in (e.detail.get("argv") or [])
    ]
    assert runc, "no runc create"
    # /tasks/create is published when the shim's create returns: after runc create began
    gap_ms = (start.time_ns - runc[0].time_ns) / 1e6
    assert 0 < gap_ms < 2000, gap_ms


def test_cgroup_paths_match_bpftrace(run: LiveRun) -> None:
    ours = sorted(
        (e.detail["root"], e.detail["path"])
        for e in of(run, "cgroup.mkdir")
        if e.detail["container_id"] == run.cid
    )
    theirs = sorted(
        (int(ln.split()[1]), ln.split()[2])
        for ln in run.bpftrace
        if ln.startswith("MKDIR ") and run.cid in ln
    )
    assert ours and ours == theirs
    attached = [e for e in of(run, "cgroup.attach") if e.detail["container_id"] == run.cid]
    assert {e.detail["root"] for e in attached} == {root for root, _ in ours}


def test_overlay_layers_exist_under_the_graph_driver(run: LiveRun) -> None:
    assert run.missing_dirs == []
    assert run.upper is not None and run.upper.startswith("/var/lib/docker/overlay2/")


def test_the_oci_spec_runc_got(run: LiveRun) -> None:
    [spec] = [e for e in of(run, "oci.spec") if e.detail.get("container_id") == run.cid]
    assert "error" not in spec.detail, spec.detail
    assert spec.detail["args"] == ["echo", "hi"]
    assert {"pid", "network", "mount", "uts", "ipc"} <= set(spec.detail["namespaces"])
    assert run.cid in str(spec.detail["cgroups_path"])


def test_dockerd_writes_the_container_record(run: LiveRun) -> None:
    renames = [e for e in of(run, "sys.rename") if e.detail["container_id"] == run.cid]
    names = {os.path.basename(e.detail["path"]) for e in renames}
    assert names == {"config.v2.json", "hostconfig.json"}
    assert {e.layer for e in renames} == {"dockerd"}


def test_the_output_s_four_hops(run: LiveRun) -> None:
    create = next(e for e in of(run, "containerd.event") if e.detail["topic"] == "/tasks/create")
    fifo = create.detail["payload"]["io"]["stdout"]
    own = [
        e for e in of(run, "sys.write") if e.layer == "container" and e.detail["excerpt"] == "hi\n"
    ]
    shim = [e for e in of(run, "sys.write") if e.detail["path"] == fifo]
    read = [e for e in of(run, "sys.read") if e.detail["path"] == fifo and e.layer == "dockerd"]
    frame = [e for e in of(run, "stream.frame") if e.detail.get("stream") == "stdout"]
    assert own and shim and read and frame, (len(own), len(shim), len(read), len(frame))
    assert own[0].detail["fd"] == 1 and shim[0].layer == "shim"
    assert own[0].time_ns <= shim[0].time_ns <= read[0].time_ns <= frame[0].time_ns
    assert read[0].detail["excerpt"] == "hi\n"
    # only the container's own processes: no write of dockerd, containerd or the CLI to fd 1/2
    assert {e.layer for e in of(run, "sys.write") if e.detail["path"] is None} == {"container"}


def test_a_chatty_container_is_capped_in_the_kernel(demo_image: str) -> None:
    """200 writes of one process: the first io_max (64) are sent, the rest stay in the kernel;
    the output itself is whole."""
    loop = "i=0; while [ $i -lt 200 ]; do echo line$i; i=$((i+1)); done"
    with LiveSession(backend="bcc") as s:
        r = s.run_docker(["run", "--rm", demo_image, "sh", "-c", loop])
        events = s.snapshot()
        lost = s.source.lost_events()
    assert r.returncode == 0 and r.stdout.count(b"\n") == 200
    writes = [e for e in events if e.kind == "sys.write" and e.layer == "container"]
    by_pid: dict[int, int] = {}
    for e in writes:
        by_pid[e.pid] = by_pid.get(e.pid, 0) + 1
    assert max(by_pid.values()) == 64 and lost == 0, by_pid
    assert writes[0].detail["excerpt"] == "line0\n"
