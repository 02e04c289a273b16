"""The header: live or replay, what is shown, the probe backend, the engine's versions, the pace."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Static


def versions_text(versions: dict[str, Any]) -> str:
    names = {"docker": "Docker", "dockerd": "Docker", "api": "API"}
    parts = [f"{names.get(k, k)} {v}" for k, v in versions.items() if v]
    return " · ".join(parts) or "engine versions unknown"


class Banner(Vertical):
    """The top line (mode, pace, source, backend, versions) and a notice under it when needed."""

    DEFAULT_CSS = """
    Banner { height: auto; background: $panel; }
    Banner #line { height: 1; }
    Banner #notice {
        height: auto;
        max-height: 2;
        background: $warning 30%;
        color: $text;
        padding: 0 1;
    }
    Banner #notice.-empty { display: none; }
    Banner.-held #notice { height: 2; }
    Banner .banner--mode-live { background: $error; color: $text; text-style: bold; }
    Banner .banner--mode-replay { background: $primary; color: $text; text-style: bold; }
    Banner .banner--dim { color: $text-muted; background: $panel; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "banner--mode-live",
        "banner--mode-replay",
        "banner--dim",
    }

    mode: reactive[str] = reactive("replay")
    source: reactive[str] = reactive("")
    backend: reactive[str] = reactive("")
    versions: reactive[dict[str, Any]] = reactive(dict)
    pace: reactive[str] = reactive("")
    notice: reactive[str] = reactive("")

    def compose(self) -> ComposeResult:
        yield Static(id="line")
        yield Static(id="notice", classes="-empty")

    def _line(self) -> Text:
        mode = self.get_component_rich_style(f"banner--mode-{self.mode}", partial=True)
        dim = self.get_component_rich_style("banner--dim")
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f" {self.mode.upper()} ", mode)
        if self.pace:
            line.append(f" {self.pace} ", "bold")
        if self.source:
            line.append(f" {self.source} ")
        line.append(" probes: ", dim)
        line.append((self.backend or "none") + "  ")
        line.append(versions_text(self.versions), dim)
        return line

    def _redraw_line(self) -> None:
        if self.is_mounted:
            # one line, always: no layout pass needed (the pace changes at every step)
            self.query_one("#line", Static).update(self._line(), layout=False)

    def _redraw_notice(self) -> None:
        if self.is_mounted:
            notice = self.query_one("#notice", Static)
            # held at its height, a new notice needs no layout of the screen
            notice.update(self.notice, layout=not self.has_class("-held"))
            notice.set_class(not self.notice, "-empty")

    def hold(self, held: bool) -> None:
        """Keep the notice two lines high (a live run: its notices then lay nothing out)."""
        self.set_class(held, "-held")

    def on_mount(self) -> None:
        self._redraw_line()
        self._redraw_notice()

    # each change redraws only its own line: the pace changes at every step
    def watch_mode(self) -> None:
        self._redraw_line()

    def watch_source(self) -> None:
        self._redraw_line()

    def watch_backend(self) -> None:
        self._redraw_line()

    def watch_versions(self) -> None:
        self._redraw_line()

    def watch_pace(self) -> None:
        self._redraw_line()

    def watch_notice(self) -> None:
        self._redraw_notice()
