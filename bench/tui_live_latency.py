"""Live: how long after the kernel (or the proxy) saw an event the app shows it, p50 and p99.

Run as root: .venv/bin/python bench/tui_live_latency.py [--runs N] [--view chain|sequence|tree]
(target: p99 ≤ 25 ms; --view: the picture on screen while the run is drawn, the chain by default)
Baseline in the same run: the same `docker run` in a bare LiveSession, measured at its sink
(the latency of the probes and the proxy themselves, before any screen). The app runs its
session in a child process (tracer.sources.live_child) and reads its events from a pipe, so the
app's figure includes that hop; the event's kernel time stamp is CLOCK_MONOTONIC in both.
The events timed are the run's (those the trace the screen draws takes in); an event that came
before the run claimed it (the chain attributes some only once later evidence arrives) is
timed from the kernel to the first frame that shows it, wait included; the line "in the run on
arrival" leaves those out, to tell the screen's own delay from the attribution's. An event the
view on screen has no mark for (a thread's clone, a mount in the tree view) changes no widget:
it is on screen once its batch is drawn and nothing is left to draw; the line "at the next frame
rendered" times it, as this bench did before, at whatever frame comes next (in the pictures,
often only the next batch that changes something, or the replay).
An HTTP message is an event once the proxy has all of it: it is timed from its last byte (the
response to `/wait` begins as the container starts and ends when it exits, ~0.3 s later; its
event carries its first byte's time, where the chain puts it). The line "from the first byte"
times such messages from their event's time, as this bench did before.
The app's CPU per batch (the UI thread's, from the batch's message to its draw) is printed too:
less noisy than the p99, it tells a change in the app's own work from the machine's noise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from typing import Any

# isort: off
# first: it puts the repo on sys.path and loads tracer.tui before textual, as `dockertrace` does
# (tracer.tui sets Textual's frame rate, read when textual is first imported)
from tui_common import ROOT  # noqa: F401

# isort: on
from rich.console import RenderableType
from textual.screen import Screen

from tracer.events import Event, monotonic_ns
from tracer.sources.session import LiveSession, demo_image
from tracer.tui.app import DockertraceApp
from tracer.tui.live import Inbox, LiveEvents
from tracer.tui.source import Loaded, empty_trace
from tracer.tui.widgets.banner import Banner


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def whole_ns(ev: Event) -> int:
    """When the event was whole: its time, or an HTTP message's last byte when that came later
    (the proxy emits a message once it has all of it)."""
    last = ev.detail.get("last_byte_ns") if ev.source == "proxy" else None
    return max(ev.time_ns, last) if isinstance(last, int) else ev.time_ns


def baseline(image: str) -> list[float]:
    lat: list[float] = []

    def sink(ev: Event) -> None:
        lat.append((monotonic_ns() - whole_ns(ev)) / 1e6)

    with LiveSession(sink=sink) as session:
        session.run_docker(["run", "--rm", image, "echo", "hi"])
    return lat


class Measured(DockertraceApp):
    """The app, noting when each live event is first part of a frame the screen is sent.

    An event is on screen once the widgets show it (after `_show_live_so_far`, which folds the
    events received so far into the trace the chain, the steps and the timeline draw) *and* the
    compositor has rendered the next frame from them (`App._display` is handed that frame; run
    headless it writes it nowhere, but all the rendering work is done by then); or, when the
    batch changed nothing the view draws, once the batch is drawn with nothing left to draw.

    Only the events of the run are ever drawn: the fold leaves out what other processes on a
    busy machine did (the probes see those too). Such an event is timed once a fold takes it
    in (it can, later, once its process turns out to be the run's); one never taken in is
    counted as not of the run, not timed at a frame that does not show it."""

    latencies: list[float]
    from_first: list[float]  # as latencies, an HTTP message timed from its first byte
    batch_cpu: list[float]  # ms of the UI thread's CPU per live batch
    at_frame: list[float]  # each at the next rendered frame, even when its batch drew nothing
    prompt: list[float]  # of the events the first fold after their arrival took in
    late: set[int]  # ids of the others: the run claimed them only later
    inboxes: set[Inbox]  # the run's, which counts every event posted, even after its end
    _waiting: list[Event]  # received, not (yet) in the trace the widgets draw
    _unpainted: list[Event]  # in the trace the widgets draw, not yet on screen
    _unframed: list[Event]  # in the trace the widgets draw, not yet in a rendered frame
    _drawn: list[Event]  # drawn live (some in a frame not rendered yet)
    _counted = 0

    def on_live_events(self, message: LiveEvents) -> None:
        self.inboxes.add(message.inbox)
        cpu = time.thread_time_ns()
        super().on_live_events(message)
        self.batch_cpu.append((time.thread_time_ns() - cpu) / 1e6)

    def _show_live_so_far(self) -> None:
        super()._show_live_so_far()
        self._waiting += self._live_events[self._counted :]
        self._counted = len(self._live_events)
        drawn = {id(ev) for ev in self.loaded.trace.events}
        still = []
        for ev in self._waiting:
            if id(ev) in drawn:
                self._unpainted.append(ev)
                self._unframed.append(ev)
                self._drawn.append(ev)
            else:
                self.late.add(id(ev))  # the first fold after it came did not take it in
                still.append(ev)
        self._waiting = still

    def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
        super()._display(screen, renderable)
        if renderable is not None:
            self._on_screen()
            now = monotonic_ns()
            self.at_frame += [(now - whole_ns(ev)) / 1e6 for ev in self._unframed]
            self._unframed.clear()

    def _draw_now(self) -> bool:
        drawn = super()._draw_now()
        if drawn:  # what the batch changed is in a frame, or it changed nothing on screen
            self._on_screen()
        return drawn

    def _on_screen(self) -> None:
        now = monotonic_ns()
        self.latencies += [(now - whole_ns(ev)) / 1e6 for ev in self._unpainted]
        self.from_first += [(now - ev.time_ns) / 1e6 for ev in self._unpainted]
        self.prompt += [
            (now - whole_ns(ev)) / 1e6 for ev in self._unpainted if id(ev) not in self.late
        ]
        self._unpainted.clear()

    @property
    def received(self) -> int:
        return sum(inbox.received for inbox in self.inboxes)

    @property
    def of_the_run(self) -> int:
        """The events of the run: those in the trace of the whole run replayed at its end."""
        return len(self.loaded.trace.events)

    @property
    def never_shown(self) -> int:
        """Events of the run that were not drawn live (only in the replay after it). (A few
        drawn live can leave the run at its end, once later evidence says they were not of
        it: they are timed, and not counted here.)"""
        drawn = {(ev.time_ns, ev.kind, ev.pid) for ev in self._drawn}
        return sum((ev.time_ns, ev.kind, ev.pid) not in drawn for ev in self.loaded.trace.events)


VIEW_KEYS = {"chain": "", "sequence": "s", "tree": "T"}


async def through_app(view: str = "chain") -> Measured:
    app = Measured(Loaded(empty_trace()), mode="live", live_reason=None, animate=False)
    app.latencies, app.inboxes, app._waiting, app._unpainted = [], set(), [], []
    app.at_frame, app._unframed = [], []
    app._drawn = []
    app.prompt, app.late = [], set()
    app.from_first, app.batch_cpu = [], []
    async with app.run_test(size=(120, 40)) as pilot:
        if VIEW_KEYS[view]:
            await pilot.press(VIEW_KEYS[view])
        await pilot.press("g")
        for _ in range(600):
            await pilot.pause(0.1)
            if app.query_one(Banner).notice.startswith(("docker exited", "Live run failed")):
                break
    return app


def main() -> int:
    if os.geteuid() != 0:
        print("needs root (live probes)", file=sys.stderr)
        return 2
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--view", choices=tuple(VIEW_KEYS), default="chain")
    args = ap.parse_args()
    image = demo_image()
    base: list[float] = []
    shown: list[float] = []
    prompt: list[float] = []
    framed: list[float] = []
    first: list[float] = []
    cpu: list[float] = []
    never = others = late = 0
    for _ in range(args.runs):
        base += baseline(image)
        app = asyncio.run(through_app(args.view))
        shown += app.latencies
        prompt += app.prompt
        framed += app.at_frame
        first += app.from_first
        cpu += app.batch_cpu
        late += len(app.latencies) - len(app.prompt)
        never += app.never_shown
        others += app.received - app.of_the_run
    print(f"{args.runs} runs of docker run --rm {image} echo hi, {args.view} view; latency in ms")
    print(f"{'':<36}{'events':>8}{'p50':>9}{'p99':>9}")
    for name, values in (
        ("baseline: at the session's sink", base),
        ("app: on screen (the run's events)", shown),
        ("  those in the run on arrival", prompt),
        ("  at the next frame rendered", framed),
        ("  HTTP messages from the first byte", first),
    ):
        print(f"{name:<36}{len(values):>8}{pct(values, 0.5):>9.1f}{pct(values, 0.99):>9.1f}")
    print(f"p99 ratio app/baseline: {pct(shown, 0.99) / pct(base, 0.99):.2f}  target p99 ≤ 25 ms")
    print(f"mean app latency: {statistics.mean(shown):.1f} ms")
    print(
        f"app CPU per batch, {len(cpu)} batches: p50 {pct(cpu, 0.5):.2f}, p90 {pct(cpu, 0.9):.2f},"
        f" mean {statistics.mean(cpu):.2f} ms"
    )
    print(f"events of the run that reached the app but were never drawn live: {never}")
    print(f"events not of the run (other processes; never drawn, not timed): {others}")
    print(f"events of the run that came before the run claimed them (their wait counts): {late}")
    print(f"RESULT tui_live_p99_ms {pct(shown, 0.99):.1f} {pct(base, 0.99):.1f} <=25 ms")
    prompt_p99 = pct(prompt, 0.99)
    print(f"RESULT tui_live_prompt_p99_ms {prompt_p99:.1f} - informative (in the run on arrival)")
    framed_p99 = pct(framed, 0.99)
    print(f"RESULT tui_live_frame_p99_ms {framed_p99:.1f} - informative (at the next frame)")
    print(f"RESULT tui_live_first_byte_p99_ms {pct(first, 0.99):.1f} - informative")
    print(f"RESULT tui_live_p50_ms {pct(shown, 0.5):.1f} {pct(base, 0.5):.1f} informative")
    print(f"RESULT tui_live_batch_cpu_ms {statistics.mean(cpu):.2f} - informative (mean)")
    print(f"RESULT tui_live_not_drawn {never} - 0 (events only seen in the replay)")
    print(f"RESULT tui_live_not_of_run {others} - informative (never drawn, not timed)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
