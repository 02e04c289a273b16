"""The bcc backend: loads exec.bpf.c, seeds its map of tracked processes, polls its ring buffer."""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from typing import Any

from tracer.probes import procs
from tracer.probes.base import BackendUnavailable, EventSource, tracefs_root
from tracer.probes.bcc.boundary import EV_READ, EV_WRITE
from tracer.probes.bcc.decode import EV_EXEC, EV_MOUNT, Decoder, event_struct, packed_argv
from tracer.probes.bcc.tp_format import parse_format, render_struct
from tracer.probes.lineage import Lineage

# Signals whose default action ends a process (not CHLD, CONT, STOP, TSTP, TTIN, TTOU, URG, WINCH).
FATAL_SIGNALS = sum(1 << s for s in range(1, 32) if s not in (17, 18, 19, 20, 21, 22, 23, 28))
POLL_MS = 50
RECORD_STRUCTS = (  # tracepoints whose record layout is generated from its format file
    "sched/sched_process_exec",
    "sched/sched_process_fork",
    "sched/sched_process_exit",
    "signal/signal_deliver",
    "cgroup/cgroup_mkdir",
    "cgroup/cgroup_attach_task",
)
# Where the BPF program watches opens and renames (a path's first bytes, tested in the kernel):
# dockerd's container metadata (config.v2.json, hostconfig.json), and the stdio FIFOs that
# containerd's /tasks/create names, which Go's fifo package opens by O_PATH and then reopens
# through /proc/self/fd/N.
META_PREFIXES = ("/var/lib/docker/containers/",)
FIFO_PREFIXES = ("/var/run/docker/containerd/", "/run/docker/containerd/", "/proc/self/fd/")
RUNC_INIT_COMM = b"runc:[2:INIT]\0"
ATTACH = re.compile(r"^// attach: (\S+)$|^int (\w+)\(", re.M)
NR_EXECVEAT = {"x86_64": 322, "aarch64": 281, "riscv64": 281, "ppc64le": 362, "s390x": 354}


def words_equal(var: str, expected: bytes) -> str:
    """A C test that the u64 words at `var` start with `expected` (the rest of the last word
    masked off): a fixed handful of comparisons, which the verifier checks at once, where a
    byte loop over a string would be unrolled."""
    tests = []
    for i in range(0, len(expected), 8):
        chunk = expected[i : i + 8]
        value = int.from_bytes(chunk, sys.byteorder)
        word = f"{var}[{i // 8}]"
        if len(chunk) < 8:
            mask = (1 << (8 * len(chunk))) - 1
            if sys.byteorder == "big":
                mask <<= 8 * (8 - len(chunk))
                value <<= 8 * (8 - len(chunk))
            word = f"({word} & {mask:#x}ULL)"
        tests.append(f"{word} == {value:#x}ULL")
    return "(" + " && ".join(tests) + ")"


def any_prefix(var: str, prefixes: tuple[str, ...]) -> str:
    return " || ".join(words_equal(var, p.encode()) for p in prefixes)


@dataclass(frozen=True)
class ProgramShape:
    """The sizes the program is built with (its placeholders)."""

    argc_max: int = 20
    arg_len: int = 192
    str_len: int = 256
    data_len: int = 1024  # bytes of a mount's option string (overlay: a lowerdir per layer)
    io_max: int = 64  # writes/reads reported per process and fd (the rest are not sent)
    max_tracked: int = 16384
    max_pending: int = 2048
    ringbuf_pages: int = 512
    track_all: bool = False  # no in-kernel filter at all: every process on the host (debugging)


def execveat_nr(machine: str | None = None) -> int:
    """execveat's syscall number here (the BPF program tells it from execve by number)."""
    machine = machine or platform.machine()
    return NR_EXECVEAT.get(machine, -1)


def generic_reads(machine: str | None = None) -> bool:
    """Whether bpf_probe_read may stand for both _user and _kernel: only where user and kernel
    addresses cannot overlap (x86_64), so that the helper can tell them apart."""
    return (machine or platform.machine()) == "x86_64"


def record_structs(root: str | None = None) -> str:
    """C structs of the sched/signal records, from this kernel's format files."""
    root = root or tracefs_root() or "/sys/kernel/tracing"
    out = []
    for tp in RECORD_STRUCTS:
        path = f"{root}/events/{tp}/format"
        try:
            with open(path) as f:
                fields = parse_format(f.read())
        except OSError as e:
            # a user without root can still read the rest of the program (--dump-bpf)
            out.append(f"// struct tp_{tp.split('/')[1]}: cannot read {path}: {e.strerror}")
            continue
        out.append(render_struct("tp_" + tp.split("/")[1], path, fields))
    return "\n\n".join(out)


