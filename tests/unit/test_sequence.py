"""The sequence model on the bundled recordings: how many arrows, in what order, on which lanes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tracer.chain.messages import is_thread
from tracer.chain.model import BOXES, Trace
from tracer.chain.sequence import KNOWN_SILENT, Arrow, SequenceDiagram, sequence
from tracer.cli.diagram import trace_of
from tracer.events import Event
from tracer.record.format import read_recording
from tracer.text.pictures import missing_lines
from tracer.text.story import fold

ASSETS = Path(__file__).resolve().parents[2] / "assets"
KINDS_14A = ("cgroup.mkdir", "cgroup.attach", "sys.rename", "containerd.event")


def bundled(name: str = "run-echo-hi.jsonl") -> Trace:
    rec = read_recording(ASSETS / name)
    return fold(rec.events, str(rec.header.get("backend", "")))


def find(diagram: SequenceDiagram, text: str) -> tuple[int, Arrow]:
    """The first arrow whose label holds `text`, with its index."""
    return next((i, a) for i, a in enumerate(diagram.arrows) if text in a.label)


@pytest.mark.parametrize(
    "name", ["run-echo-hi.jsonl", "run-pull.jsonl", "two-runs.jsonl"], ids=lambda n: n[:-6]
)
def test_a_run_reads_in_40_to_80_arrows_in_time_order(name: str) -> None:
    trace = bundled(name)
    diagram = sequence(trace)
    assert 40 <= len(diagram.arrows) <= 80, len(diagram.arrows)
    assert len(trace.events) > 2.5 * len(diagram.arrows)  # folded, not one arrow an event
    times = [a.time_ns for a in diagram.arrows]
    assert times == sorted(times)
    assert all(a.src in BOXES and a.dst in BOXES for a in diagram.arrows)
    assert not diagram.unknown and not diagram.missing_steps


def test_every_event_is_in_exactly_one_arrow_but_state_records() -> None:
    trace = bundled()
    diagram = sequence(trace)
    held = [id(ev) for a in diagram.arrows for ev in a.events]
    assert len(held) == len(set(held))
    drawn = {id(ev) for ev in trace.events if ev.kind not in KNOWN_SILENT}
    assert set(held) == drawn
    for a in diagram.arrows:  # a group's events are in time order, its first gives its time
        assert [e.time_ns for e in a.events] == sorted(e.time_ns for e in a.events)


def pid_named(trace: Trace, comm: str) -> int:
    """The pid of the first process the recording shows with that name."""
    return next(ev.pid for ev in trace.events if ev.comm == comm)


def test_the_story_in_order_and_on_its_lanes() -> None:
    trace = bundled()
    diagram = sequence(trace)
    child = pid_named(trace, "runc:[1:CHILD]")
    order = [
        ("POST /containers/create", "cli", "dockerd"),
        ("201 Created", "dockerd", "cli"),
        ("/attach", "cli", "dockerd"),
        ("/start", "cli", "dockerd"),  # the CLI attaches before it starts
        ("exec containerd-shim", "containerd", "shim"),
        ("exec runc create", "shim", "runc"),
        ("exec runc init", "runc", "runc"),
        (f"clone(PARENT) → {child} runc:[1:CHILD]", "runc", "kernel"),
        ("unshare(NEWNS|NEWUTS|NEWIPC|NEWPID|NEWNET)", "runc", "kernel"),
        ("runc:[2:INIT]", "runc", "kernel"),
        ("pivot_root", "runc", "kernel"),
        ("exec echo hi", "runc", "kernel"),
        ('stdout "hi\\n"', "dockerd", "cli"),
        ("body: StatusCode 0", "dockerd", "cli"),
    ]
    places = []
    for text, src, dst in order:
        i, arrow = find(diagram, text)
        assert (arrow.src, arrow.dst) == (src, dst), text
        places.append(i)
    assert places == sorted(places)
    # the container's process, once runc has exited, is reaped by the shim
    _, exit_echo = next(
        (i, a) for i, a in enumerate(diagram.arrows) if a.kind == "exit" and a.src == "kernel"
    )
    assert exit_echo.dst == "shim" and exit_echo.label == "exit 0"


def test_threads_and_mounts_fold_with_their_count() -> None:
    diagram = sequence(bundled())
    threads = [a for a in diagram.arrows if a.kind == "threads"]
    assert threads and all(a.note and a.src == a.dst for a in threads)
    assert max(a.count for a in threads) >= 5
    assert all(a.label == f"+{a.count} thread{'s' if a.count > 1 else ''}" for a in threads)
    init_mounts = [a for a in diagram.arrows if a.kind == "mount" and a.src == "runc"]
    big = max(init_mounts, key=lambda a: a.count)
    assert big.count >= 20 and big.label.startswith(f"mount ×{big.count} (")
    assert {e.comm for e in big.events} == {"runc:[2:INIT]"}
    # the shim's exec carries the fork that made it, and its Go runtime's first threads (made
    # before it sent anything): a group expands to all its events
    _, shim = find(diagram, "exec containerd-shim")
    assert [e.kind for e in shim.events[:3]] == ["sys.clone", "proc.fork", "proc.exec"]
    started = shim.events[3:]
    assert started and all(is_thread(e) and e.pid == shim.events[2].pid for e in started)


def test_the_evidence_of_issue_14a_folds_into_few_arrows() -> None:
    trace = bundled()
    diagram = sequence(trace)
    of_kind = {k: [ev for ev in trace.events if ev.kind == k] for k in KINDS_14A}
    cid = of_kind["cgroup.mkdir"][0].detail["container_id"]
    # runc's mkdir and attach of the container's cgroup, one a hierarchy: two arrows
    for kind, verb in (("cgroup.mkdir", "mkdir"), ("cgroup.attach", "attach")):
        arrows = {diagram.of_event(ev) for ev in of_kind[kind]}
        assert len(arrows) == 1 and len(of_kind[kind]) >= 9, kind
        arrow = diagram.arrows[arrows.pop()]
        assert arrow.label.startswith(f"cgroup {verb} ") and arrow.label.endswith(
            f"/docker/{cid[:12]} ×{len(of_kind[kind])}"
        )
    # dockerd's metadata: a temporary file opened, renamed over the real one; an arrow a burst
    saves = [a for a in diagram.arrows if a.kind == "file" and a.src == "dockerd"]
    saved = [a for a in saves if a.label.startswith("write ")]
    assert saved and all("hostconfig.json" in a.label for a in saved)
    renames = sum(1 for a in saved for ev in a.events if ev.kind == "sys.rename")
    assert renames == len(of_kind["sys.rename"])
    # containerd's events: an arrow each, to dockerd, in the order they came
    topics = [ev.detail["topic"] for ev in of_kind["containerd.event"]]
    events = [a for a in diagram.arrows if a.kind == "event"]
    assert [a.label for a in events] == [f"event {t}" for t in topics]
    assert all((a.src, a.dst, a.count) == ("containerd", "dockerd", 1) for a in events)
    # the output's way back: the echo's write, the FIFO between shim and dockerd, the frame
    hops = [find(diagram, text) for text in ('write "hi\\n"', "init-stdout 3 B", 'stdout "hi')]
    assert [(a.src, a.dst) for _, a in hops] == [
        ("kernel", "shim"),
        ("shim", "dockerd"),
        ("dockerd", "cli"),
    ]
    assert [i for i, _ in hops] == sorted(i for i, _ in hops)
    # a helper that did nothing but start and end: its call and its end in one arrow
    _, delete = find(diagram, "exec runc delete, exit 0")
    assert {"proc.exec", "proc.exit"} <= {ev.kind for ev in delete.events}
    assert len({ev.pid for ev in delete.events if ev.kind in ("proc.exec", "proc.exit")}) == 1


def test_arrows_keep_their_step_and_the_phases_only_go_forward() -> None:
    diagram = sequence(bundled())
    phases = [a.phase for a in diagram.arrows if a.phase is not None]
    assert phases == sorted(phases) and set(phases) == set(range(1, 8))
    assert find(diagram, "unshare(")[1].step == 5
    assert find(diagram, "exec echo hi")[1].step == 6
    assert find(diagram, 'stdout "hi')[1].step == 7
    some = diagram.arrows[10]
    assert diagram.index_at(some.time_ns) >= 10
    assert diagram.of_event(some.events[-1]) == 10
    assert some.seen_by(some.time_ns) >= 1 and some.seen_by(0) == 0


def test_a_failed_run_draws_what_there_is_and_says_what_is_missing() -> None:
    diagram = sequence(bundled("run-missing-image.jsonl"))
    labels = [a.label for a in diagram.arrows]
    assert any(label.startswith("404 Not Found: No such image") for label in labels)
    assert [n for n, _ in diagram.missing_steps] == [4, 5, 6, 7]
    lines = missing_lines(diagram)
    assert any(line.startswith("Step 4: never happened") for line in lines)


def test_a_run_cut_short_still_draws_its_beginning() -> None:
    rec = read_recording(ASSETS / "run-echo-hi.jsonl")
    half = rec.events[: len(rec.events) // 3]
    diagram = sequence(trace_of(half, "bcc"))
    assert diagram.arrows and diagram.has_run
    assert diagram.missing_steps  # the later steps, with the fold's reasons
    assert any(line.startswith("Step 6: not seen") for line in missing_lines(diagram))


def e(kind: str, layer: str, source: str = "bpf", pid: int = 50, **detail: Any) -> Event:
    return Event(10**12 + pid * 1000 + len(detail), source, layer, kind, pid, pid, 1, "x", detail)  # type: ignore[arg-type]


def test_no_run_and_no_probe_are_said() -> None:
    kernel_only = [e("proc.exec", "runc", filename="/usr/sbin/runc", argv=["runc", "create"])]
    diagram = sequence(trace_of(kernel_only, "bcc"))
    assert not diagram.has_run and diagram.arrows[0].label == "exec runc create"
    assert any("No docker run" in line for line in missing_lines(diagram))
    empty = sequence(trace_of([], ""))
    assert not empty.arrows and "Nothing to draw." in missing_lines(empty)


def test_unknown_kinds_are_counted_not_drawn() -> None:
    events = [e("proc.exec", "cli", argv=["docker"]), e("sys.bogus", "cli", pid=51)]
    diagram = sequence(trace_of(events, "bcc"))
    assert diagram.unknown == (("sys.bogus", 1),)
    assert all(a.events[0].kind != "sys.bogus" for a in diagram.arrows)
    assert any("sys.bogus (1)" in line for line in missing_lines(diagram))


def test_the_kinds_of_issue_14a_are_drawn_when_present() -> None:
    cid = "ab" * 32
    events = [
        e("containerd.event", "containerd", "containerd", 10, topic="/tasks/create"),
        e("oci.spec", "runc", "file", 11, namespaces=["pid", "network", "mount"]),
        e("cgroup.mkdir", "runc", pid=12, path=f"/docker/{cid}"),
        e("cgroup.mkdir", "runc", pid=12, path=f"/docker/{cid}", root=2),
        e("cgroup.attach", "runc", pid=13, path=f"/docker/{cid}", attached_comm="runc:[2:INIT]"),
        e("sys.write", "container", pid=14, fd=1, size=3, excerpt="hi\n"),
        e("sys.write", "shim", pid=15, fd=9, size=3, path="/run/x/init-stdout"),
        e("sys.read", "dockerd", pid=16, fd=20, size=3, path="/run/x/init-stdout"),
        e("grpc.call", "dockerd", pid=17, method="/containerd.services.tasks.v1.Tasks/Start"),
    ]
    # the fold keeps only the sources it knows today: the trace is built with them all
    diagram = sequence(Trace(steps=trace_of([], "").steps, hops=(), events=tuple(events)))
    lanes = {a.label: (a.src, a.dst, a.count) for a in diagram.arrows}
    assert lanes["event /tasks/create"] == ("containerd", "dockerd", 1)
    assert lanes["config.json (3 namespaces)"] == ("containerd", "runc", 1)
    assert lanes[f"cgroup mkdir /docker/{cid[:12]} ×2"] == ("runc", "kernel", 2)
    assert lanes['write "hi\\n"'] == ("kernel", "shim", 1)
    assert lanes["init-stdout 3 B"] == ("shim", "dockerd", 2)  # the shim's write, dockerd's read
    assert lanes["gRPC /containerd.services.tasks.v1.Tasks/Start"] == ("dockerd", "containerd", 1)
    assert not diagram.unknown
