"""The boundary records (cgroup, engine files, the output's bytes) from bcc and tracefs, decoded."""

from __future__ import annotations

import re

from tests.unit.test_probes_bcc_program import record
from tracer.probes.bcc.boundary import (
    EV_CGROUP_ATTACH,
    EV_CGROUP_MKDIR,
    EV_OPENAT,
    EV_READ,
    EV_RENAME,
    EV_WRITE,
    PURPOSE_FIFO,
    PURPOSE_META,
)
from tracer.probes.bcc.decode import EV_MOUNT, Decoder
from tracer.probes.bcc.probe import attachments, build_program, program_source, words_equal
from tracer.probes.lineage import Lineage
from tracer.probes.tracefs.decode import HostView, TracefsDecoder
from tracer.probes.tracefs.parse import parse_line

CID = "5edd89db255a8377683d412195f2a9887cd3d297ea5860d00ba94965e12b230c"
FIFO = f"/var/run/docker/containerd/{CID}/init-stdout"
META = f"/var/lib/docker/containers/{CID}"
HEAD = "            runc-1477    (   1477) [001] ....."  # a trace_pipe line's start


def decoder() -> Decoder:
    lineage = Lineage(lookup=lambda pid: None)
    lineage.seed(10, 1, "runc", ["runc", "create"])
    lineage.seed(20, 1, "dockerd", ["/usr/sbin/dockerd"])
    lineage.seed(30, 1, "containerd-shim", ["/usr/bin/containerd-shim-runc-v2"])
    return Decoder(lineage)


def test_the_program_attaches_the_boundary_tracepoints() -> None:
    pairs = dict(attachments(program_source()))
    wanted = ["cgroup:cgroup_mkdir", "cgroup:cgroup_attach_task"] + [
        f"syscalls:sys_{tp}"
        for tp in ("enter_openat", "exit_openat", "enter_renameat2", "enter_write", "exit_read")
    ]
    assert [tp for tp in wanted if tp not in pairs] == []


def test_prefix_tests_are_words_compared_in_the_kernel() -> None:
    test = words_equal("w", b"/proc/self/fd/")  # 14 bytes: one word and 6 bytes masked
    assert (
        test == "(w[0] == 0x65732f636f72702fULL && (w[1] & 0xffffffffffffULL) == 0x2f64662f666cULL)"
    )
    text = build_program()
    assert "0x6c2f7261762fULL" not in text  # never a byte loop: only whole-word tests
    assert len(re.findall(r"w\[3\] & 0xffffffULL", text)) >= 2  # the 27-byte prefixes


def test_cgroup_mkdir_v1_and_v2() -> None:
    d = decoder()
    v1 = d.decode(
        record(EV_CGROUP_MKDIR, comm=b"runc", s0=f"/docker/{CID}".encode(), a0=3, a1=2, ret=3298)
    )
    assert v1 is not None and v1.kind == "cgroup.mkdir" and v1.layer == "runc"
    assert v1.detail == {"path": f"/docker/{CID}", "root": 3, "level": 2, "id": 3298,
                         "container_id": CID}  # fmt: skip
    v2 = d.decode(record(EV_CGROUP_MKDIR, s0=f"/system.slice/docker-{CID}.scope".encode(), a0=0))
    assert v2 is not None and v2.detail["root"] == 0 and v2.detail["container_id"] == CID


def test_cgroup_attach_names_the_task() -> None:
    e = decoder().decode(
        record(
            EV_CGROUP_ATTACH, s0=f"/docker/{CID}".encode(), a0=5, how=31641, comm2=b"runc:[2:INIT]"
        )
    )
    assert e is not None and e.kind == "cgroup.attach"
    assert e.detail["pid"] == 31641 and e.detail["attached_comm"] == "runc:[2:INIT]"


def test_mount_data_and_its_layers() -> None:
    data = f"index=off,lowerdir=/l/A:/l/B,upperdir={META}/diff,workdir={META}/work"
    e = decoder().decode(
        record(EV_MOUNT, pid=20, s0=b"overlay", s1=b"/m/merged", s2=b"overlay"),
        data.encode() + b"\0",
    )
    assert e is not None and e.detail["data"] == data and "data_truncated" not in e.detail
    assert e.detail["layers"] == {"lower": 2, "upper": f"{META}/diff"}
    cut = decoder().decode(record(EV_MOUNT, s2=b"overlay", how=1), b"lowerdir=/l/A:/l/")
    assert cut is not None and cut.detail["data_truncated"] is True
    proc = decoder().decode(record(EV_MOUNT, s2=b"proc"), b"")
    assert proc is not None and proc.detail["data"] is None and "layers" not in proc.detail


