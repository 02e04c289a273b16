"""What `dockertrace tui` opens on: a file asked for, else the bundled recording with a banner
saying why live tracing is not possible, else a live screen waiting for a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui.builders import make_header, run_events
from tracer.cli import build_parser
from tracer.cli import tui as command
from tracer.record.format import RecordingError, write_recording
from tracer.tui import start as tui_start


def test_without_live_the_bundled_recording_opens_with_a_banner_saying_why() -> None:
    start = tui_start.decide(None, "privileges: uid 1000 without CAP_BPF/CAP_PERFMON")
    assert start.mode == "replay" and start.loaded.name == "run-echo-hi.jsonl"
    assert "dockertrace doctor" in start.notice and "uid 1000" in start.notice
    assert start.live_reason is not None and not start.check_live


def test_with_live_the_screen_says_which_keys_run_it() -> None:
    start = tui_start.decide(None, None)
    assert start.live_reason is None and "g runs docker run" in start.notice


def test_replay_opens_the_file_and_a_bad_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    write_recording(path, make_header(), run_events())
    start = tui_start.decide(str(path), "no root")
    assert start.mode == "replay" and start.loaded.path == str(path)
    (tmp_path / "bad.jsonl").write_text("{}\n")
    with pytest.raises(RecordingError):
        tui_start.decide(str(tmp_path / "bad.jsonl"), None)


def test_the_subcommand_is_registered() -> None:
    args = build_parser().parse_args(["tui", "--replay", "x.jsonl", "--theme", "high-contrast"])
    assert args.func is command.run and args.replay == "x.jsonl"


def test_live_needs_root_daemon_and_cli_but_not_kernel_probes() -> None:
    from tracer.sources import doctor, picker

    def report(*failing: str) -> doctor.Report:
        names = ("docker CLI", "socket", "daemon", "privileges", "bcc", "tracefs")
        return doctor.Report([doctor.Check(n, n not in failing, f"{n} found") for n in names])

    assert picker.verdict(report("bcc", "tracefs")).reason is None
    assert picker.verdict(report("privileges", "bcc")).reason == "privileges: privileges found"


def test_theme_names_match_the_themes() -> None:
    from tracer.tui.themes import THEMES

    assert set(tui_start.THEME_NAMES.values()) == set(THEMES)


def test_nothing_waits_for_the_doctor_before_the_first_frame() -> None:
    asked: list[bool] = []

    def why() -> str | None:
        asked.append(True)
        return "no root"

    start = tui_start.decide(None, why)  # the bundled recording, the checks asked later
    assert not asked and start.live_reason is why and start.check_live
    assert start.notice == tui_start.CHECKING and start.loaded.name == "run-echo-hi.jsonl"
    path = tui_start.bundled_recording()
    assert path is not None
    start = tui_start.decide(str(path), why)
    assert not asked and start.live_reason is why and not start.check_live
