"""The pictures in the app: the sequence view, the process tree and the presenter layout, played."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.tui.conftest import settle as settle_app
from tracer.cli.tui import build
from tracer.tui.app import DockertraceApp
from tracer.tui.rendered_lines import RenderedLines
from tracer.tui.scene import scene_at
from tracer.tui.source import Loaded
from tracer.tui.start import decide
from tracer.tui.widgets.chain_view import ChainView
from tracer.tui.widgets.detail_pane import DetailPane
from tracer.tui.widgets.process_tree import ProcessTreeView
from tracer.tui.widgets.sequence_view import SequenceRows, SequenceView
from tracer.tui.widgets.story import StoryPane

AppMaker = Callable[..., DockertraceApp]


def drawn(pane: RenderedLines) -> str:
    return "\n".join(line.text.rstrip() for line in pane.lines)


async def test_the_sequence_is_drawn_as_played(make_app: AppMaker, bundled: Loaded) -> None:
    app = make_app(bundled)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await pilot.pause()
        view = app.query_one(SequenceView)
        assert view.display and not app.query_one("#chain").display
        rows = app.query_one(SequenceRows)
        assert drawn(rows) == ""  # before the first event: nothing crossed yet
        await pilot.press("5")
        await pilot.pause()
        text = drawn(rows)
        assert "step 5 · runc creates the namespaces" in text
        assert "exec runc init" in text and "unshare(" not in text  # not played yet
        current = view.diagram.arrows[view.current]  # type: ignore[union-attr]
        assert app.loaded.trace.events[app.player.position] in current.events
        events = app.loaded.trace.events
        while events[app.player.position].kind != "sys.unshare":  # event by event, as n does
            await pilot.press("n")
        await pilot.pause()
        last = drawn(rows).splitlines()[-1]  # the newest arrow is the last line drawn
        assert "unshare(NEWNS|NEWUTS|NEWIPC|NEWPID|NEWNET) ├" in last and last.endswith("▶")
        assert view.diagram.arrows[view.current].kind == "namespace"  # type: ignore[union-attr]
        await pilot.press("7")
        while events[app.player.position].kind != "stream.frame":
            await pilot.press("n")
        await pilot.pause()
        assert "step 7 · The output travels back" in drawn(rows)
        assert 'stdout "hi\\n"' in drawn(rows).splitlines()[-1]
        await pilot.press("s")  # back to the chain, which shows where the playhead is now
        await pilot.pause()
        assert app.query_one("#chain").display and not view.display
        chain = app.query_one(ChainView)
        assert chain.scene is not None and chain.scene.position == app.player.position
        assert chain.scene == scene_at(app.loaded.trace, app.player.position, app._steps)


async def test_a_picked_arrow_shows_its_events(make_app: AppMaker, bundled: Loaded) -> None:
    app = make_app(bundled)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s", "5")
        await pilot.pause()
        view = app.query_one(SequenceView)
        assert view.current is not None
        view.focus()
        await pilot.press("up")
        await pilot.pause()
        picked = view.diagram.arrows[view.selected]  # type: ignore[union-attr,index]
        assert view.selected == view.current - 1
        detail = app.query_one(DetailPane)
        assert detail.event is picked.events[0]
        text = "\n".join(line.text for line in detail.lines)
        assert f"{picked.label} ({picked.count} event" in text


async def test_the_tree_moves_the_container_under_the_shim(
    make_app: AppMaker, bundled: Loaded
) -> None:
    app = make_app(bundled)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("T", "5")
        await pilot.pause()
        tree = app.query_one(ProcessTreeView)
        assert tree.display
        text = drawn(tree)
        create = next(  # runc create, at work: its pid as the recording has it
            ev
            for ev in app.loaded.trace.events
            if ev.kind == "proc.exec" and ev.layer == "runc" and "create" in ev.detail["argv"]
        )
        assert f"containerd-shim → runc  {create.pid} · running" in text
        assert "echo" not in text  # not exec'd yet
        await pilot.press("7")
        await pilot.pause()
        lines = drawn(tree).splitlines()
        echo = next(line for line in lines if "echo" in line)
        shim = next(i for i, line in enumerate(lines) if line.startswith("containerd-shim  "))
        assert lines.index(echo) > shim and echo[:3] in ("├─ ", "└─ ")  # a child of the shim
        assert "(pid 1 inside)" in echo


async def test_presenter_layout_hides_the_panes_and_tells_the_step(
    make_app: AppMaker, bundled: Loaded
) -> None:
    app = make_app(bundled)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f", "5")
        await pilot.pause()
        assert not app.query_one("#panes").display and app.query_one(SequenceView).display
        story = app.query_one(StoryPane)
        assert story.display and story._shown is not None
        number, text = story._shown
        assert number == 5 and text.startswith("Step 5: runc creates the namespaces")
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert story._shown[0] == 6
        await pilot.press("f")
        await pilot.pause()
        assert app.query_one("#panes").display


def test_tui_present_opens_in_the_presenter_layout() -> None:
    from tracer.cli import build_parser

    args = build_parser(["tui", "--present"]).parse_args(["tui", "--present"])
    assert args.present
    app = build(decide(None, "not here"), present=True)
    assert app._present_at_start


def settle(keys: tuple[str, ...]) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run(pilot: Pilot[None]) -> None:
        await pilot.press(*keys)
        await settle_app(pilot)
        await pilot.pause(0.2)

    return run


@pytest.mark.parametrize(
    ("size", "keys", "theme"),
    [
        ((80, 24), ("s", "5", "n", "n"), "textual-dark"),
        ((120, 40), ("s", "5", "n", "n"), "textual-dark"),
        ((120, 40), ("s", "7"), "textual-light"),
        ((80, 24), ("s", "6"), "dockertrace-high-contrast"),
        ((80, 24), ("T", "7"), "textual-dark"),
        ((120, 40), ("T", "7"), "textual-dark"),
        ((120, 40), ("T", "6"), "dockertrace-high-contrast"),
        ((80, 24), ("T", "5", "n", "n"), "textual-light"),
        ((80, 24), ("f", "5", "n", "n"), "textual-dark"),
        ((120, 40), ("f", "7"), "textual-light"),
    ],
    ids=[
        "sequence-80x24",
        "sequence-120x40",
        "sequence-light",
        "sequence-high-contrast",
        "tree-80x24",
        "tree-120x40",
        "tree-high-contrast",
        "tree-light",
        "present-80x24",
        "present-light",
    ],
)
def test_pictures(
    snap_compare: Any,
    make_app: AppMaker,
    bundled: Loaded,
    size: tuple[int, int],
    keys: tuple[str, ...],
    theme: str,
) -> None:
    app = make_app(bundled, theme=theme)
    assert snap_compare(app, terminal_size=size, run_before=settle(keys))
