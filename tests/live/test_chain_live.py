"""`dockertrace run`, `record` and `replay` against the real daemon with real eBPF."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live.conftest import push_to


def dockertrace(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracer", *args], capture_output=True, text=True, timeout=timeout
    )


def containers() -> set[str]:
    r = subprocess.run(["docker", "ps", "-aq", "--no-trunc"], capture_output=True, text=True)
    return set(r.stdout.split())


@pytest.fixture(scope="module")
def live_run(demo_image: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, set]:
    rec = tmp_path_factory.mktemp("rec") / "run.jsonl"
    before = containers()
    r = dockertrace(
        "run", "--json", "--image", demo_image, "--record", str(rec), "--", "echo", "hi"
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout), rec, containers() - before


def test_run_json_has_all_seven_steps_observed(live_run: tuple[dict, Path, set]) -> None:
    doc, _, _ = live_run
    assert [s["status"] for s in doc["steps"]] == ["observed"] * 7, [
        (s["number"], s["reason"]) for s in doc["steps"] if s["status"] != "observed"
    ]
    assert doc["backend"] == "bcc"
    assert doc["container"]["output"] == "hi\n" and doc["container"]["exit_code"] == 0
    kinds = {e["kind"] for s in doc["steps"] for e in s["evidence"]}
    assert {"http.request", "conn.accept", "sys.mount", "sys.unshare", "proc.exec"} <= kinds
    checks = {c["name"]: c for c in doc["checks"]}
    assert checks["overlay-mount"]["observed"].startswith("dockerd")
    assert "runc:[1:CHILD]" in checks["namespaces"]["observed"]


def test_rm_leaves_no_container(live_run: tuple[dict, Path, set]) -> None:
    _, _, left = live_run
    assert left == set()


def test_replay_of_the_fresh_recording_is_the_same_trace(live_run: tuple[dict, Path, set]) -> None:
    doc, rec, _ = live_run
    r = dockertrace("replay", str(rec), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == doc


def test_a_run_that_pulls_shows_the_pull_in_step_3(demo_image: str, registry: str) -> None:
    ref = push_to(registry, demo_image, "dockertrace/chain-pull")
    try:
        r = dockertrace("run", "--json", "--image", ref, "--", "echo", "pulled")
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
    finally:
        subprocess.run(["docker", "rmi", "-f", ref], capture_output=True)
    step3 = doc["steps"][2]
    assert step3["status"] == "observed"
    assert any("pulled it" in f for f in step3["facts"])
    assert doc["container"]["output"] == "pulled\n"


def test_missing_image_is_dockerds_error_and_steps_4_to_7_missing(registry: str) -> None:
    r = dockertrace("run", "--json", "--image", f"{registry}/dockertrace/absent", "--", "true")
    assert r.returncode != 0
    doc = json.loads(r.stdout)
    assert "HTTP 404" in doc["steps"][2]["error"]
    assert [s["status"] for s in doc["steps"][3:]] == ["missing"] * 4


def test_httpx_client_makes_the_same_calls(demo_image: str) -> None:
    r = dockertrace("run", "--json", "--client", "httpx", "--image", demo_image, "--", "echo", "hx")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["container"]["exit_code"] == 0
    calls = [
        e["detail"]["endpoint"] for e in doc["steps"][0]["evidence"] if e["kind"] == "http.request"
    ]
    assert calls[0] == "/containers/create" and calls[1].endswith("/start")
    assert [s["status"] for s in doc["steps"][3:6]] == ["observed"] * 3


def test_record_any_docker_command(tmp_path: Path, docker_daemon: str) -> None:
    rec = tmp_path / "ps.jsonl"
    r = dockertrace("record", "-o", str(rec), "--", "docker", "ps")
    assert r.returncode == 0, r.stderr
    r = dockertrace("replay", str(rec), "--json")
    doc = json.loads(r.stdout)
    assert doc["container"] is None
    assert [s["status"] for s in doc["steps"][3:6]] == ["skipped"] * 3
    calls = [
        e["detail"]["endpoint"] for e in doc["steps"][0]["evidence"] if e["kind"] == "http.request"
    ]
    assert "/containers/json" in calls
