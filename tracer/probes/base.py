"""The interface every probe source has, and the host facts that decide which backend can run."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tracer.events import Event, EventSink

BACKENDS: tuple[str, ...] = ("bcc", "tracefs", "proc")
TRACEFS_ROOTS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
# The syscall tracepoints both kernel backends need; a kernel without them cannot show step 5.
NEEDED_TRACEPOINTS = (
    "sched/sched_process_exec",
    "sched/sched_process_fork",
    "sched/sched_process_exit",
    "syscalls/sys_enter_unshare",
    "syscalls/sys_enter_clone3",
    "syscalls/sys_enter_mount",
    "syscalls/sys_enter_pivot_root",
)


class BackendUnavailable(RuntimeError):
    """A forced backend cannot run here; the message says why."""


@dataclass(frozen=True)
class BackendChoice:
    """One backend, whether it can run here, and why (or why not)."""

    name: str
    usable: bool
    reason: str


class EventSource(ABC):
    """A source of kernel/process events: start (with a sink), track, close."""

    name: str = ""
    reports_exits = True  # a proc.exit for each traced process that ends

    def __init__(self) -> None:
        self.ready_seconds: float = 0.0
        self._sink: EventSink | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.sink_errors = 0
        self.first_sink_error: Exception | None = None

    def prepare(self) -> None:  # noqa: B027  (optional; most sources have nothing to prepare)
        """Optional: begin slow set-up (bcc compiles its program) in the background, so that a
        caller can overlap it with its own start-up; start() waits for it. Idempotent."""

    def start(self, sink: EventSink | None = None, seed_pids: Sequence[int] = ()) -> None:
        """Attach and begin delivering events; returns once the probes are live."""
        t0 = time.perf_counter()
        self._sink = sink
        self._start(list(seed_pids))
        self.ready_seconds = time.perf_counter() - t0

    @abstractmethod
    def _start(self, seed_pids: list[int]) -> None: ...

    @abstractmethod
    def track(self, pid: int) -> None:
        """Add a process (and, from now on, its descendants) to the traced set."""

    @abstractmethod
    def _close(self) -> None: ...

    def close(self) -> None:
        """Detach everything; safe to call more than once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        with signals_held():
            self._close()

    def emit(self, event: Event) -> None:
        """Hand one event to the sink (called from the poll worker); without one, it is dropped."""
        if self._sink is not None:
            try:
                self._sink(event)
            except Exception as e:  # the consumer's bug must not stop the probes
                self.sink_errors += 1
                self.first_sink_error = self.first_sink_error or e

    def __enter__(self) -> EventSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class HostFacts:
    """What decides which backend can run; gathered by `host_facts()`, built by hand in tests."""

    euid: int
    bpf_caps: bool
    bcc_error: str | None  # None: `import bcc` works
    headers: str | None  # kernel headers bcc compiles against, None if none
    tracefs_root: str | None
    instances_writable: bool
    missing_tracepoints: tuple[str, ...]


def _bpf_caps() -> bool:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    caps = int(line.split()[1], 16)
                    return bool(caps & (1 << 39) and caps & (1 << 38))  # CAP_BPF, CAP_PERFMON
    except OSError:
        pass
    return False


def kernel_headers() -> str | None:
    release = os.uname().release
    for path in (f"/lib/modules/{release}/build", f"/lib/modules/{release}/source"):
        if os.path.exists(os.path.join(path, "include")):
            return path
    if os.path.exists("/sys/kernel/kheaders.tar.xz"):
        return "/sys/kernel/kheaders.tar.xz"
    return None


def tracefs_root() -> str | None:
    """Where tracefs is mounted; a mount point we may not look into counts (root can)."""
    for root in TRACEFS_ROOTS:
        if os.path.exists(os.path.join(root, "trace_pipe")):
            return root
    for root in TRACEFS_ROOTS:
        if os.path.isdir(root) and not os.access(root, os.X_OK) and os.path.ismount(root):
            return root
    return None


def host_facts() -> HostFacts:
    try:
        import bcc  # noqa: F401  (optional: whether it imports is the fact wanted)

        bcc_error = None
    except ImportError as e:
        bcc_error = str(e)
    root = tracefs_root()
    missing: tuple[str, ...] = ()
    if root:
        missing = tuple(
            tp for tp in NEEDED_TRACEPOINTS if not os.path.isdir(os.path.join(root, "events", tp))
        )
    return HostFacts(
        euid=os.geteuid(),
        bpf_caps=_bpf_caps(),
        bcc_error=bcc_error,
        headers=kernel_headers(),
        tracefs_root=root,
        instances_writable=bool(root) and os.access(os.path.join(root or "", "instances"), os.W_OK),
        missing_tracepoints=missing,
    )


def judge(facts: HostFacts) -> list[BackendChoice]:
    """Every backend, best first, with why it can or cannot run on a host like `facts`."""
    privileged = facts.euid == 0 or facts.bpf_caps
    if not privileged:
        bcc = BackendChoice("bcc", False, f"no root (uid {facts.euid}, no CAP_BPF/CAP_PERFMON)")
    elif facts.bcc_error is not None:
        bcc = BackendChoice(
            "bcc", False, f"no bcc: {facts.bcc_error} (apt-get install python3-bpfcc)"
        )
    elif facts.headers is None:
        bcc = BackendChoice(
            "bcc",
            False,
            f"no kernel headers for {os.uname().release} under /lib/modules (bcc compiles "
            "against them; `bash tracer/setup.sh env` links the distribution's)",
        )
    elif facts.tracefs_root is None:
        bcc = BackendChoice("bcc", False, "no tracefs: the tracepoints cannot be found")
    elif facts.missing_tracepoints:
        bcc = BackendChoice(
            "bcc", False, f"missing tracepoints: {', '.join(facts.missing_tracepoints)}"
        )
    else:
        bcc = BackendChoice("bcc", True, f"eBPF via bcc, headers at {facts.headers}")

    if facts.tracefs_root is None:
        tracefs = BackendChoice(
            "tracefs", False, "no tracefs mounted (mount -t tracefs nodev /sys/kernel/tracing)"
        )
    elif facts.euid != 0 or not facts.instances_writable:
        tracefs = BackendChoice(
            "tracefs", False, f"no root: {facts.tracefs_root}/instances is not writable"
        )
    elif facts.missing_tracepoints:
        tracefs = BackendChoice(
            "tracefs", False, f"missing tracepoints: {', '.join(facts.missing_tracepoints)}"
        )
    else:
        tracefs = BackendChoice("tracefs", True, f"an instance under {facts.tracefs_root}")
    proc = BackendChoice("proc", True, "psutil only: processes, no kernel events")
    return [bcc, tracefs, proc]


def exit_on_sigterm() -> None:
    """Let SIGTERM unwind (finally blocks, atexit) instead of killing the process outright,
    so sources close (a tracefs instance is removed); only where nobody else handles SIGTERM."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_exit)


def _raise_exit(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Run a clean-up that a Ctrl-C or SIGTERM must not cut in half (bcc detaching half its
    tracepoints, then failing at exit on the other half): such a signal waits for the block to
    end and is raised then. Only the main thread handles signals; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    before = {s: h for s, h in before.items() if h is not None}  # None: set outside Python
    for s in before:
        signal.signal(s, lambda signum, _frame: held.append(signum))
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
        if held:
            signal.raise_signal(held[0])
