"""The chain over recordings of real runs: seven steps with evidence, never faked."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tracer.events import NAMESPACE_FLAGS, Event
from tracer.record.format import read_recording
from tracer.text.narrate import narrate, to_json
from tracer.text.story import fold, runs

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def events_of(name: str) -> list[Event]:
    rec = read_recording(ASSETS / name)
    assert rec.problems == []
    return rec.events


@pytest.fixture(scope="module")
def echo_hi() -> list[Event]:
    return events_of("run-echo-hi.jsonl")


def test_all_seven_steps_observed_with_evidence(echo_hi: list[Event]) -> None:
    trace = fold(echo_hi, backend="bcc")
    assert [s.status for s in trace.steps] == ["observed"] * 7
    assert all(s.evidence for s in trace.steps)
    c = trace.container
    assert c is not None and len(c.id) == 64
    assert c.command == ("echo", "hi") and c.output == "hi\n" and c.exit_code == 0


def test_step_evidence_is_what_the_design_names(echo_hi: list[Event]) -> None:
    t = fold(echo_hi)
    kinds = {n: {(e.kind, e.layer) for e in t.step(n).evidence} for n in range(1, 8)}
    assert ("http.request", "cli") in kinds[1]
    assert ("proc.exec", "cli") in kinds[1]  # the docker CLI's own exec
    assert ("conn.accept", "cli") in kinds[2]
    assert ("sys.mount", "dockerd") in kinds[3]
    assert ("proc.exec", "shim") in kinds[4] and ("proc.exec", "runc") in kinds[4]
    assert any(k == "sys.unshare" for k, _ in kinds[5])
    assert any(k == "sys.pivot_root" for k, _ in kinds[5])
    assert ("proc.exec", "container") in kinds[6]
    assert any(k == "stream.frame" for k, _ in kinds[7])
    unshare = next(e for e in t.step(5).evidence if e.kind == "sys.unshare")
    assert unshare.comm == "runc:[1:CHILD]"
    assert set(unshare.detail["flag_names"]) >= set(NAMESPACE_FLAGS)


def test_reality_checks_come_from_the_events(echo_hi: list[Event]) -> None:
    checks = {c.name: c for c in fold(echo_hi).checks}
    mount = checks["overlay-mount"]
    assert mount.agrees is False and mount.observed.startswith("dockerd (pid")
    assert mount.evidence[0].layer == "dockerd"
    ns = checks["namespaces"]
    assert ns.agrees is False
    assert "runc:[1:CHILD]" in ns.observed and "unshare(" in ns.observed
    assert "CLONE_PARENT" in ns.observed
    pidns = checks["pid-namespace"]
    assert pidns.agrees is True and "pid 1 inside" in pidns.observed
    assert checks["parent"].agrees is False
    assert checks["api-order"].agrees is True


def test_hops_travel_the_whole_chain_in_time_order(echo_hi: list[Event]) -> None:
    t = fold(echo_hi)
    assert [h.time_ns for h in t.hops] == sorted(h.time_ns for h in t.hops)
    crossed = {(h.src, h.dst) for h in t.hops}
    for pair in [
        ("cli", "socket"),
        ("socket", "dockerd"),
        ("containerd", "shim"),
        ("shim", "runc"),
        ("runc", "kernel"),
        ("kernel", "cli"),
    ]:
        assert pair in crossed, pair
    assert any(h.label.startswith("POST /v1.41/containers/create") for h in t.hops)
    assert any(h.label == 'stdout "hi\\n" (3 B)' for h in t.hops)


def test_without_kernel_probes_steps_4_to_6_are_missing_not_faked(echo_hi: list[Event]) -> None:
    proxy_only = [e for e in echo_hi if e.source == "proxy"]
    t = fold(proxy_only, backend="proc")
    assert [s.status for s in t.steps] == ["observed"] * 3 + ["missing"] * 3 + ["observed"]
    assert all("no kernel probe" in t.step(n).reason for n in (4, 5, 6))
    assert t.container is not None and t.container.output == "hi\n"


def test_a_pull_shows_in_step_3() -> None:
    t = fold(events_of("run-pull.jsonl"))
    assert [s.status for s in t.steps] == ["observed"] * 7
    s3 = t.step(3)
    assert any("pulled it" in f for f in s3.facts)
    assert any(
        e.kind == "http.request" and e.detail["endpoint"] == "/images/create" for e in s3.evidence
    )
    order = [e.detail["endpoint"] for e in t.step(1).evidence if e.kind == "http.request"]
    assert order[:3] == ["/_ping", "/containers/create", "/images/create"]


def test_a_missing_image_is_dockerds_http_error() -> None:
    t = fold(events_of("run-missing-image.jsonl"))
    s3 = t.step(3)
    assert s3.status == "observed" and "HTTP 404" in s3.error
    assert all(t.step(n).status == "missing" for n in (4, 5, 6, 7))
    assert all("never happened" in t.step(n).reason for n in (4, 5, 6, 7))
    assert t.container is not None and t.container.id == "" and t.container.exit_code is None


def test_two_concurrent_runs_each_get_their_own_trace() -> None:
    traces = runs(events_of("two-runs.jsonl"))
    assert len(traces) == 2
    outputs = sorted(t.container.output for t in traces if t.container)
    assert outputs == ["one\n", "two\n"]
    for t in traces:
        assert [s.status for s in t.steps] == ["observed"] * 7
        assert t.container is not None
        cid = t.container.id
        # nothing of the other run leaks in: every runc exec names this run's container
        for e in t.step(4).evidence:
            if e.kind == "proc.exec" and e.layer == "runc":
                assert cid in " ".join(e.detail["argv"])
    mounts = [next(c for c in t.checks if c.name == "overlay-mount").observed for t in traces]
    assert mounts[0] != mounts[1]


def test_narration_and_json_agree(echo_hi: list[Event]) -> None:
    t = fold(echo_hi, backend="bcc")
    text = narrate(t)
    assert "7 ✓ The output travels back up to the terminal" in text
    assert "output: hi" in text
    doc = to_json(t)
    assert [s["number"] for s in doc["steps"]] == list(range(1, 8))
    assert doc["container"]["exit_code"] == 0 and doc["backend"] == "bcc"
    assert doc["steps"][4]["evidence"][0]["kind"]


def test_events_out_of_order_fold_the_same(echo_hi: list[Event]) -> None:
    shuffled = list(reversed(echo_hi))
    assert to_json(fold(shuffled)) == to_json(fold(echo_hi))


def test_an_unreadable_argv_folds_without_it(echo_hi: list[Event]) -> None:
    """tracefs cannot always read a command line (the process was gone): argv is None then."""
    blind = [
        replace(e, detail={**e.detail, "argv": None, "unreadable": ["argv"]})
        if e.kind == "proc.exec"
        else e
        for e in echo_hi
    ]
    trace = fold(blind, backend="tracefs")
    assert trace.container is not None and trace.container.output == "hi\n"
    assert [trace.step(n).status for n in (1, 2, 3, 7)] == ["observed"] * 4
    assert "observed" in narrate(trace) or "✓" in narrate(trace)


def test_step_7_counts_wait_when_the_exit_status_comes(echo_hi: list[Event]) -> None:
    """dockerd answers /wait with 200 before the container even starts; the exit status (its
    body) comes back at the end, and only that is step 7."""
    t = fold(echo_hi)
    wait = next(e for e in t.step(7).evidence if e.kind == "http.response")
    assert wait.time_ns < t.step(4).start_ns  # the 200 header: early
    assert t.step(7).start_ns >= t.step(6).start_ns  # the step: after the command ran
    assert t.step(7).end_ns == wait.detail["last_byte_ns"]
    assert list(t.step(7).times) == sorted(t.step(7).times)


def test_dockerd_work_shows_while_create_is_still_unanswered(echo_hi: list[Event]) -> None:
    """Live, the trace is folded again as events come: dockerd's mounts during a create whose
    answer has not come yet belong to the run already (they used to wait for the answer)."""
    evs = sorted(echo_hi, key=lambda e: e.time_ns)
    create = next(e for e in evs if e.kind == "http.request" and "create" in str(e.detail))
    answer = next(
        e for e in evs if e.kind == "http.response" and e.detail["seq"] == create.detail["seq"]
        and e.detail["conn"] == create.detail["conn"]
    )  # fmt: skip
    so_far = [e for e in evs if e.time_ns < answer.time_ns]
    mount = next(e for e in so_far if e.kind == "sys.mount" and e.time_ns > create.time_ns)
    assert mount in fold(so_far).step(3).evidence