def test_metadata_writes_and_renames_only() -> None:
    d = decoder()
    tmp = f"{META}/.tmp-config.v2.json4123537366"
    opened = d.decode(
        record(
            EV_OPENAT,
            pid=20,
            comm=b"dockerd",
            s0=tmp.encode(),
            a0=0x800C2,
            how=PURPOSE_META,
            ret=24,
        )
    )
    assert opened is not None and opened.kind == "sys.openat" and opened.layer == "dockerd"
    assert opened.detail["flag_names"] == ["O_RDWR", "O_CREAT", "O_EXCL", "O_CLOEXEC"]
    assert opened.detail["purpose"] == "metadata" and opened.detail["container_id"] == CID
    hosts = record(
        EV_OPENAT, pid=20, s0=f"{META}/hosts".encode(), a0=0x80241, how=PURPOSE_META, ret=3
    )
    assert d.decode(hosts) is None  # under the directory, but not the container's record
    reading = record(
        EV_OPENAT, pid=20, s0=f"{META}/config.v2.json".encode(), a0=0x80000, how=PURPOSE_META
    )
    assert d.decode(reading) is None
    renamed = d.decode(
        record(EV_RENAME, pid=20, s0=f"{META}/config.v2.json".encode(), s1=tmp.encode())
    )
    assert renamed is not None and renamed.kind == "sys.rename"
    assert renamed.detail["path"].endswith("/config.v2.json") and renamed.detail["old_path"] == tmp


def test_the_output_s_four_hops_with_go_s_fifo_reopen() -> None:
    d = decoder()
    o_path = record(EV_OPENAT, pid=20, s0=FIFO.encode(), a0=0x280000, how=PURPOSE_FIFO, ret=26)
    assert d.decode(o_path) is not None
    reopen = d.decode(
        record(EV_OPENAT, pid=20, s0=b"/proc/self/fd/26", a0=0x80000, how=PURPOSE_FIFO, ret=28)
    )
    assert reopen is not None and reopen.detail["path"] == FIFO
    assert reopen.detail["opened_as"] == "/proc/self/fd/26"
    other = record(EV_OPENAT, pid=20, s0=b"/proc/self/fd/9", how=PURPOSE_FIFO, ret=40)
    assert d.decode(other) is None  # a reopen of something that is not a FIFO we know
    d.decode(record(EV_OPENAT, pid=30, s0=FIFO.encode(), a0=0x80001, how=PURPOSE_FIFO, ret=17))
    own = d.decode(record(EV_WRITE, pid=40, comm=b"echo", a0=1, a1=3, argc=3, s0=b"hi\n"), b"hi\n")
    shim = d.decode(record(EV_WRITE, pid=30, a0=17, a1=3, how=1, s0=b"hi\n"), b"hi\n")
    read = d.decode(record(EV_READ, pid=20, a0=28, a1=3, s0=b"hi\n"), b"hi\n")
    assert own is not None and own.detail == {
        "fd": 1,
        "size": 3,
        "excerpt": "hi\n",
        "path": None,
        "ret": None,
    }
    assert shim is not None and shim.layer == "shim" and shim.detail["path"] == FIFO
    assert read is not None and read.kind == "sys.read" and read.layer == "dockerd"
    assert read.detail["path"] == FIFO and read.detail["excerpt"] == "hi\n"
    assert d.decode(record(EV_READ, pid=20, a0=99, a1=3)) is None  # not a FIFO we know


def test_excerpt_keeps_binary_bytes_visible() -> None:
    e = decoder().decode(record(EV_WRITE, pid=40, a0=2, a1=100, argc=4), b"\x00\xffok")
    assert e is not None and e.detail["excerpt"] == "\x00\ufffdok" and e.detail["size"] == 100


def tracefs_decoder() -> TracefsDecoder:
    view = HostView(lambda p: None, lambda p: None, lambda t: None, lambda p: None, lambda p: None)
    lineage = Lineage(lookup=lambda pid: None)
    lineage.seed(1477, 1, "runc", ["runc", "create"])
    return TracefsDecoder(lineage, view)


def test_tracefs_cgroup_lines() -> None:
    d = tracefs_decoder()
    mk = parse_line(f"{HEAD}  1101.283318: cgroup_mkdir: root=3 id=3334 level=2 path=/docker/{CID}")
    at = parse_line(
        f"{HEAD}  1101.292119: cgroup_attach_task: dst_root=0 dst_id=3521 dst_level=2 "
        f"dst_path=/docker/{CID} pid=1486 comm=runc"
    )
    assert mk is not None and at is not None
    [e] = d.feed(mk)
    assert e.kind == "cgroup.mkdir" and e.detail["root"] == 3 and e.detail["container_id"] == CID
    [a] = d.feed(at)
    assert a.kind == "cgroup.attach" and a.detail["pid"] == 1486 and a.detail["root"] == 0
    garbled = parse_line(f"{HEAD}  1101.3: cgroup_mkdir: root=x")
    assert garbled is not None and d.feed(garbled) == []


def test_tracefs_mount_data_is_marked_unreadable() -> None:
    d = tracefs_decoder()
    enter = parse_line(
        f"{HEAD} 1.000001: sys_mount(dev_name: 1, dir_name: 2, type: 3, flags: 0, data: 4)"
    )
    leave = parse_line(f"{HEAD} 1.000002: sys_mount -> 0x0")
    assert enter is not None and leave is not None
    assert d.feed(enter) == []
    [e] = d.feed(leave)
    assert e.detail["data"] is None and "data" in e.detail["unreadable"]
