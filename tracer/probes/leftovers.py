"""What of ours may outlive a run: BPF maps (by their dt_ names) and tracefs instances."""

from __future__ import annotations

import ctypes
import os
import platform

from tracer.probes.base import tracefs_root

INSTANCE_PREFIX = "dockertrace-"
MAP_PREFIX = b"dt_"
SYS_BPF = {"x86_64": 321, "aarch64": 280, "riscv64": 280}.get(platform.machine(), 321)
BPF_MAP_GET_NEXT_ID, BPF_MAP_GET_FD_BY_ID, BPF_OBJ_GET_INFO_BY_FD = 12, 14, 15
MAP_INFO_SIZE = 88  # struct bpf_map_info up to and including name[16]
MAP_NAME_OFFSET = 24  # type, id, key_size, value_size, max_entries, map_flags: 6 x u32

_libc = ctypes.CDLL(None, use_errno=True)


def _bpf(cmd: int, attr: ctypes.Array[ctypes.c_char]) -> int:
    return int(_libc.syscall(SYS_BPF, cmd, attr, len(attr)))


def map_name(map_id: int) -> str | None:
    """The name of a loaded BPF map, or None if no map has that id (any more)."""
    attr = ctypes.create_string_buffer(16)
    ctypes.c_uint32.from_buffer(attr, 0).value = map_id
    fd = _bpf(BPF_MAP_GET_FD_BY_ID, attr)
    if fd < 0:
        return None
    try:
        info = ctypes.create_string_buffer(MAP_INFO_SIZE)
        attr = ctypes.create_string_buffer(16)
        ctypes.c_uint32.from_buffer(attr, 0).value = fd
        ctypes.c_uint32.from_buffer(attr, 4).value = MAP_INFO_SIZE
        ctypes.c_uint64.from_buffer(attr, 8).value = ctypes.addressof(info)
        if _bpf(BPF_OBJ_GET_INFO_BY_FD, attr) != 0:
            return ""
        raw = info.raw[MAP_NAME_OFFSET : MAP_NAME_OFFSET + 16]
        return raw.split(b"\0", 1)[0].decode(errors="replace")
    finally:
        os.close(fd)


def loaded_map_names() -> list[str]:
    """Names of every BPF map loaded in the kernel now (needs root)."""
    names = []
    next_id = 0
    while True:
        attr = ctypes.create_string_buffer(16)
        ctypes.c_uint32.from_buffer(attr, 0).value = next_id
        if _bpf(BPF_MAP_GET_NEXT_ID, attr) < 0:
            break
        next_id = ctypes.c_uint32.from_buffer(attr, 4).value
        name = map_name(next_id)
        if name is not None:
            names.append(name)
    return names


def held_maps(pid: int) -> dict[int, str]:
    """Our maps (dt_ names) that process `pid` holds open: map id -> name."""
    held: dict[int, str] = {}
    fd_dir = f"/proc/{pid}/fd"
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return held
    for fd in fds:
        try:
            if os.readlink(os.path.join(fd_dir, fd)) != "anon_inode:bpf-map":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                info = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        map_id = int(info.get("map_id", "0").strip() or 0)
        name = map_name(map_id) if map_id else None
        if name and name.encode().startswith(MAP_PREFIX):
            held[map_id] = name
    return held


def our_maps() -> list[str]:
    return [n for n in loaded_map_names() if n.encode().startswith(MAP_PREFIX)]


def our_instances() -> list[str]:
    root = tracefs_root()
    if root is None:
        return []
    try:
        entries = os.listdir(os.path.join(root, "instances"))
    except OSError:
        return []
    return sorted(
        os.path.join(root, "instances", e) for e in entries if e.startswith(INSTANCE_PREFIX)
    )


def leftovers() -> list[str]:
    """One line per object of ours still in the kernel; empty when all is clean."""
    found = [f"BPF map {name}" for name in our_maps()]
    found += [f"tracefs instance {path}" for path in our_instances()]
    return found
