"""The app in a real terminal (tmux): it draws the chain, quits on q, and leaves the terminal as
it found it (main screen, cursor shown, no mouse reporting)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import need
from tests.tui.builders import make_header, run_events
from tracer.record.format import write_recording
from tracer.tui.source import bundled_recording

ROOT = Path(__file__).resolve().parents[2]


def tmux(*args: str) -> str:
    out = subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=10)
    return out.stdout


def wait_for(session: str, text: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-p", "-t", session)
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; the screen was:\n{screen}")


@pytest.fixture
def session() -> Iterator[str]:
    """A 100x30 tmux session running a plain interactive bash in the repo, killed after."""
    need(shutil.which("tmux") is not None, "tmux is not installed")
    name = f"dt-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PS1": "$ ", "TERM": "xterm-256color"}
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", name, "-x", "100", "-y", "30", "bash --norc -i"],
        check=True,
        env=env,
        cwd=ROOT,
    )
    yield name
    tmux("kill-session", "-t", name)


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    bundled = bundled_recording()
    if bundled is not None:
        return bundled
    path = tmp_path / "run.jsonl"
    write_recording(path, make_header(), run_events())
    return path


def test_app_draws_the_chain_quits_and_restores_the_terminal(recording: Path, session: str) -> None:
    command = f"{sys.executable} -m tracer tui --replay {recording}; echo EXITED $?"
    tmux("send-keys", "-t", session, command, "Enter")
    screen = wait_for(session, "containerd")
    for name in ("docker", "socket", "dockerd", "shim", "runc", "kernel", "Steps", "Timeline"):
        assert name in screen
    assert tmux("display", "-p", "-t", session, "#{alternate_on}").strip() == "1"
    tmux("send-keys", "-t", session, "7")
    wait_for(session, "Step 7: The output")
    tmux("send-keys", "-t", session, "q")
    screen = wait_for(session, "EXITED 0")
    assert "containerd" not in screen and "Timeline" not in screen
    flags = tmux("display", "-p", "-t", session, "#{alternate_on} #{cursor_flag} #{mouse_any_flag}")
    assert flags.split() == ["0", "1", "0"]


CRASHING = """
import sys
sys.path.insert(0, {root!r})
from textual.binding import Binding
from tracer.tui.app import DockertraceApp
from tracer.tui.source import load


class Crashing(DockertraceApp):
    BINDINGS = [Binding("z", "crash", "Crash")]

    def action_crash(self) -> None:
        raise RuntimeError("boom on purpose")


app = Crashing(load({path!r}), autoplay=False, live_reason="test")
app.run()
raise SystemExit(app.return_code or 0)
"""


def test_an_error_inside_the_app_still_restores_the_terminal(
    recording: Path, tmp_path: Path, session: str
) -> None:
    script = tmp_path / "crash.py"
    script.write_text(CRASHING.format(root=str(ROOT), path=str(recording)))
    tmux("send-keys", "-t", session, f"{sys.executable} {script}; echo EXITED $?", "Enter")
    wait_for(session, "containerd")
    tmux("send-keys", "-t", session, "z")
    screen = wait_for(session, "EXITED 1")
    assert "boom on purpose" in tmux("capture-pane", "-p", "-S", "-200", "-t", session)
    assert "Timeline" not in screen
    flags = tmux("display", "-p", "-t", session, "#{alternate_on} #{cursor_flag} #{mouse_any_flag}")
    assert flags.split() == ["0", "1", "0"]
