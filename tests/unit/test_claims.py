"""The article's 13 claims, folded from the bundled recordings and from synthetic sequences."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tracer.chain.claims import fold_claims
from tracer.chain.model import Claim
from tracer.events import Event
from tracer.record.format import read_recording
from tracer.text import claims as text
from tracer.text.crossing import crossed
from tracer.text.narrate import narrate, to_json
from tracer.text.story import fold, runs

ASSETS = Path(__file__).resolve().parents[2] / "assets"
DATA = Path(__file__).resolve().parent / "data"


def events_of(path: Path) -> list[Event]:
    rec = read_recording(path)
    assert rec.problems == []
    return rec.events


@pytest.fixture(scope="module")
def echo_hi() -> list[Event]:
    # The version-1 copy: what dockertrace recorded before the new kinds (kept as it was).
    return events_of(DATA / "v1-run-echo-hi.jsonl")


def status(claims: tuple[Claim, ...]) -> dict[int, str]:
    return {c.number: c.status for c in claims}


def test_thirteen_claims_in_order_with_their_stories(echo_hi: list[Event]) -> None:
    claims = fold(echo_hi).claims
    assert [c.number for c in claims] == list(range(1, 14))
    assert text.story(claims[0]).startswith("the CLI builds POST /containers/create")
    assert all(text.says(c) for c in claims)


def test_a_version_1_run_as_today_7_seen_4_in_part_2_not(echo_hi: list[Event]) -> None:
    """The issue's table, measured on the run recorded before this issue: what it could not
    see is missing, with the reason, never made up."""
    claims = fold(echo_hi).claims
    assert status(claims) == {
        1: "observed",
        2: "observed",
        3: "observed",
        4: "observed",
        5: "missing",
        6: "missing",
        7: "corrected",
        8: "corrected",
        9: "corrected",
        10: "missing",
        11: "observed",
        12: "observed",
        13: "missing",
    }
    by = {c.number: c for c in claims}
    assert by[5].why == by[10].why == "not-recorded"
    assert text.says(by[6]).startswith("not recorded: no events of containerd's own")
    assert "only indirect evidence: containerd" in text.says(by[6])
    assert "dockerd" in text.says(by[7]) and "not containerd" in text.says(by[7])
    assert "its layers were not recorded" in text.says(by[7])
    assert "containerd-shim" in text.says(by[8]) and "runc create" in text.says(by[8])
    assert "runc unshares, then clones" in text.says(by[9])
    assert text.says(by[13]).startswith("only the attach stream's frame seen")
    assert all(c.evidence for c in claims if c.status != "missing")
    assert by[12].evidence[0].detail["argv"] == ["echo", "hi"]


def test_the_pull_and_the_failed_run(echo_hi: list[Event]) -> None:
    pulled = {c.number: c for c in fold(events_of(ASSETS / "run-pull.jsonl")).claims}
    assert pulled[3].why == "not-cached" and "No such image" in text.says(pulled[3])
    assert (
        pulled[4].why == "pulled" and pulled[4].evidence[0].detail["endpoint"] == "/images/create"
    )
    failed = {c.number: c for c in fold(events_of(ASSETS / "run-missing-image.jsonl")).claims}
    assert failed[1].why == "no-start" and failed[4].why == "pull-failed"
    assert all(failed[n].why == "never" for n in range(5, 14))
    assert text.says(failed[9]) == "never happened: the run stopped at dockerd's error"


def test_a_command_that_makes_no_container(echo_hi: list[Event]) -> None:
    ping = [
        e
        for e in echo_hi
        if e.kind == "conn.accept"
        or (e.kind.startswith("http.") and "_ping" in str(e.detail.get("path")))
    ]
    claims = fold_claims(fold(ping), ping)
    assert all(c.why == "no-container" for c in claims[2:])


def test_ctr_through_the_containerd_proxy_corrects_the_docker_story() -> None:
    traces = runs(events_of(ASSETS / "lessons" / "06-kubernetes-skips-dockerd.jsonl"))
    ctr = next(t for t in traces if any(e.kind == "grpc.call" for e in t.events))
    by = {c.number: c for c in ctr.claims}
    assert (by[1].status, by[1].why) == ("corrected", "grpc-client")
    assert "Containers/Create → Tasks/Create → Tasks/Start" in text.says(by[1])
    assert (by[6].status, by[6].why) == ("corrected", "grpc-client")
    assert (by[7].status, by[7].evidence[0].comm) == ("observed", "ctr")
    assert by[12].evidence[0].detail["argv"][:1] == ["echo"]


# -- synthetic sequences (the new kinds, as tracer/events.py and KINDS-14a name them) ----------


def synthetic(echo_hi: list[Event]) -> tuple[list[Event], str]:
    """SYNTHETIC: the v1 run with what the new sources report added, at plausible times and
    pids taken from the run itself; not a recording of a real run."""
    t = fold(echo_hi)
    assert t.container is not None
    cid = t.container.id
    by_kind = {e.kind: e for e in reversed(t.events)}
    rc = next(e for e in t.events if e.kind == "proc.exec" and e.layer == "runc")
    shim = next(e for e in t.events if e.kind == "proc.exec" and e.layer == "shim")
    cmd = next(e for e in t.step(6).evidence if e.kind == "proc.exec")
    t0 = rc.time_ns
    fifo = f"/var/run/docker/containerd/{cid}/init-stdout"
    bundle = f"/run/containerd/io.containerd.runtime.v2.task/moby/{cid}"

    def ev(dt: int, source: Any, layer: Any, kind: str, who: int, comm: str, **d: Any) -> Event:
        return Event(t0 + dt, source, layer, kind, pid=who, comm=comm, detail=d)

    dockerd = by_kind["sys.mount"]
    new = [
        ev(
            -9,
            "bpf",
            "dockerd",
            "sys.rename",
            dockerd.pid,
            "dockerd",
            path=f"/var/lib/docker/containers/{cid}/config.v2.json",
            container_id=cid,
        ),
        ev(
            -8,
            "containerd",
            "containerd",
            "containerd.event",
            0,
            "",
            topic="/containers/create",
            namespace="moby",
            container_id=cid,
            payload={},
        ),
        ev(
            -7,
            "containerd",
            "containerd",
            "containerd.event",
            0,
            "",
            topic="/tasks/create",
            namespace="moby",
            container_id=cid,
            payload={"bundle": bundle, "io": {"stdout": fifo}},
        ),
        ev(
            -6,
            "file",
            "runc",
            "oci.spec",
            rc.pid,
            "runc",
            bundle=bundle,
            container_id=cid,
            namespaces=["pid", "network", "ipc", "uts", "mount"],
            args=["echo", "hi"],
            root="rootfs",
        ),
        ev(
            1,
            "bpf",
            "runc",
            "cgroup.mkdir",
            rc.pid,
            "runc:[2:INIT]",
            path=f"/docker/{cid}",
            root=1,
            container_id=cid,
        ),
        ev(
            2,
            "bpf",
            "runc",
            "cgroup.attach",
            rc.pid,
            "runc:[2:INIT]",
            path=f"/docker/{cid}",
            pid=cmd.pid,
            container_id=cid,
        ),
        ev(
            3,
            "containerd",
            "containerd",
            "containerd.event",
            0,
            "",
            topic="/tasks/start",
            namespace="moby",
            container_id=cid,
            payload={"pid": cmd.pid},
        ),
        ev(
            cmd.time_ns - t0 + 1,
            "bpf",
            "container",
            "sys.write",
            cmd.pid,
            "echo",
            fd=1,
            size=3,
            excerpt="hi\n",
        ),
        ev(
            cmd.time_ns - t0 + 2,
            "bpf",
            "shim",
            "sys.write",
            shim.pid,
            "containerd-shim",
            fd=9,
            size=3,
            excerpt="hi\n",
            path=fifo,
        ),
        ev(
            cmd.time_ns - t0 + 3,
            "bpf",
            "dockerd",
            "sys.read",
            dockerd.pid,
            "dockerd",
            fd=40,
            size=3,
            excerpt="hi\n",
            path=fifo,
        ),
    ]
    layers = "/var/lib/docker/overlay2/l/A:/var/lib/docker/overlay2/l/B"
    data = f"lowerdir={layers},upperdir=/var/lib/docker/overlay2/{cid[:8]}/diff,workdir=/w"
    events = [
        replace(e, detail={**e.detail, "data": data})
        if e.kind == "sys.mount" and e.detail.get("fstype") == "overlay"
        else e
        for e in echo_hi
    ]
    return sorted(events + new, key=lambda e: e.time_ns), cid


def test_synthetic_every_claim_has_evidence(echo_hi: list[Event]) -> None:
    events, cid = synthetic(echo_hi)
    claims = fold(events).claims
    assert "missing" not in status(claims).values(), [(c.number, c.why) for c in claims]
    by = {c.number: c for c in claims}
    assert by[5].status == "observed" and "config.v2.json" in text.says(by[5])
    assert by[6].status == "observed"
    assert (
        text.says(by[6])
        == "containerd's own events: /containers/create → /tasks/create → /tasks/start"
    )
    assert "2 read-only layer(s) (lowerdir)" in text.says(by[7])
    assert "namespaces pid, network, ipc, uts, mount, args echo hi" in text.says(by[8])
    assert by[10].status == "observed" and f"mkdir /docker/{cid[:12]}…" in text.says(by[10])
    assert (by[13].status, by[13].why) == ("corrected", "via-shim-fifo")
    assert [e.kind for e in by[13].evidence] == [
        "sys.write",
        "sys.write",
        "sys.read",
        "stream.frame",
    ]
    assert "the shim (not containerd)" in text.says(by[13])
    # what the claims found beside the run is in its trace, and crosses the chain's arrows
    t = fold(events)
    assert {"containerd.event", "oci.spec", "sys.read"} <= {e.kind for e in t.events}
    crossings = {(h.src, h.dst, h.event.kind) for h in t.hops}
    assert ("dockerd", "containerd", "containerd.event") in crossings
    assert ("shim", "runc", "oci.spec") in crossings
    assert ("kernel", "shim", "sys.write") in crossings
    assert ("shim", "dockerd", "sys.write") in crossings
    assert [h.time_ns for h in t.hops] == sorted(h.time_ns for h in t.hops)


def test_synthetic_containerd_unavailable_says_why(echo_hi: list[Event]) -> None:
    events, _ = synthetic(echo_hi)
    events = [e for e in events if e.kind != "containerd.event"]
    down = Event(
        events[0].time_ns,
        "containerd",
        "containerd",
        "source.unavailable",
        detail={"source": "containerd-events", "reason": "no ctr on PATH"},
    )
    claim = fold([down, *events]).claims[5]
    assert (claim.status, claim.why) == ("missing", "unavailable")
    assert text.says(claim).startswith("containerd's events not readable (no ctr on PATH)")
    assert "only indirect evidence" in text.says(claim) and claim.evidence


def test_synthetic_a_cgroup_made_by_another_process_is_a_correction(echo_hi: list[Event]) -> None:
    events, _ = synthetic(echo_hi)
    events = [
        replace(e, comm="systemd", layer="kernel") if e.kind == "cgroup.mkdir" else e
        for e in events
    ]
    claim = fold(events).claims[9]
    assert (claim.status, claim.why) == ("corrected", "made-by")
    assert "by systemd" in text.says(claim)


def test_json_and_narration_carry_the_claims(echo_hi: list[Event]) -> None:
    t = fold(echo_hi)
    doc = to_json(t)["claims"]
    assert [c["number"] for c in doc] == list(range(1, 14))
    assert doc[0]["status"] == "observed" and "seen" in doc[0] and doc[0]["evidence"]
    assert doc[8]["status"] == "corrected" and doc[8]["how"].startswith("runc unshares")
    assert doc[4]["status"] == "missing" and doc[4]["reason"].startswith("not recorded")
    out = narrate(t)
    assert "The article's claims, and what this run showed:" in out
    assert "≠  9 runc creates PID, NET, MNT, UTS, IPC namespaces" in out


def test_what_crosses_each_arrow(echo_hi: list[Event]) -> None:
    events, _ = synthetic(echo_hi)
    t = fold(events)
    words = {(h.src, h.dst): crossed(h) for h in t.hops}
    assert words[("cli", "socket")] == "connect()"
    assert words[("socket", "dockerd")] == "HTTP request"
    assert words[("dockerd", "containerd")] == "containerd event"
    assert words[("shim", "runc")] in ("exec + config", "config")
    assert words[("runc", "kernel")] in ("syscall", "cgroup")
    assert words[("kernel", "shim")] == "bytes" and words[("kernel", "cli")] == "bytes"
    runc = next(h for h in t.hops if h.event.kind == "proc.exec" and h.dst == "runc")
    assert crossed(runc) == "exec + config"


def test_a_fold_without_claims_is_the_same_fold_less_them(echo_hi: list[Event]) -> None:
    """The live screen folds at every batch without them; its replay at the end has them."""
    bare, full = fold(echo_hi, claims=False), fold(echo_hi)
    assert bare.claims == () and len(full.claims) == 13
    assert bare.steps == full.steps and bare.events == full.events
