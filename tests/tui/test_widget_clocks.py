"""The widgets that pace themselves read an injected clock: a test moves it, nothing sleeps."""

from __future__ import annotations

from dataclasses import replace

from textual.app import App, ComposeResult

from tests.tui.builders import make_trace
from tests.tui.conftest import FakeClock
from tracer.tui.scene import scene_at
from tracer.tui.widgets.step_list import STORY_EVERY_S, StepList


class OneList(App[None]):
    def __init__(self, steps: StepList) -> None:
        super().__init__()
        self.steps = steps

    def compose(self) -> ComposeResult:
        yield self.steps


async def test_a_growing_trace_redraws_the_story_at_most_every_story_every_s() -> None:
    clock = FakeClock()
    trace = make_trace()
    steps = StepList(trace, get_time=clock)
    async with OneList(steps).run_test(size=(60, 30)) as pilot:
        steps.show(trace, scene_at(trace, 3))
        await pilot.pause()
        drawn = steps._story_drawn
        grown = replace(trace, events=trace.events)  # a new fold of the same run, as live
        steps.show(grown, scene_at(grown, len(grown.events) - 1))
        assert steps._story_later and steps._story_drawn is drawn  # too soon: drawn later
        clock.now += STORY_EVERY_S
        again = replace(grown)
        steps.show(again, scene_at(again, len(again.events) - 1))
        assert not steps._story_later and steps._story_drawn != drawn  # drawn at once
