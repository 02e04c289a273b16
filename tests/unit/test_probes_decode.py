"""Flag and name decoding, and the layer a process belongs to by what it runs and who made it."""

from __future__ import annotations

from tracer.events import NAMESPACE_FLAGS
from tracer.probes.decode import (
    clone_flag_names,
    is_runc_init,
    layer_of_comm,
    layer_of_exec,
    mount_flag_names,
    namespace_flag_names,
    nstype_name,
    unix_path,
)
from tracer.probes.lineage import Lineage

FIVE = list(NAMESPACE_FLAGS)


def test_runc_unshare_flags_are_the_five_namespaces() -> None:
    assert namespace_flag_names(0x6C020000) == FIVE


def test_clone_parent_with_its_exit_signal() -> None:
    assert clone_flag_names(0x8011) == ["CLONE_PARENT", "SIGCHLD"]


def test_go_thread_clone_and_vfork() -> None:
    assert "CLONE_THREAD" in clone_flag_names(0x7D0F00)
    assert clone_flag_names(0x4111) == ["CLONE_VM", "CLONE_VFORK", "SIGCHLD"]


def test_clone3_high_flags() -> None:
    assert clone_flag_names(0x200000000) == ["CLONE_INTO_CGROUP"]


def test_unknown_bits_are_not_invented() -> None:
    assert namespace_flag_names(0) == []
    assert clone_flag_names(0) == []


def test_setns_nstype() -> None:
    assert nstype_name(0x40000000) == "net"
    assert nstype_name(0) == "any"
    assert nstype_name(0x20020000) == "mnt|pid"


def test_mount_flags() -> None:
    assert mount_flag_names(0x5000) == ["MS_BIND", "MS_REC"]
    assert mount_flag_names(0x84000) == ["MS_REC", "MS_SHARED"]


def test_unix_paths_plain_and_abstract() -> None:
    raw = b"/var/run/docker.sock\0garbage"
    assert unix_path(raw, 2 + len("/var/run/docker.sock") + 1) == "/var/run/docker.sock"
    assert unix_path(b"\0containerd-shim/abc\0\0", 2 + 1 + 19) == "@containerd-shim/abc"
    assert unix_path(b"/run/x.sock" + b"\0" * 97, 110) == "/run/x.sock"


def test_runc_init_reexec_is_matched_on_argv_not_comm() -> None:
    assert is_runc_init("/proc/self/exe", ["runc", "init"])
    assert is_runc_init("/memfd:runc_cloned:/usr/bin/runc (deleted)", ["7", "init"])
    assert is_runc_init("/dev/fd/6", ["runc", "init"])
    assert not is_runc_init("/proc/self/exe", ["set-ipv6", "/var/run/docker/netns/x"])
    assert layer_of_exec("/dev/fd/6", ["runc", "init"], "runc", "exe") == "runc"


def test_layers_by_program() -> None:
    assert layer_of_exec("/usr/local/bin/docker", ["docker", "run"], "kernel", "python") == "cli"
    assert layer_of_exec("/usr/bin/containerd-shim-runc-v2", [], "containerd", "x") == "shim"
    assert layer_of_exec("/usr/sbin/runc", ["runc", "create"], "shim", "x") == "runc"
    assert layer_of_exec("/usr/bin/dockerd", [], None, "") == "dockerd"
    assert layer_of_exec("/usr/bin/iptables", [], "dockerd", "dockerd") == "kernel"


def test_dockerd_reexec_keeps_its_layer() -> None:
    assert layer_of_exec("/proc/self/exe", ["set-ipv6"], "dockerd", "dockerd") == "dockerd"


def test_container_by_name_or_by_structure() -> None:
    assert layer_of_exec("/bin/echo", ["echo", "hi"], "runc", "runc:[2:INIT]") == "container"
    assert layer_of_exec("/bin/echo", [], "runc", "runc:[1:CHILD]", runc_sibling=True) == (
        "container"
    )
    assert layer_of_exec("/bin/sh", [], "container", "sh") == "container"
    assert layer_of_exec("/bin/echo", [], "runc", "runc") == "kernel"


def test_layer_of_running_processes() -> None:
    assert layer_of_comm("runc:[2:INIT]") == "runc"
    assert layer_of_comm("containerd-shim") == "shim"
    assert layer_of_comm("dockerd") == "dockerd"


def test_lineage_clone_parent_makes_a_sibling() -> None:
    lin = Lineage(lookup=lambda pid: None)
    lin.seed(100, 1, "runc", ["runc", "create"])
    lin.on_fork(100, 101, 0x4111, "runc")  # vfork: a child
    lin.on_exec(101, "/proc/self/exe", ["runc", "init"], "runc", "exe")
    lin.on_fork(101, 102, 0x8011, "runc:[0:PARENT]")  # CLONE_PARENT: 100's child, not 101's
    lin.on_fork(102, 103, 0x8011, "runc:[1:CHILD]")
    assert lin.get(101).ppid == 100 and lin.get(102).ppid == 100 and lin.get(103).ppid == 100
    known = lin.on_exec(103, "/bin/echo", ["echo", "hi"], "runc:[1:CHILD]", "echo")
    assert known.layer == "container"
    lin.on_fork(103, 104, 0x4111, "echo")
    assert lin.get(104).layer == "container"
    assert lin.on_exit(104).layer == "container"
    assert lin.on_exit(999).layer == "kernel"


def test_lineage_proc_pid_exe_runs_that_programs_layer() -> None:
    lin = Lineage(lookup=lambda pid: None)
    lin.seed(3208, 1, "dockerd", ["dockerd"])
    lin.seed(50, 1, "runc", ["runc", "create"])
    lin.on_fork(50, 51, 0x4111, "runc")
    assert lin.on_exec(51, "/proc/3208/exe", ["libnetwork-setkey"], "runc", "exe").layer == (
        "dockerd"
    )
