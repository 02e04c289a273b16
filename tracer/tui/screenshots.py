"""`python -m tracer.tui.screenshots DIR`: the README's SVG screenshots, from the bundled run."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tracer.tui.app import DockertraceApp
from tracer.tui.source import bundled_recording, load
from tracer.tui.widgets.detail_pane import DetailPane

NO_LIVE = (
    "No live tracing here (`dockertrace doctor` tells more): privileges: uid 1000 without "
    "CAP_BPF/CAP_PERFMON. Replaying the bundled one."
)
# file name, size, theme, where the playhead goes (a hop label to find, or a step), notice,
# and the keys pressed first (the pictures: s sequence, T process tree, f presenter)
SHOTS: tuple[tuple[str, tuple[int, int], str, str, str, str], ...] = (
    ("main-120x40-unshare.svg", (120, 40), "textual-dark", "unshare(", "", ""),
    (
        "main-80x24-create.svg",
        (80, 24),
        "textual-dark",
        "POST /v1.41/containers/create",
        NO_LIVE,
        "",
    ),
    ("main-120x40-output-light.svg", (120, 40), "textual-light", 'stdout "hi', "", ""),
    (
        "main-120x40-runc-high-contrast.svg",
        (120, 40),
        "dockertrace-high-contrast",
        "runc create",
        "",
        "",
    ),
    ("sequence-120x40-unshare.svg", (120, 40), "textual-dark", "unshare(", "", "s"),
    ("sequence-80x24-output-light.svg", (80, 24), "textual-light", 'stdout "hi', "", "s"),
    ("tree-120x40-exec.svg", (120, 40), "textual-dark", "exec echo", "", "T"),
    ("present-80x24-unshare.svg", (80, 24), "dockertrace-high-contrast", "unshare(", "", "f"),
)


async def shoot(
    out: Path, name: str, size: tuple[int, int], theme: str, at: str, notice: str, keys: str
) -> None:
    path = bundled_recording()
    if path is None:
        raise SystemExit("no bundled recording in assets/")
    loaded = load(path)
    hop = next(h for h in loaded.trace.hops if at in h.label)
    app = DockertraceApp(
        loaded, get_time=lambda: 0.0, animate=False, autoplay=False, theme=theme, notice=notice
    )
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press(*keys)
        app.player.seek(loaded.trace.events.index(hop.event))
        app.refresh_scene()
        for _ in range(100):  # until the detail pane has drawn the event (it waits a moment)
            await pilot.pause(0.05)
            if app.query_one(DetailPane).event is app.loaded.trace.events[app.player.position]:
                break
        await pilot.pause(0.3)
        app.save_screenshot(filename=name, path=str(out))


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "assets/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    for shot in SHOTS:
        asyncio.run(shoot(out, *shot))
        print(out / shot[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
