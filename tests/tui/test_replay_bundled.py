"""Pilot tests on the bundled recording of a real run: step by step, which box is lit and which
steps are observed, and the whole replay at the default pace on a frozen-then-moved clock."""

from __future__ import annotations

from collections.abc import Callable

from tests.tui.conftest import FakeClock
from tracer.tui.app import DockertraceApp
from tracer.tui.scene import Scene, scene_at
from tracer.tui.source import Loaded
from tracer.tui.widgets.chain_view import ChainView

AppMaker = Callable[..., DockertraceApp]

# The box each step happens in: lit at some event while that step is shown.
HOME_BOX = {2: "socket", 3: "dockerd", 4: "containerd", 5: "runc", 6: "kernel", 7: "cli"}


def scene(app: DockertraceApp) -> Scene:
    s = app.query_one(ChainView).scene
    assert s is not None
    return s


async def test_each_step_lights_its_box_and_the_steps_so_far_are_observed(
    make_app: AppMaker, bundled: Loaded
) -> None:
    assert [s.status for s in bundled.trace.steps] == ["observed"] * 7
    app = make_app(bundled)
    async with app.run_test(size=(120, 40)) as pilot:
        for n in range(1, 8):
            await pilot.press(str(n))
            s = scene(app)
            assert s.current_step == n
            shown = {st.number: st.shown for st in s.steps}
            assert all(shown[k] == "observed" for k in range(1, n + 1)), (n, shown)
            # later steps are not observed yet, except 7: the attach stream opens early
            assert all(shown[k] == "pending" for k in range(n + 1, 7)), (n, shown)
            text = app.query_one(ChainView).render().plain
            if n >= 5:
                assert f"pid {s.box('runc').pid}" in text
            lit: set[str] = set()
            position = app.player.position
            while app.player.step_of(position) == n:
                lit.update(scene_at(app.loaded.trace, position).active_boxes)
                position += 1
            if n in HOME_BOX:
                assert HOME_BOX[n] in lit, (n, lit)


async def test_the_whole_replay_plays_at_human_pace(
    make_app: AppMaker, bundled: Loaded, clock: FakeClock
) -> None:
    app = make_app(bundled, autoplay=True)
    async with app.run_test(size=(80, 24)) as pilot:
        seen_steps: list[int] = []
        for _ in range(200):
            clock.now += 0.25
            await pilot.pause(0.05)
            current = scene(app).current_step
            if current is not None and (not seen_steps or seen_steps[-1] != current):
                seen_steps.append(current)
            if app.player.finished:
                break
        assert app.player.finished
        assert [st.shown for st in scene(app).steps] == ["observed"] * 7
        assert sorted(set(seen_steps)) == [1, 2, 3, 4, 5, 6, 7]
        # at 0.1x with a one-second floor per step shown, a 0.3 s run takes a room-sized while
        assert clock.now - 1000.0 >= len(seen_steps) * 1.0
