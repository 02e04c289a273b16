"""Names for what probes see: CLONE_* and namespace flags, runc stages, the layer of a process."""

from __future__ import annotations

import os
from collections.abc import Sequence

from tracer.events import Layer

# include/uapi/linux/sched.h; the namespace ones double as unshare() and setns() nstype flags.
CLONE_FLAGS: dict[int, str] = {
    0x00000100: "CLONE_VM",
    0x00000200: "CLONE_FS",
    0x00000400: "CLONE_FILES",
    0x00000800: "CLONE_SIGHAND",
    0x00001000: "CLONE_PIDFD",
    0x00002000: "CLONE_PTRACE",
    0x00004000: "CLONE_VFORK",
    0x00008000: "CLONE_PARENT",
    0x00010000: "CLONE_THREAD",
    0x00020000: "CLONE_NEWNS",
    0x00040000: "CLONE_SYSVSEM",
    0x00080000: "CLONE_SETTLS",
    0x00100000: "CLONE_PARENT_SETTID",
    0x00200000: "CLONE_CHILD_CLEARTID",
    0x00400000: "CLONE_DETACHED",
    0x00800000: "CLONE_UNTRACED",
    0x01000000: "CLONE_CHILD_SETTID",
    0x02000000: "CLONE_NEWCGROUP",
    0x04000000: "CLONE_NEWUTS",
    0x08000000: "CLONE_NEWIPC",
    0x10000000: "CLONE_NEWUSER",
    0x20000000: "CLONE_NEWPID",
    0x40000000: "CLONE_NEWNET",
    0x80000000: "CLONE_IO",
    0x100000000: "CLONE_CLEAR_SIGHAND",
    0x200000000: "CLONE_INTO_CGROUP",
}
CLONE_PARENT = 0x00008000
CLONE_THREAD = 0x00010000
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080  # shares its bit with CSIGNAL, so it only means this for unshare/setns

NAMESPACE_FLAGS: dict[int, str] = {
    CLONE_NEWTIME: "CLONE_NEWTIME",
    **{bit: name for bit, name in CLONE_FLAGS.items() if name.startswith("CLONE_NEW")},
}
NAMESPACE_KINDS: dict[int, str] = {
    CLONE_NEWTIME: "time",
    CLONE_NEWNS: "mnt",
    0x02000000: "cgroup",
    CLONE_NEWUTS: "uts",
    CLONE_NEWIPC: "ipc",
    0x10000000: "user",
    CLONE_NEWPID: "pid",
    CLONE_NEWNET: "net",
}
SIGNALS: dict[int, str] = {
    1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
    8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE",
    14: "SIGALRM", 15: "SIGTERM", 17: "SIGCHLD",
}  # fmt: skip
AF_UNIX = 1

# MS_* from include/uapi/linux/mount.h, the ones a container's setup uses.
MOUNT_FLAGS: dict[int, str] = {
    1: "MS_RDONLY", 2: "MS_NOSUID", 4: "MS_NODEV", 8: "MS_NOEXEC", 16: "MS_SYNCHRONOUS",
    32: "MS_REMOUNT", 1024: "MS_NOATIME", 4096: "MS_BIND", 8192: "MS_MOVE", 16384: "MS_REC",
    1 << 15: "MS_SILENT", 1 << 17: "MS_PRIVATE", 1 << 18: "MS_SLAVE", 1 << 19: "MS_SHARED",
    1 << 21: "MS_STRICTATIME",
}  # fmt: skip


def _names(flags: int, table: dict[int, str]) -> list[str]:
    return [name for bit, name in sorted(table.items()) if flags & bit]


def clone_flag_names(flags: int) -> list[str]:
    """CLONE_* names of a clone()/clone3() flags word; the low byte (exit signal) is not a flag."""
    names = _names(flags & ~0xFF, CLONE_FLAGS)
    signal = flags & 0xFF
    if signal:
        names.append(SIGNALS.get(signal, f"signal {signal}"))
    return names


def namespace_flag_names(flags: int) -> list[str]:
    """CLONE_NEW* names of an unshare() flags word (other sharing flags are named too)."""
    names = _names(flags, NAMESPACE_FLAGS)
    rest = flags & ~sum(NAMESPACE_FLAGS)
    return names + [n for n in _names(rest, CLONE_FLAGS) if n not in names]


