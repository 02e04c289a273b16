"""The app headless against the real daemon: g runs docker run live, then the run replays and
ends with all seven steps observed."""

from __future__ import annotations

import subprocess
import time

from tracer.tui.app import DockertraceApp
from tracer.tui.source import Loaded, empty_trace
from tracer.tui.widgets.banner import Banner
from tracer.tui.widgets.chain_view import ChainView


async def test_live_run_from_the_app_ends_with_all_seven_steps_observed(
    demo_image: str,
) -> None:
    app = DockertraceApp(Loaded(empty_trace()), mode="live", live_reason=None, animate=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            await pilot.pause(0.2)
            notice = app.query_one(Banner).notice
            if notice.startswith(("docker exited", "Live run failed")):
                break
        assert notice.startswith("docker exited 0; printed: hi"), notice
        assert app.query_one(Banner).mode == "live"
        await pilot.press("t")  # the rest of the replay in real time
        deadline = time.monotonic() + 30
        while not app.player.finished and time.monotonic() < deadline:
            await pilot.pause(0.2)
        scene = app.query_one(ChainView).scene
        assert scene is not None and scene.finished
        assert [s.shown for s in scene.steps] == ["observed"] * 7
        assert scene.box("runc").pid and scene.box("shim").pid
        assert app.loaded.trace.container is not None
        assert app.loaded.trace.container.output == "hi\n"


async def test_a_typed_docker_run_runs_live_and_its_output_is_shown(demo_image: str) -> None:
    from textual.widgets import Input

    app = DockertraceApp(Loaded(empty_trace()), mode="live", live_reason=None, animate=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("x")
        await pilot.pause()
        app.screen.query_one(Input).value = f"docker run --rm {demo_image} echo typed here"
        await pilot.press("enter")
        deadline = time.monotonic() + 90
        notice = ""
        while time.monotonic() < deadline:
            await pilot.pause(0.2)
            notice = app.query_one(Banner).notice
            if notice.startswith(("docker exited", "Live run failed")):
                break
        assert notice.startswith("docker exited 0; printed: typed here"), notice
        trace = app.loaded.trace
        assert trace.container is not None and trace.container.command == ("echo", "typed", "here")


async def test_quitting_in_the_middle_of_a_live_run_leaves_nothing_behind(
    demo_image: str,
) -> None:
    import os

    import psutil

    from tracer.chain.runs import endpoint_of
    from tracer.sources import live_child

    def containers() -> set[str]:
        out = subprocess.run(["docker", "ps", "-aq"], capture_output=True, text=True, check=True)
        return set(out.stdout.split())

    before = containers()
    app = DockertraceApp(Loaded(empty_trace()), mode="live", live_reason=None, animate=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("g")
        child = app._live_child
        assert child is not None and child._proc is not None
        pid = child._proc.pid
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the session is up: proxy, probes, the CLI next
            await pilot.pause(0.05)
            if app.query_one(Banner).notice.startswith("Tracing"):
                break
        assert app.query_one(Banner).notice.startswith("Tracing")
        # the session's reading threads run ahead of the run they watch; the main thread,
        # which starts the docker CLI, does not
        nice = {t.id: os.getpriority(os.PRIO_PROCESS, t.id) for t in psutil.Process(pid).threads()}
        assert nice.pop(pid) == os.getpriority(os.PRIO_PROCESS, 0)
        assert set(nice.values()) == {live_child.READER_NICE}
        while time.monotonic() < deadline:  # the container is being made: quit now
            await pilot.pause(0.02)
            if any(endpoint_of(ev) == "/containers/create" for ev in app._live_events):
                break
        await pilot.press("q")
    # quitting waited for the child, which closed its session as on SIGTERM
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not os.path.exists(f"/run/dockertrace/session-{pid}.sock")
    assert containers() <= before  # its container, which the daemon made, is removed
