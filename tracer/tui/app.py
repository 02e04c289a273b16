"""The dockertrace app: the widgets, the keys, and a player that moves the playhead."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer

from tracer.events import Event
from tracer.record.format import RecordingError
from tracer.tui import live, perf
from tracer.tui.export import export, export_pictures
from tracer.tui.keys import KEYS, palette
from tracer.tui.live_runs import LiveRun, LiveRuns, StartLive
from tracer.tui.pictures import PictureViews
from tracer.tui.playback import DEFAULT_SPEED, Player
from tracer.tui.scene import BOX_LAYERS, event_steps, scene_at
from tracer.tui.screens.prompt_dialog import PromptDialog
from tracer.tui.sharing import Sharing
from tracer.tui.source import Loaded, load
from tracer.tui.themes import HIGH_CONTRAST, THEMES, next_theme
from tracer.tui.widgets.banner import Banner
from tracer.tui.widgets.chain_view import ChainView
from tracer.tui.widgets.detail_pane import DetailPane
from tracer.tui.widgets.process_tree import ProcessTreeView
from tracer.tui.widgets.sequence_view import SequenceView
from tracer.tui.widgets.step_list import StepList
from tracer.tui.widgets.story import StoryPane
from tracer.tui.widgets.timeline import Timeline

FPS = 30
TRAVEL_S = 0.5  # how long the token takes along a hop at the default speed


class DockertraceApp(LiveRuns, Sharing, PictureViews, App[None]):
    """Replays (or runs live, then replays) one `docker run` hop by hop."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere
    TITLE = "dockertrace"
    AUTO_FOCUS = "Timeline EventTable"
    BINDINGS: ClassVar[list[BindingType]] = list(KEYS)

    def __init__(
        self,
        loaded: Loaded,
        *,
        mode: str = "replay",
        notice: str = "",
        get_time: Callable[[], float] = time.monotonic,
        animate: bool = True,
        autoplay: bool = True,
        speed: float = DEFAULT_SPEED,
        export_dir: str = ".",
        theme: str = "textual-dark",
        live_reason: str | Callable[[], str | None] | None = "not checked",
        check_live: bool = False,
        start_live: StartLive = live.start_live,
        present: bool = False,
    ) -> None:
        super().__init__()
        self.loaded = loaded
        self.mode = mode
        self.notice = notice
        self.clock = get_time  # the player's and the token's; the widgets' is Textual's own
        self.motion = animate
        self.export_dir = export_dir
        self.initial_theme = theme
        self.live_reason = live_reason  # None: live runs are possible here
        self.check_live = check_live  # ask live_reason after the first frame, and say
        self.start_live = start_live
        self.player = self._player(loaded, paused=not autoplay, speed=speed)
        self._hop_key: object = None
        self._hop_began = get_time()
        self._ticker: Timer | None = None
        self._live_events: list[Event] = []
        self._live_header: dict[str, Any] = {}
        self._live_running = False  # a live run's worker is on (its events are shown)
        self._live_child: LiveRun | None = None  # the live run's process
        self.collector = perf.Collector()
        self._present_at_start = present  # the presenter layout (`tui --present`)

    # -- building ------------------------------------------------------------------------------
    def run(self, *args: Any, **kwargs: Any) -> None:
        self.collector.before_start()
        try:
            return super().run(*args, **kwargs)
        finally:
            self.collector.after_run()

    def on_ready(self) -> None:
        self.collector.first_frame()
        if self.check_live:
            self.check_live_soon()

    def on_unmount(self) -> None:
        self.stop_live()  # a run cut short by quitting: its process cleans up, then ends
        self.stop_share()
        self.collector.unmounted()

    def compose(self) -> ComposeResult:
        # the terminal's size is known already: the screen is styled short from the start,
        # not restyled (every widget, ~15 ms) when the first resize says so
        self.on_resize()
        yield Banner(id="banner")
        yield ChainView(id="chain")
        yield SequenceView(id="sequence")
        yield ProcessTreeView(id="tree")
        yield StoryPane(id="story")
        with Horizontal(id="panes"):
            yield StepList(self.loaded.trace, id="steps")
            with Vertical(id="right"):
                yield Timeline(id="timeline")
                yield DetailPane(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        perf.draw_partially(self.screen)  # a live batch's frame: only the widgets it changed
        self.register_theme(HIGH_CONTRAST)
        self.theme = self.initial_theme
        self._ticker = self.set_interval(1 / FPS, self._tick, pause=True)
        self.show_loaded(self.loaded, self.mode, self.notice, paused=self.player.paused)
        if self.share_at is not None:
            self.start_share(self.share_at)
        if self._present_at_start:
            self.action_present()

    def on_resize(self) -> None:
        # a short terminal (80×24) gets a one-line notice and no rule under the chain
        self.screen.set_class(self.size.height < 30, "-short")

    def _player(self, loaded: Loaded, paused: bool, speed: float) -> Player:
        trace = loaded.trace
        self._steps = event_steps(trace)
        times = [ev.time_ns for ev in trace.events]
        return Player(times, self._steps, self.clock, speed=speed, paused=paused)

    def show_loaded(self, loaded: Loaded, mode: str, notice: str, paused: bool = False) -> None:
        """Put a trace on screen and start playing it from the beginning."""
        self.loaded, self.mode, self.notice = loaded, mode, notice
        old = self.player
        self.player = self._player(loaded, paused=paused, speed=old.speed)
        self.player.realtime = old.realtime
        banner = self.query_one(Banner)
        banner.mode = mode
        banner.source = loaded.name or ("this machine" if mode == "live" else "")
        banner.backend = loaded.trace.backend or str(loaded.header.get("backend", ""))
        banner.versions = dict(loaded.header.get("versions") or {})
        banner.notice = notice
        self.shared_loaded(loaded, mode)
        self.refresh_scene()
        self._wake()

    # -- the playhead --------------------------------------------------------------------------
    def refresh_scene(self) -> None:
        trace = self.loaded.trace
        scene = scene_at(trace, self.player.position, self._steps)
        hop_key = (id(trace), scene.hops_done)
        if hop_key != self._hop_key:
            self._hop_key, self._hop_began = hop_key, self.clock()
        if self.view == "chain":  # hidden behind a picture: drawn when shown again
            self.query_one(ChainView).show(scene, self._phase())
        self.query_one(StepList).show(trace, scene)
        self.query_one(Timeline).show(trace, scene.position)
        if scene.position < 0:
            self.query_one(DetailPane).show(None, trace)
        self.query_one(Banner).pace = self._pace()
        self.refresh_pictures(trace, scene)

    def _pace(self) -> str:
        state = "▶ playing" if self.player.playing else "‖ paused"
        if self.player.finished and not self.player.playing:
            state = "■ end"
        return f"{state} {self.player.pace}"

    def _phase(self) -> float:
        if not self.motion:
            return 0.5
        travel = TRAVEL_S if self.player.realtime else TRAVEL_S * DEFAULT_SPEED / self.player.speed
        return min(1.0, (self.clock() - self._hop_began) / max(0.05, min(travel, 1.5)))

    def _tick(self) -> None:
        try:
            self._advance()
        except NoMatches:  # the app is shutting down and its widgets are gone
            if self._ticker is not None:
                self._ticker.stop()

    def _advance(self) -> None:
        if self.player.tick():
            self.refresh_scene()
        elif self.motion and self.view == "chain":
            self.query_one(ChainView).phase = self._phase()
        still = not self.player.playing and (not self.motion or self._phase() >= 1.0)
        if still:
            if self._ticker is not None:
                self._ticker.pause()  # nothing moves: no CPU while idle
            self.query_one(Banner).pace = self._pace()

    def _draw_now(self) -> bool:
        """Draw what changed now (a live batch), not a few turns of the event loop later;
        whether the screen then shows all there is (perf.draw_now)."""
        return perf.draw_now(self.screen)

    def _wake(self) -> None:
        if self._ticker is not None:
            self._ticker.resume()

    def _moved(self) -> None:
        self.refresh_scene()
        self._wake()

    # -- keys ----------------------------------------------------------------------------------
    def action_play_pause(self) -> None:
        self.player.toggle()
        self._moved()

    def action_event(self, delta: int) -> None:
        self.player.step_event(delta)
        self._moved()

    def action_step(self, delta: int) -> None:
        self.player.step_by(delta)
        self._moved()

    def action_jump(self, number: int) -> None:
        if not self.player.jump_step(number):
            self.notify(f"Step {number} has no evidence in this trace", severity="warning")
        self._moved()

    def action_replay(self) -> None:
        self.player.restart()
        self._moved()

    def action_faster(self) -> None:
        self.player.faster()
        self._moved()

    def action_slower(self) -> None:
        self.player.slower()
        self._moved()

    def action_realtime(self) -> None:
        self.player.toggle_realtime()
        self._moved()

    def action_layer(self) -> None:
        self.query_one(Timeline).cycle_layer()

    def action_search(self) -> None:
        self.query_one(Timeline).open_search()

    def action_theme(self) -> None:
        self.theme = next_theme(self.theme)
        self.notify(f"Theme: {THEMES.get(self.theme, self.theme)}", timeout=2)

    def action_open(self) -> None:
        self.push_screen(
            PromptDialog("Open a recording (a .jsonl file)", self.loaded.path), self._open
        )

    def _open(self, path: str | None) -> None:
        if not path:
            return
        try:
            loaded = load(path)
        except RecordingError as e:
            self.query_one(Banner).notice = f"Cannot open: {e}"
            return
        skipped = f" ({len(loaded.problems)} bad lines skipped)" if loaded.problems else ""
        self.show_loaded(loaded, "replay", f"Opened {path}{skipped}")

    def action_export(self) -> None:
        jsonl, svg = export(self, self.loaded.trace, self.loaded.header, self.export_dir)
        pictures = export_pictures(self.loaded.trace, jsonl)
        self.query_one(Banner).notice = f"Exported {jsonl}, {svg} and {len(pictures)} pictures"
        self.notify("\n".join(map(str, [jsonl, svg, *pictures])), title="Exported")

    # -- panes ---------------------------------------------------------------------------------
    @on(Timeline.Chosen)
    def _chosen(self, message: Timeline.Chosen) -> None:
        events = self.loaded.trace.events
        for pane in self.query(DetailPane):  # none while the app shuts down
            if 0 <= message.index < len(events):
                pane.show(events[message.index], self.loaded.trace)

    @on(ChainView.BoxClicked)
    def _box_clicked(self, message: ChainView.BoxClicked) -> None:
        layers = BOX_LAYERS[message.box]
        timeline = self.query_one(Timeline)
        # clicking the box already shown goes back to every event
        shown = timeline.layer_filter
        timeline.show_layer("all" if shown == layers[0] else layers[0])

    @on(Timeline.Seek)
    def _seek(self, message: Timeline.Seek) -> None:
        self.player.seek(message.index)
        self._moved()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from palette(self)