def nstype_name(nstype: int) -> str:
    """setns()'s nstype: 0 means 'any kind, the fd decides'."""
    if nstype == 0:
        return "any"
    names = [NAMESPACE_KINDS[bit] for bit in sorted(NAMESPACE_KINDS) if nstype & bit]
    return "|".join(names) if names else hex(nstype)


def mount_flag_names(flags: int) -> list[str]:
    return _names(flags, MOUNT_FLAGS)


def unix_path(raw: bytes, addrlen: int) -> str:
    """A sockaddr_un's sun_path: abstract names (leading NUL) come back with a leading '@'."""
    path = raw[: max(0, addrlen - 2)] if addrlen > 2 else raw
    if path.startswith(b"\0"):
        return "@" + path[1:].split(b"\0", 1)[0].decode(errors="replace")
    return path.split(b"\0", 1)[0].decode(errors="replace")


RUNC_INIT_STAGE = "runc:[2:INIT]"


# How a program runs a file descriptor: runc's sealed copy of itself (runc ≥ 1.1.12's memfd
# "runc_cloned:/proc/self/exe" through fexecve, exec'd as /dev/fd/N; runc 1.2's /proc/self/fd/N,
# a memfd or its overlay-sealed binary) gets the comm "N" ("5", "6", "7").
FD_EXEC = ("/proc/self/fd/", "/dev/fd/", "/memfd:")


def is_runc_init(filename: str, argv: Sequence[str]) -> bool:
    """runc's `runc init` re-exec: /proc/self/exe, a sealed copy run by fd (numeric comm) or runc
    itself, always with `init` as its first argument."""
    if len(argv) < 2 or argv[1] != "init":
        return False
    base = os.path.basename(argv[0])
    return (
        base == "runc"
        or filename.startswith(("/proc/self/", *FD_EXEC))
        or "runc" in os.path.basename(filename)
    )


def layer_of_exec(
    filename: str,
    argv: Sequence[str],
    old_layer: Layer | None,
    old_comm: str,
    runc_sibling: bool = False,
) -> Layer:
    """The layer of a process right after it exec'd `filename`: by what it runs, and for the
    container's first process by who exec'd it: runc's last stage, known by its name or, where
    names lag (tracefs), by how it was made (`runc_sibling`: a runc process's CLONE_PARENT)."""
    base = os.path.basename(filename)
    if base in ("docker", "docker.exe"):
        return "cli"
    if base == "dockerd":
        return "dockerd"
    if base == "containerd":
        return "containerd"
    if base.startswith("containerd-shim"):
        return "shim"
    if base == "runc" or is_runc_init(filename, argv):
        return "runc"
    if old_comm == RUNC_INIT_STAGE or old_layer == "container":
        # Whatever runc's last stage runs is the container's, by path or by fd (runc 1.2's
        # runc-dmz, a sealed memfd that then execs the command).
        return "container"
    if old_layer not in (None, "container", "kernel") and filename.startswith(
        ("/proc/self/exe", *FD_EXEC)
    ):
        return old_layer  # a program re-executing itself (dockerd's and runc's re-exec)
    if old_layer == "runc" and runc_sibling:
        return "container"
    return "kernel"


def layer_of_comm(comm: str, cmdline: Sequence[str] = ()) -> Layer:
    """The layer of a process seen without its exec (already running when tracing started)."""
    if comm.startswith("runc:[") or comm == "runc":
        return "runc"
    if comm.startswith("containerd-shim"):
        return "shim"
    if comm in ("docker", "dockerd", "containerd"):
        return {"docker": "cli", "dockerd": "dockerd", "containerd": "containerd"}[comm]  # type: ignore[return-value]
    if cmdline:
        return layer_of_exec(cmdline[0], cmdline, None, "")
    return "kernel"


# O_* of open(2)'s flags (x86_64/arm64 values; O_RDONLY is 0: named when neither bit is set)
OPEN_FLAGS: dict[int, str] = {
    0o1: "O_WRONLY", 0o2: "O_RDWR", 0o100: "O_CREAT", 0o200: "O_EXCL", 0o1000: "O_TRUNC",
    0o2000: "O_APPEND", 0o4000: "O_NONBLOCK", 0o200000: "O_DIRECTORY", 0o2000000: "O_CLOEXEC",
    0o10000000: "O_PATH",
}  # fmt: skip


def open_flag_names(flags: int) -> list[str]:
    names = _names(flags, OPEN_FLAGS)
    return names if flags & 0o10000003 else ["O_RDONLY", *names]  # O_PATH: neither