def attachments(text: str) -> list[tuple[str, str]]:
    """(tracepoint, function) pairs from the program's `// attach:` lines."""
    pairs, waiting = [], []
    for m in ATTACH.finditer(text):
        if m[1]:
            waiting.append(m[1])
        else:
            pairs += [(tp, m[2]) for tp in waiting]
            waiting = []
    return pairs


@contextlib.contextmanager
def release_later(fds: list[int]) -> Iterator[None]:
    """Let go of tracepoint perf events without waiting for the kernel to.

    Closing the last fd of a tracepoint's perf event waits for an RCU grace period (about 75 ms
    here), one tracepoint after another: 1.6 s for our 21, most of a `dockertrace run`. So a
    small process takes copies of the fds first; our own close (which disables each event at
    once) is then quick, and the kernel detaches the programs when that process ends, right
    after ours are closed, while we go on. If we are killed instead, it ends all the same: it
    only waits for the end of a pipe that we hold."""
    if not fds:
        yield
        return
    r, w = os.pipe()
    try:
        holder = subprocess.Popen(
            ["/bin/sh", "-c", "read _ || :", "dockertrace-release"],
            stdin=r,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=fds,
            start_new_session=True,  # a Ctrl-C at the terminal is not for it
        )
    except OSError:  # no /bin/sh: close them the slow way
        os.close(r)
        os.close(w)
        yield
        return
    os.close(r)
    try:
        yield
    finally:
        os.close(w)  # the holder ends, and with it the last copies
        RELEASERS.append(holder)
        RELEASERS[:] = [p for p in RELEASERS if p.poll() is None]  # reap those done


RELEASERS: list[subprocess.Popen[bytes]] = []


PROGRAM_FILES = ("exec.bpf.c", "boundary.bpf.c")  # one program, in this order


def program_source() -> str:
    here = resources.files("tracer.probes.bcc")
    return "\n".join(here.joinpath(name).read_text() for name in PROGRAM_FILES)


def build_program(shape: ProgramShape = ProgramShape()) -> str:
    """The final BPF C text, placeholders filled in (what --dump-bpf prints)."""
    track = "return 1;" if shape.track_all else "return dt_tracked.lookup(&tgid) != 0;"
    generic = generic_reads()
    values = {
        "__ARGC_MAX__": shape.argc_max,
        "__ARG_LEN__": shape.arg_len,
        "__STR_LEN__": shape.str_len,
        "__DATA_LEN__": shape.data_len,
        "__IO_MAX__": shape.io_max,
        "__IS_RUNC_INIT__": words_equal("old", RUNC_INIT_COMM),
        "__IS_FIFO_PATH__": any_prefix("w", FIFO_PREFIXES),
        "__IS_META_PATH__": any_prefix("w", META_PREFIXES),
        "__PATH_TESTS__": "META_PREFIXES and FIFO_PREFIXES in probe.py",
        "__FATAL_SIGNALS__": f"{FATAL_SIGNALS:#x}ULL",
        "__MAX_TRACKED__": shape.max_tracked,
        "__MAX_PENDING__": shape.max_pending,
        "__RINGBUF_PAGES__": shape.ringbuf_pages,
        "__TRACK_FILTER__": track,
        "__NR_EXECVEAT__": execveat_nr(),
        "__SELF_TGID__": os.getpid(),
        "__READ_USER_STR__": "bpf_probe_read_str" if generic else "bpf_probe_read_user_str",
        "__READ_USER__": "bpf_probe_read" if generic else "bpf_probe_read_user",
        "__READ_KERNEL_STR__": "bpf_probe_read_str" if generic else "bpf_probe_read_kernel_str",
        "__READ_KERNEL__": "bpf_probe_read" if generic else "bpf_probe_read_kernel",
        "__TRACEPOINT_STRUCTS__": record_structs(),
    }
    text = program_source()
    for key, value in values.items():
        text = text.replace(key, str(value))
    return text


