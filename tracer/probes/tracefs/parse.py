"""Sans-I/O parsing of trace_pipe lines (with options/record-tgid) into records and arguments."""

from __future__ import annotations

import re
from dataclasses import dataclass

# "  runc:[2:INIT]-5305    (   5305) [001] .....   396.283067: sys_mount(dev_name: 0xc0, ...)"
# The comm may hold spaces and dashes; "-TID" followed by the "(TGID)" column ends it.
LINE = re.compile(
    r"^\s*(?P<comm>.*?)-(?P<tid>\d+)\s+\(\s*(?P<tgid>[-\d]+)\)\s+\[(?P<cpu>\d+)\]\s+"
    r"(?P<flags>\S+)\s+(?P<sec>\d+)\.(?P<usec>\d+):\s+(?P<event>\w+)(?P<body>.*)$"
)
SYS_ENTER = re.compile(r"^\((?P<args>.*)\)$")
SYS_EXIT = re.compile(r"^\s*->\s*(?P<ret>-?(?:0x)?[0-9a-fA-F]+)$")
EXEC = re.compile(r"^:\s*filename=(?P<filename>.*) pid=(?P<pid>\d+) old_pid=(?P<old_pid>\d+)$")
FORK = re.compile(
    r"^:\s*comm=(?P<comm>.*) pid=(?P<pid>\d+) child_comm=(?P<child_comm>.*) "
    r"child_pid=(?P<child_pid>\d+)$"
)
EXIT = re.compile(
    r"^:\s*comm=(?P<comm>.*) pid=(?P<pid>\d+) prio=(?P<prio>-?\d+) group_dead=(?P<dead>\w+)$"
)
SIGNAL = re.compile(
    r"^:\s*sig=(?P<sig>\d+) errno=(?P<errno>-?\d+) code=(?P<code>-?\d+) "
    r"sa_handler=(?P<handler>[0-9a-fx]+) sa_flags=(?P<sa_flags>[0-9a-fx]+)$"
)

# "root=3 id=3298 level=2 path=/docker/ID" (cgroup_mkdir, and rmdir/release alike)
CGROUP_MKDIR = re.compile(
    r"^:\s*root=(?P<root>-?\d+) id=(?P<id>\d+) level=(?P<level>-?\d+) path=(?P<path>.*)$"
)
CGROUP_ATTACH = re.compile(
    r"^:\s*dst_root=(?P<root>-?\d+) dst_id=(?P<id>\d+) dst_level=(?P<level>-?\d+) "
    r"dst_path=(?P<path>.*) pid=(?P<pid>\d+) comm=(?P<comm>.*)$"
)


@dataclass(frozen=True)
class TraceLine:
    """One trace_pipe line: who (thread, its group), when (CLOCK_MONOTONIC ns), what."""

    comm: str | None  # None where the kernel printed <...> (comm not in its cache)
    tid: int
    tgid: int | None  # None where it printed (-------)
    cpu: int
    time_ns: int
    event: str  # "sys_mount", "sys_mount" (exit), "sched_process_exec", ...
    body: str

    @property
    def is_sys_exit(self) -> bool:
        return self.event.startswith("sys_") and self.body.lstrip().startswith("->")


def parse_line(line: str) -> TraceLine | None:
    """A record, or None for lines that are not records (headers, lost-event notices)."""
    m = LINE.match(line.rstrip("\n"))
    if m is None:
        return None
    comm = m["comm"]
    tgid = m["tgid"]
    return TraceLine(
        comm=None if comm == "<...>" else comm,
        tid=int(m["tid"]),
        tgid=None if tgid.startswith("-") else int(tgid),
        cpu=int(m["cpu"]),
        time_ns=int(m["sec"]) * 1_000_000_000 + int(m["usec"].ljust(9, "0")[:9]),
        event=m["event"],
        body=m["body"],
    )


def to_int(text: str) -> int:
    text = text.strip()
    return int(text, 16) if text.lower().startswith(("0x", "-0x")) else int(text)


def signed64(value: int) -> int:
    """A syscall's return value as the kernel printed it (hex of a 64-bit two's complement)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def syscall_args(body: str) -> dict[str, int]:
    """`(clone_flags: 0x1200011, newsp: 0)` -> {"clone_flags": 0x1200011, "newsp": 0}."""
    m = SYS_ENTER.match(body)
    if m is None:
        return {}
    out: dict[str, int] = {}
    for part in m["args"].split(", "):
        name, _, value = part.partition(": ")
        try:
            out[name.strip()] = to_int(value)
        except ValueError:
            continue
    return out


def syscall_ret(body: str) -> int | None:
    m = SYS_EXIT.match(body)
    return signed64(to_int(m["ret"])) if m else None
