"""The app's live runs (keys g and x): a tracing child process, its events drawn as they come,
then a replay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from textual.message import Message

from tracer.events import Event
from tracer.text.narrate import run_outcome
from tracer.text.story import Said
from tracer.tui import live, perf
from tracer.tui.perf import Collector
from tracer.tui.playback import Player
from tracer.tui.scene import event_steps
from tracer.tui.screens.prompt_dialog import PromptDialog
from tracer.tui.source import Loaded, fold_events
from tracer.tui.start import CHECKING, LiveReason, live_notice
from tracer.tui.widgets.banner import Banner


class LiveRun(Protocol):
    """A live run going on (live.LiveChild: the tracing process); the app can only stop it."""

    def stop(self) -> None: ...


# starts a live run of `docker ARGS` (None: the default command) posting its messages to the
# app: live.start_live, or in tests a scripted run
StartLive = Callable[[list[str] | None, Callable[[Message], object]], LiveRun]


class _Host(Protocol):
    """What the mixin needs from the app it is mixed into."""

    live_reason: LiveReason
    start_live: StartLive
    player: Player
    loaded: Loaded
    _steps: list[int | None]
    _live_events: list[Event]
    _live_said: Said
    _live_header: dict[str, Any]
    _live_running: bool
    _live_child: LiveRun | None
    collector: Collector
    share: Any  # tracer.web.share.Share while the app shares its session (tracer.tui.sharing)

    @property
    def screen(self) -> Any: ...

    def query_one(self, selector: type[Banner]) -> Banner: ...
    def show_loaded(self, loaded: Loaded, mode: str, notice: str, paused: bool = False) -> None: ...
    def refresh_scene(self) -> None: ...
    def _wake(self) -> None: ...
    def _start_live(self, args: list[str] | None) -> None: ...
    def _typed(self, text: str | None) -> None: ...
    def stop_live(self) -> None: ...
    def _draw_now(self) -> bool: ...
    def _show_live_so_far(self) -> None: ...
    def _hold_layout(self, held: bool) -> None: ...
    def call_later(self, callback: Any, *args: Any) -> bool: ...
    def set_timer(self, delay: float, callback: Any) -> Any: ...
    def post_message(self, message: Message) -> bool: ...
    def push_screen(self, screen: Any, callback: Any = None) -> Any: ...
    def notify(self, message: str, *, severity: Any = "information") -> None: ...
    def run_worker(self, work: Any, *, thread: bool, exclusive: bool, group: str) -> Any: ...


class LiveRuns:
    """Keys g and x, and the messages a live run sends (events reach the screen only so)."""

    live_reason: LiveReason
    _live_child: LiveRun | None  # the live run's process
    _live_header: dict[str, Any]  # the run's recording header, once its session is up
    _live_said: Said = Said()  # the words of the run's last fold (a new one each run)

    def check_live_soon(self: _Host) -> None:
        """Ask the doctor in a worker thread whether live runs can happen here (its checks take
        a while, and the first frame does not wait for them); the banner says when it knows."""
        reason = self.live_reason
        if not callable(reason):
            return

        def ask() -> None:
            self.post_message(live.LiveChecked(reason()))

        self.run_worker(ask, thread=True, exclusive=False, group="doctor")

    def on_live_checked(self: _Host, message: live.LiveChecked) -> None:
        if callable(self.live_reason):  # a key press may have asked (and answered) already
            self.live_reason = message.why
        banner = self.query_one(Banner)
        if banner.notice == CHECKING and not callable(self.live_reason):
            banner.notice = live_notice(self.live_reason)

    def action_run_default(self: _Host) -> None:
        self._start_live(None)

    def action_run_typed(self: _Host) -> None:
        question = "Trace a docker run (through the proxy)"
        example = f"docker run --rm {live.default_image()} echo hi"
        self.push_screen(PromptDialog(question, example), self._typed)

    def _typed(self: _Host, text: str | None) -> None:
        if not text:
            return
        try:
            self._start_live(live.parse_command(text))
        except ValueError as e:
            self.notify(str(e), severity="error")

    def _start_live(self: _Host, args: list[str] | None) -> None:
        banner = self.query_one(Banner)
        if callable(self.live_reason):  # asked only now: the doctor's checks take a moment
            self.live_reason = self.live_reason()
        if self.live_reason:
            banner.notice = (
                f"Cannot run live here (`dockertrace doctor` tells more): {self.live_reason}."
            )
            return
        if self._live_running:
            self.notify("A live run is going on: its replay comes when it ends.")
            return
        try:
            child = self.start_live(args, self.post_message)
        except OSError as e:
            banner.notice = f"Live run failed: cannot start the tracing process: {e}"
            return
        self.stop_live()  # the last run's process, if it still cleans up
        self._live_child = child
        if self.share is not None:
            self.share.started(["docker", *(args or ["run", "(default)"])])
        self._live_events.clear()
        self._live_said = Said()  # the words of the run's folds, each for the next
        self._live_running = True
        self.collector.live(True)
        self._hold_layout(True)
        # the screen is cleared for the run now, while the session starts (most of a second):
        # done when it has started, that full frame held back its first events ~30 ms
        self._live_header = {}
        self.player.realtime = True
        self.show_loaded(Loaded(fold_events([], "")), "live", "Starting the proxy and the probes…")
        self.run_worker(_warm_up, thread=True, exclusive=True, group="warm-up")

    def stop_live(self: _Host) -> None:
        """End the live run's process, if any (the app quits): it cleans up before it ends."""
        child, self._live_child = self._live_child, None
        if child is not None:
            child.stop()

    def _hold_layout(self: _Host, held: bool) -> None:
        """While a run is live, nothing it adds lays the screen out again: the panes show no
        scrollbar and the notice keeps its height until its end (a layout, and the full frame
        after it, held the run's first events back ~40 ms each, four times a run)."""
        self.screen.set_class(held, "-live")
        self.query_one(Banner).hold(held)

    def on_live_started(self: _Host, message: live.LiveStarted) -> None:
        self._live_header = header = message.header
        banner = self.query_one(Banner)
        banner.backend = str(header.get("backend", ""))
        banner.versions = dict(header.get("versions") or {})
        banner.notice = f"Tracing `{' '.join(message.argv)}` live; probes: {message.choices}"
        if self.share is not None:
            self.share.live(header, banner.notice)

    def on_live_events(self: _Host, message: live.LiveEvents) -> None:
        events = message.inbox.take()
        if not self._live_running or not events:
            # the probes' threads can post an event after the run's end: the replay of the
            # whole run (which has it) is on screen by then and stays there
            return
        if self.share is not None:
            self.share.events(events)
        self._live_events += events
        self._show_live_so_far()
        # drawn now, not at the screen's next update: that came two or three turns of the
        # event loop later, each as long as whatever else was ready then (a frame, a fold)
        self._draw_now()
        self._wake()

    def _show_live_so_far(self: _Host) -> None:
        events = sorted(self._live_events, key=lambda ev: ev.time_ns)
        backend = str(self._live_header.get("backend", ""))
        # the article's claims wait for the run's end (its replay has them): the live screen
        # folds at every batch, and they would add a fifth to a half to each fold
        said = self._live_said
        self.loaded = Loaded(fold_events(events, backend, False, said), self._live_header)
        trace = self.loaded.trace
        self._steps = event_steps(trace)
        self.player.extend([ev.time_ns for ev in trace.events], self._steps)
        self.player.follow_end()
        self.refresh_scene()

    def on_live_finished(self: _Host, message: live.LiveFinished) -> None:
        # every event that came before this message is on screen: each batch is drawn as it
        # is taken, and the child wrote its events before its end
        self._live_running = False
        self.collector.live(False)
        self._hold_layout(False)
        header = message.header
        loaded = Loaded(fold_events(message.events, str(header.get("backend", ""))), header)
        note = run_outcome(message.returncode, message.stdout, message.stderr) + ". Replaying"
        self.player.realtime = False
        self.show_loaded(loaded, "live", note + " in slow motion (r replays, e exports).")
        if self.share is not None:
            self.share.finished(message.returncode, message.stdout, message.stderr)

    def on_live_failed(self: _Host, message: live.LiveFailed) -> None:
        self._live_running = False
        self.collector.live(False)
        self._hold_layout(False)
        self.query_one(Banner).notice = f"Live run failed: {message.why}"
        if self.share is not None:
            self.share.failed(message.why)


def _warm_up() -> None:
    """What the run's first events would wait for otherwise, done while its session starts
    (most of a second): pygments' JSON lexer, and the check of Textual's version."""
    live.warm_up()
    perf.supported()
