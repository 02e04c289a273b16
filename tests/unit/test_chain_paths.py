"""Container ids in cgroup and engine paths (v1, v2, systemd, containerd), overlay layers, lines."""

from __future__ import annotations

from tracer.chain.paths import (
    container_id_of_cgroup,
    container_id_of_path,
    overlay_layers,
)
from tracer.events import Event
from tracer.text.describe import describe

CID = "5edd89db255a8377683d412195f2a9887cd3d297ea5860d00ba94965e12b230c"


def test_cgroup_paths_v1_and_v2() -> None:
    assert container_id_of_cgroup(f"/docker/{CID}") == CID  # v1 cgroupfs (here), and v2 alike
    assert container_id_of_cgroup(f"/system.slice/docker-{CID}.scope") == CID  # systemd driver
    assert container_id_of_cgroup(f"/moby/{CID}") == CID  # containerd's default parent
    kube = f"/kubepods.slice/kubepods-burstable.slice/cri-containerd-{CID}.scope"
    assert container_id_of_cgroup(kube) == CID
    assert container_id_of_cgroup(f"/machine.slice/libpod-{CID}.scope/container") == CID
    assert container_id_of_cgroup("/docker") is None
    assert container_id_of_cgroup(f"/docker/{CID[:12]}") is None  # a short id is not enough
    assert container_id_of_cgroup("/") is None


def test_engine_paths() -> None:
    assert container_id_of_path(f"/var/lib/docker/containers/{CID}/config.v2.json") == CID
    assert container_id_of_path(f"/var/run/docker/containerd/{CID}/init-stdout") == CID
    assert container_id_of_path("/var/lib/docker/overlay2/l/ABC") is None


def test_overlay_layers() -> None:
    data = "index=off,lowerdir=/o/l/A:/o/l/B,upperdir=/o/X/diff,workdir=/o/X/work"
    layers = overlay_layers(data)
    assert layers is not None and layers.lower == ("/o/l/A", "/o/l/B")
    assert layers.upper == "/o/X/diff" and layers.work == "/o/X/work" and layers.count == 3
    read_only = overlay_layers(r"lowerdir=/a\:b:/c")  # an escaped colon stays in its path
    assert read_only is not None and read_only.lower == ("/a:b", "/c") and read_only.count == 2
    assert overlay_layers("mode=755,size=65536k") is None and overlay_layers(None) is None


def line(kind: str, **detail: object) -> str:
    return describe(Event(0, "bpf", "kernel", kind, detail=detail))


def test_each_new_kind_reads_as_one_line() -> None:
    fifo = f"/var/run/docker/containerd/{CID}/init-stdout"
    assert line("cgroup.mkdir", path=f"/docker/{CID}", root=3) == (
        "mkdir cgroup /docker/5edd89db255a… (v1 hierarchy 3)"
    )
    assert line("cgroup.attach", path=f"/docker/{CID}", root=0, pid=9) == (
        "pid 9 joins cgroup /docker/5edd89db255a… (cgroup v2)"
    )
    assert line("sys.read", fd=28, size=3, excerpt="hi\n", path=fifo) == (
        'read from init-stdout: "hi\\n" (3 B)'
    )
    assert (
        line("sys.write", fd=1, size=3, excerpt="hi\n", path=None) == 'write to fd 1: "hi\\n" (3 B)'
    )
    assert line("sys.rename", path="/c/config.v2.json", old_path="/c/.tmp-config.v2.json1") == (
        "rename .tmp-config.v2.json1 → config.v2.json"
    )
    mount = line("sys.mount", fstype="overlay", target="/m", data="lowerdir=/a:/b,upperdir=/u")
    assert mount == "mount overlay on /m (2 read-only layers + a writable upperdir)"
    payload = {"container_id": CID, "pid": 26284}
    event = line("containerd.event", topic="/tasks/start", namespace="moby", container_id=CID,
                 payload=payload)  # fmt: skip
    assert event == "containerd event /tasks/start [moby] 5edd89db255a pid 26284"
    assert line("oci.spec", error="gone: x") == "OCI spec unreadable: gone: x"
    assert line("oci.spec", args=["echo", "hi"], namespaces=["pid", "mount"], mounts=10) == (
        'OCI spec: run "echo hi", namespaces pid,mount, 10 mounts'
    )
    assert line("source.unavailable", source="containerd-events", reason="no ctr") == (
        "containerd-events unavailable: no ctr"
    )
