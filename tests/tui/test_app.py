"""Pilot tests: replay a run step by step and check what the chain, steps and panes show."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from rich.console import RenderableType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input

from tests.tui.builders import make_header, make_trace, run_events
from tests.tui.conftest import FakeClock
from tracer.record.format import read_recording, write_recording
from tracer.tui import live, perf
from tracer.tui.app import DockertraceApp
from tracer.tui.live import LiveFinished, LiveStarted
from tracer.tui.rendered_lines import RenderedLines
from tracer.tui.source import fold_events
from tracer.tui.widgets.banner import Banner
from tracer.tui.widgets.chain_view import ChainView
from tracer.tui.widgets.detail_pane import DetailPane
from tracer.tui.widgets.step_list import StepList
from tracer.tui.widgets.timeline import Timeline, layer_filters

AppMaker = Callable[..., DockertraceApp]


class Scripted:
    """A live run the test plays itself: the app's start_live, handing the test the `post`
    through which the tracing process would send the app its messages."""

    def __init__(self) -> None:
        self.post: Callable[[Message], object] = lambda message: True
        self.started = self.stopped = False

    def __call__(self, args: list[str] | None, post: Callable[[Message], object]) -> Scripted:
        self.post, self.started = post, True
        return self

    def stop(self) -> None:
        self.stopped = True


async def until(pilot: Any, done: Callable[[], bool], turns: int = 200) -> None:
    """Let the app handle its messages until `done` (at most `turns` times, no clock)."""
    for _ in range(turns):
        if done():
            return
        await pilot.pause()


# step -> the boxes its first evidence lights (the active hop's two ends)
ACTIVE_AT_STEP = {
    1: (),
    2: ("cli", "socket"),
    3: ("dockerd", "kernel"),
    4: ("containerd", "shim"),
    5: ("runc", "shim"),
    6: ("runc", "kernel"),
    7: ("cli", "kernel"),
}


def text_of(app: DockertraceApp, content: RenderableType) -> str:
    """What a pane shows, as plain text lines."""
    lines = app.console.render_lines(content, app.console.options.update_width(100))
    return "\n".join("".join(seg.text for seg in line).rstrip() for line in lines)


def drawn(pane: RenderedLines) -> str:
    """The lines the pane draws, as plain text."""
    return "\n".join(line.text.rstrip() for line in pane.lines)


def observed(app: DockertraceApp) -> list[int]:
    scene = app.query_one(ChainView).scene
    assert scene is not None
    return [s.number for s in scene.steps if s.shown == "observed"]


def active(app: DockertraceApp) -> tuple[str, ...]:
    scene = app.query_one(ChainView).scene
    assert scene is not None
    return tuple(sorted(scene.active_boxes))


async def test_jumping_to_each_step_lights_its_boxes_and_observes_the_steps_so_far(
    make_app: AppMaker,
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        assert observed(app) == [] and active(app) == ()
        for n in range(1, 8):
            await pilot.press(str(n))
            assert observed(app) == list(range(1, n + 1)), n
            assert active(app) == tuple(sorted(ACTIVE_AT_STEP[n])), n
            steps = app.query_one(StepList)
            assert steps.scene is not None and steps.scene.current_step == n


async def test_stepping_by_event_and_by_step(make_app: AppMaker) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n", "n")
        assert app.player.position == 1
        await pilot.press("N")
        assert app.player.position == 4 and observed(app) == [1, 2, 3]
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert app.player.position == 10
        await pilot.press("left_square_bracket")
        assert app.player.position == 8
        await pilot.press("p")
        assert app.player.position == 7 and observed(app) == [1, 2, 3]


async def test_playback_at_the_default_pace_follows_the_clock(
    make_app: AppMaker, clock: FakeClock
) -> None:
    app = make_app(autoplay=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.1)
        assert app.player.position == 0 and observed(app) == [1]
        clock.now += 0.6  # 5 ms at 0.1x = 50 ms, but step 1 is held for a second
        await pilot.pause(0.1)
        assert observed(app) == [1]
        clock.now += 0.5
        await pilot.pause(0.1)
        assert observed(app) == [1, 2]
        await pilot.press("space")
        clock.now += 100
        await pilot.pause(0.1)
        assert observed(app) == [1, 2] and app.player.paused
        await pilot.press("t", "space")
        clock.now += 100
        await pilot.pause(0.1)
        assert app.player.finished and observed(app) == [1, 2, 3, 4, 5, 6, 7]
        assert "exit 0" in app.query_one(ChainView).render().plain


async def test_the_chain_shows_pids_and_the_active_hop_label(make_app: AppMaker) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5", "n")
        text = app.query_one(ChainView).render().plain
        assert "pid 5122" in text and "pid 5100" in text
        assert "unshare(NEWNS|NEWUTS|NEWIPC|NEWPID|NEWNET)" in text
        assert "●" in text


async def test_reality_check_and_output_appear(make_app: AppMaker) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        story = text_of(app, app.query_one(StepList).story)
        assert "containerd sets up OverlayFS" in story and "dockerd mounted overlay" in story
        await pilot.press("7", "n", "n", "n")
        assert "Output: hi" in text_of(app, app.query_one(StepList).story)
        await pilot.pause()
        assert "Output: hi" in drawn(app.query_one(StepList))


async def test_timeline_filters_by_layer_and_searches(make_app: AppMaker) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("7", "n", "n")
        timeline = app.query_one(Timeline)
        assert timeline.table.row_count == 20
        await pilot.press("l", "l")  # all -> cli -> proxy
        assert timeline.layer_filter == "proxy"
        assert timeline.table.row_count == len([e for e in run_events() if e.layer == "proxy"])
        for _ in range(len(layer_filters(run_events())) - 2):
            await pilot.press("l")
        assert timeline.layer_filter == "all"
        await pilot.press("slash", *"unshare", "enter")
        assert timeline.table.row_count == 1


async def test_detail_pane_pretty_prints_the_request_body(make_app: AppMaker) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("1", "n", "n", "n")
        await pilot.pause(0.3)
        detail = app.query_one(DetailPane)
        assert detail.event is not None and detail.event.kind == "http.request"
        rendered = text_of(app, detail.body)
        assert '"Cmd": [' in rendered and "POST /v1.41/containers/create" in rendered


async def test_export_writes_a_recording_and_a_screenshot(
    make_app: AppMaker, tmp_path: Path
) -> None:
    app = make_app(export_dir=str(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("e")
        notice = app.query_one(Banner).notice
    jsonl = next(tmp_path.glob("*.jsonl"))
    svg = jsonl.with_suffix(".svg")
    assert str(jsonl) in notice and str(svg) in notice and "3 pictures" in notice
    assert len(read_recording(jsonl).events) == len(run_events())
    assert svg.read_text().lstrip().startswith("<svg")
    # the pictures beside them: the sequence as Mermaid and SVG, the process tree
    stem = jsonl.with_suffix("")
    mermaid = Path(f"{stem}-sequence.mmd").read_text()
    assert mermaid.startswith("sequenceDiagram\n") and "cli->>dockerd: POST " in mermaid
    assert Path(f"{stem}-sequence.svg").read_text().startswith("<svg")
    assert "runc:[2:INIT]" in Path(f"{stem}-tree.txt").read_text()


async def test_open_reads_a_recording_and_reports_a_bad_one(
    make_app: AppMaker, tmp_path: Path
) -> None:
    good = tmp_path / "good.jsonl"
    write_recording(good, make_header(), run_events()[:5])
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not a recording\n")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("o")
        await pilot.pause()
        app.screen.query_one(Input).value = str(good)
        await pilot.press("enter")
        await pilot.pause()
        assert app.loaded.path == str(good) and 0 < len(app.loaded.trace.events) <= 5
        await pilot.press("o")
        await pilot.pause()
        app.screen.query_one(Input).value = str(bad)
        await pilot.press("enter")
        await pilot.pause()
        assert app.loaded.path == str(good)
        assert "the header line is not JSON" in app.query_one(Banner).notice


async def test_live_key_says_plainly_when_live_is_not_available(make_app: AppMaker) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("g")
        notice = app.query_one(Banner).notice
        assert notice.startswith("Cannot run live here (`dockertrace doctor` tells more)")
        assert notice.endswith(": not checked.")


async def test_themes_cycle_and_no_color_is_respected(make_app: AppMaker) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        assert app.theme == "textual-light"
        await pilot.press("c")
        assert app.theme == "dockertrace-high-contrast"
    import os

    os.environ["NO_COLOR"] = "1"
    try:
        mono = make_app()
    finally:
        os.environ.pop("NO_COLOR", None)
    assert mono.no_color


def test_builders_make_a_consistent_trace() -> None:
    trace = make_trace()
    assert len(trace.steps) == 7 and all(h.event in trace.events for h in trace.hops)


async def test_the_token_travels_with_the_clock_then_the_app_goes_idle(
    make_app: AppMaker, clock: FakeClock
) -> None:
    app = make_app(animate=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await pilot.pause(0.1)
        chain = app.query_one(ChainView)
        assert chain.phase == 0.0
        clock.now += 0.25  # half of the travel time at the default speed
        await pilot.pause(0.1)
        assert chain.phase == 0.5
        clock.now += 5
        await pilot.pause(0.1)
        assert chain.phase == 1.0
        assert app._ticker is not None and not perf.timer_running(app._ticker)  # idle: no timer


async def test_the_command_palette_offers_the_app_s_actions(make_app: AppMaker) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)):
        titles = {c.title for c in app.get_system_commands(app.screen)}
    assert {"Play / pause", "Replay", "Real time", "Open a recording", "Export"} <= titles
    assert {"Run live", "Trace a docker run…", "Next colour theme"} <= titles


async def test_clicking_a_box_shows_its_events_and_clicking_again_shows_all(
    make_app: AppMaker,
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("7", "n", "n")
        chain = app.query_one(ChainView)
        x = next(x for x in range(chain.size.width) if chain.box_at(x) == "runc")
        await pilot.click(ChainView, offset=(x, 2))
        timeline = app.query_one(Timeline)
        assert timeline.layer_filter == "runc"
        assert timeline.table.row_count == len([e for e in run_events() if e.layer == "runc"])
        await pilot.click(ChainView, offset=(x, 2))
        assert timeline.layer_filter == "all"


async def test_typed_command_must_be_a_docker_run(make_app: AppMaker) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("x")
        await pilot.pause()
        app.screen.query_one(Input).value = "docker ps"
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one(Banner).notice == ""  # refused before anything ran
        await pilot.press("x")
        await pilot.pause()
        app.screen.query_one(Input).value = "docker run --rm alpine echo typed"
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one(Banner).notice.startswith("Cannot run live here")


def test_parse_command_accepts_docker_run_only() -> None:
    from tracer.tui.live import parse_command

    assert parse_command("docker run --rm alpine echo 'a b'") == [
        "run",
        "--rm",
        "alpine",
        "echo",
        "a b",
    ]
    assert parse_command("run -i x") == ["run", "-i", "x"]
    for bad in ("docker ps", "", "docker run 'unclosed"):
        with pytest.raises(ValueError):
            parse_command(bad)


async def test_live_reason_is_asked_only_when_a_live_run_is_wanted(make_app: AppMaker) -> None:
    asked: list[bool] = []

    def why() -> str:
        asked.append(True)
        return "daemon: cannot connect"

    app = make_app(live_reason=why)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        assert not asked
        await pilot.press("g")
        assert asked and app.query_one(Banner).notice.endswith(": daemon: cannot connect.")


async def test_a_live_run_shows_its_events_as_they_come_then_replays_the_whole_run(
    make_app: AppMaker,
) -> None:
    events = run_events()
    seen_live: list[int] = []
    run = Scripted()
    app = make_app(live_reason=None, start_live=run)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        assert run.started
        # the tracing process: events one by one, the end, then a probe thread's straggler
        inbox = live.Inbox(run.post)
        run.post(LiveStarted(make_header(), "bcc", ["docker", "run", "--rm", "busybox", "echo"]))
        for ev in events:
            inbox.put(ev)
            await pilot.pause()
            if app.mode == "live":
                seen_live.append(len(app.loaded.trace.events))
        run.post(LiveFinished(list(events), make_header(), 0, "hi\n", ""))
        inbox.put(events[-1])
        await until(pilot, lambda: app.query_one(Banner).notice.startswith("docker exited"))
        await pilot.pause()
        assert app.query_one(Banner).notice.startswith("docker exited 0; printed: hi")
        assert seen_live and max(seen_live) > 0  # drawn while the run went on
        whole = fold_events(events, "bcc").events
        assert app.loaded.trace.events == whole
        # the replay starts from the top; the straggler did not fold the run again at its end
        assert app.player.position < len(whole) - 1


async def test_the_banner_says_what_the_doctor_found_after_the_first_frame() -> None:
    from tracer.tui.start import CHECKING, decide

    start = decide(None, lambda: "privileges: uid 1000 without CAP_BPF/CAP_PERFMON")
    app = DockertraceApp(
        start.loaded,
        mode=start.mode,
        notice=start.notice,
        live_reason=start.live_reason,
        check_live=start.check_live,
        autoplay=False,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        banner = app.query_one(Banner)
        for _ in range(50):
            if banner.notice != CHECKING:
                break
            await pilot.pause(0.02)
        assert banner.notice.startswith("No live tracing here") and "uid 1000" in banner.notice
        assert app.live_reason == "privileges: uid 1000 without CAP_BPF/CAP_PERFMON"
        await pilot.press("g")  # refused, without asking again
        assert "Cannot run live here" in banner.notice


class LayoutsCounted(Screen[Any]):
    """The app's screen, noting each layout of it (Textual's private name: see tui/perf.py's
    test, which fails first if Textual renames it)."""

    layouts: ClassVar[list[int]] = []

    def _refresh_layout(self, *args: Any, **kwargs: Any) -> None:
        self.layouts.append(1)
        super()._refresh_layout(*args, **kwargs)


class CountingLayouts(DockertraceApp):
    def get_default_screen(self) -> Screen[Any]:
        return LayoutsCounted(id="_default")


async def test_a_live_run_growing_lays_the_screen_out_no_more(make_app: AppMaker) -> None:
    # a layout of the whole screen and the full frame after it held a live event back ~40 ms;
    # the panes' scrollbars coming and a new notice's height made four a run
    events = run_events()
    run = Scripted()
    layouts = LayoutsCounted.layouts
    layouts.clear()
    app = make_app(live_reason=None, start_live=run, cls=CountingLayouts)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("g")
        run.post(LiveStarted(make_header(), "bcc", ["docker", "run", "--rm", "busybox", "echo"]))
        await until(pilot, lambda: app.query_one(Banner).notice.startswith("Tracing"))
        await pilot.pause()
        assert app.screen.has_class("-live")
        before = len(layouts)
        inbox = live.Inbox(run.post)
        for ev in events:
            inbox.put(ev)
            await pilot.pause()
        whole = len(fold_events(events).events)
        await until(pilot, lambda: len(app.loaded.trace.events) == whole)
        await pilot.pause()
        table = app.query_one(Timeline).table
        # the rows overflow the table (its scrollbar would have come), yet nothing was laid out
        assert table.row_count + 1 > table.size.height and not table.show_vertical_scrollbar
        assert len(layouts) == before
        run.post(LiveFinished(list(events), make_header(), 0, "hi\n", ""))
        await until(pilot, lambda: app.query_one(Banner).notice.startswith("docker exited"))
        assert not app.screen.has_class("-live")  # the replay is laid out as ever
        assert table.styles.overflow_y == "auto"  # a scrollbar again, when the rows need one


class FramesCounted(DockertraceApp):
    """The app, noting how many events the trace had at each frame it sent (App._display is
    Textual's private name for that: see tui/perf.py's test)."""

    frames: list[int]

    def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
        if renderable is not None:
            self.frames.append(len(self.loaded.trace.events))
        super()._display(screen, renderable)


async def test_a_live_batch_is_on_screen_when_its_message_is_handled(
    make_app: AppMaker,
) -> None:
    # Textual draws a change a few turns of the loop later (the widget's idle, the screen's,
    # its update timer); a live run's events waited 10-30 ms for that behind other work
    app = make_app(live_reason=None, start_live=Scripted(), cls=FramesCounted)
    assert isinstance(app, FramesCounted)
    frames: list[int] = []
    app.frames = frames
    events = run_events()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        app.post_message(LiveStarted(make_header(), "bcc", ["docker", "run"]))
        await until(pilot, lambda: app.query_one(Banner).notice.startswith("Tracing"))
        inbox = live.Inbox(lambda message: True)
        inbox.put_many(events[:40])
        before = len(frames)
        app.on_live_events(live.LiveEvents(inbox))
        shown = len(app.loaded.trace.events)
        assert shown > 0 and frames[before:] == [shown]  # one frame, drawn by then, with them


async def test_the_search_box_is_made_when_first_wanted(make_app: AppMaker) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        timeline = app.query_one(Timeline)
        assert not timeline.query(Input)  # the first frame does without it
        await pilot.click("#search-hint")
        await pilot.pause()
        box = timeline.query_one("#search", Input)
        assert box.has_focus and not timeline.query("#search-hint")
        app.set_focus(None)
        await pilot.press("slash")  # the same box again
        assert box.has_focus and len(timeline.query(Input)) == 1
