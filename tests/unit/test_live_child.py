"""A live run's child process and the app's reading of it: the lines, in order, and the ways
it can go wrong (a bad line, a child that dies, bad arguments), each said plainly."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from textual.message import Message

from tests.tui.builders import make_header, run_events
from tracer.sources import live_child
from tracer.tui.live import LiveChild, LiveEvents, LiveFailed, LiveFinished, LiveStarted


def lines(*items: dict[str, object]) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


def started() -> dict[str, object]:
    return {"started": {"header": make_header(), "choices": "bcc", "argv": ["docker", "run"]}}


def finished() -> dict[str, object]:
    header = make_header()
    return {"finished": {"header": header, "returncode": 0, "stdout": "hi\n", "stderr": ""}}


def reader() -> tuple[LiveChild, list[Message]]:
    posted: list[Message] = []
    return LiveChild(None, posted.append), posted


def test_lines_become_the_messages_in_order_and_events_cut_anywhere_are_whole() -> None:
    child, posted = reader()
    events = run_events()[:20]
    data = lines(started(), *({"event": ev.to_dict()} for ev in events), finished())
    for i in range(0, len(data), 37):  # the pipe gives chunks that cut lines anywhere
        child.feed(data[i : i + 37])
    kinds = [type(m) for m in posted]
    assert kinds[0] is LiveStarted and kinds[-1] is LiveFinished
    assert set(kinds[1:-1]) == {LiveEvents}  # the events' messages come before the end's
    assert posted[0].argv == ["docker", "run"]  # type: ignore[attr-defined]
    assert child.inbox.take() == events  # every event, in order, none twice
    end = posted[-1]
    assert isinstance(end, LiveFinished) and end.events == events and end.stdout == "hi\n"


def test_a_bad_line_fails_the_run_once_and_names_what_was_wrong() -> None:
    child, posted = reader()
    child.feed(lines(started()) + b"not json\n" + lines({"event": {"kind": 1}}, finished()))
    failed = [m for m in posted if isinstance(m, LiveFailed)]
    assert len(failed) == 1 and "wrote a line it should not" in failed[0].why
    assert not any(isinstance(m, LiveFinished) for m in posted)  # after the failure: nothing


def test_a_failure_line_is_the_end() -> None:
    child, posted = reader()
    child.feed(lines(started(), {"failed": "ProxyError: no daemon"}, finished()))
    assert [type(m) for m in posted] == [LiveStarted, LiveFailed]
    assert isinstance(posted[1], LiveFailed) and posted[1].why == "ProxyError: no daemon"


class Dying(LiveChild):
    """A child that says one thing on stderr and dies before any end line."""

    def command(self) -> list[str]:
        code = "import sys; sys.stderr.write('warming up\\nSegfault-ish: gone\\n'); sys.exit(3)"
        return [sys.executable, "-c", code]


def test_a_child_that_dies_without_a_word_is_a_failure_with_its_last_stderr_line() -> None:
    posted: list[Message] = []

    async def go() -> None:
        child = Dying(None, posted.append)
        child.start()
        for _ in range(200):
            await asyncio.sleep(0.02)
            if posted:
                break
        child.stop()

    asyncio.run(go())
    assert len(posted) == 1 and isinstance(posted[0], LiveFailed)
    assert posted[0].why == (
        "the tracing process ended (exit status 3) before the run did: Segfault-ish: gone"
    )


def test_the_child_refuses_arguments_that_are_not_a_list_of_strings() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "tracer.sources.live_child", '{"run": 1}'],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    assert r.returncode == 2
    said = json.loads(r.stdout)
    assert said["failed"].startswith("bad arguments for the live run: expected a JSON list")


def test_the_default_command_names_the_offline_image_as_docker_knows_it() -> None:
    assert live_child.default_command("alpine") == ["run", "--rm", "alpine", "echo", "hi"]
    command = live_child.default_command("dockertrace/busybox")
    assert command[2] == "dockertrace/busybox:latest"


def test_a_run_is_labelled_as_this_process_so_a_cut_short_one_is_removed() -> None:
    import os

    assert live_child.labelled(["run", "--rm", "alpine", "echo", "hi"]) == [
        "run",
        "--label",
        f"dockertrace.session={os.getpid()}",
        "--rm",
        "alpine",
        "echo",
        "hi",
    ]