class BccSource(EventSource):
    """Tracepoints through bcc, filtered in the kernel to the engine's process tree."""

    name = "bcc"

    def __init__(self, shape: ProgramShape = ProgramShape()) -> None:
        super().__init__()
        self.shape = shape
        self._raw = event_struct(shape.str_len, shape.argc_max, shape.arg_len)
        self._args_offset = self._raw.args.offset
        self._s0_offset = self._raw.s0.offset
        self.lineage = Lineage()
        self._decoder = Decoder(self.lineage)
        self._bpf: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._compiling: threading.Thread | None = None
        self._compiled: Any = None
        self._compile_error: BaseException | None = None
        self.decode_errors = 0
        self.compile_seconds = 0.0

    def prepare(self) -> None:
        """Compile now in a worker thread (clang releases the GIL); start() waits for it."""
        if self._compiling is None:
            self._compiling = threading.Thread(target=self._compile, name="dockertrace-cc")
            self._compiling.start()

    def _compile(self) -> None:
        from bcc import BPF  # optional library: imported only where a program is compiled

        t0 = time.perf_counter()
        try:
            self._compiled = BPF(text=self.text.encode())
        except BaseException as e:  # handed to start(), which raises it in the caller
            self._compile_error = e
        self.compile_seconds = time.perf_counter() - t0

    @cached_property
    def text(self) -> str:
        return build_program(self.shape)

    def _start(self, seed_pids: list[int]) -> None:
        self.prepare()
        assert self._compiling is not None
        self._compiling.join()
        if self._compile_error is not None:
            raise BackendUnavailable(
                f"bcc could not compile the program: {self._compile_error}"
            ) from self._compile_error
        self._bpf, self._compiled = self._compiled, None
        try:
            for tp, fn in attachments(self.text):
                self._bpf.attach_tracepoint(tp=tp.encode(), fn_name=fn.encode())
        except Exception as e:  # bcc raises bare Exception when the verifier or attach refuses
            self._close()
            raise BackendUnavailable(f"bcc could not load or attach {tp}: {e}") from e
        for part in procs.moving_parts(seed_pids):
            if part.role != "docker-proxy" or part.pid in seed_pids:
                self.lineage.seed(part.pid, part.ppid, part.comm, part.cmdline, part.layer)
                self.track(part.pid)
        for pid in seed_pids:
            self.track(pid)
        self._bpf[b"dt_events"].open_ring_buffer(self._on_event)
        self._thread = threading.Thread(target=self._poll, name="dockertrace-bcc", daemon=True)
        self._thread.start()

    def track(self, pid: int) -> None:
        if self._bpf is None:
            raise RuntimeError("start() the source before tracking pids")
        tracked = self._bpf[b"dt_tracked"]
        tracked[tracked.Key(pid)] = tracked.Leaf(1)

    def tracked_pids(self) -> list[int]:
        return sorted(k.value for k in self._bpf[b"dt_tracked"]) if self._bpf else []

    def lost_events(self) -> int:
        if self._bpf is None:
            return 0
        return int(sum(self._bpf[b"dt_lost"][0]))

    def _on_event(self, _ctx: Any, data: Any, size: int) -> None:
        try:
            ev = ctypes.cast(data, ctypes.POINTER(self._raw)).contents
            raw_args = b""
            if ev.kind == EV_EXEC and size > self._args_offset:
                n = min(int(ev.args_size), size - self._args_offset)
                slots = ctypes.string_at(data + self._args_offset, n)
                raw_args = packed_argv(slots, self.shape.arg_len)
            elif ev.kind == EV_MOUNT and size > self._args_offset:
                n = min(int(ev.args_size), size - self._args_offset)
                raw_args = ctypes.string_at(data + self._args_offset, n)
            elif ev.kind in (EV_WRITE, EV_READ):  # the excerpt: argc bytes of s0, NULs and all
                raw_args = ctypes.string_at(data + self._s0_offset, min(int(ev.argc), 64))
            event = self._decoder.decode(ev, raw_args)
        except Exception:  # one bad record must not stop the stream
            self.decode_errors += 1
            return
        if event is not None:
            self.emit(event)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._bpf.ring_buffer_poll(POLL_MS)

    def _close(self) -> None:
        if self._compiling is not None:
            self._compiling.join()
        if self._compiled is not None:  # prepared, never started
            self._compiled.cleanup()
            self._compiled = None
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._bpf is not None:
            with release_later(list(self._bpf.tracepoint_fds.values())):
                self._bpf.cleanup()
            self._bpf = None
