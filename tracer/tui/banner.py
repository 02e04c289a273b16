"""The header: live or replay, what is shown, the probe backend, the engine's versions, the pace."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


def versions_text(versions: dict[str, Any]) -> str:
    names = {"docker": "Docker", "dockerd": "Docker", "containerd": "containerd", "runc": "runc"}
    parts = [f"{names.get(k, k)} {v}" for k, v in versions.items() if v]
    return " · ".join(parts) or "engine versions unknown"


class Banner(Widget):
    """The top line (mode, source, backend, versions, pace) and an optional notice under it."""

    DEFAULT_CSS = """
    Banner {
        height: auto;
        background: $panel;
        color: $foreground;
    }
    Banner .banner--mode-live { background: $error; color: $text; text-style: bold; }
    Banner .banner--mode-replay { background: $primary; color: $text; text-style: bold; }
    Banner .banner--dim { color: $text-muted; }
    Banner .banner--notice { background: $warning 30%; color: $text; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "banner--mode-live",
        "banner--mode-replay",
        "banner--dim",
        "banner--notice",
    }

    mode: reactive[str] = reactive("replay")
    source: reactive[str] = reactive("")
    backend: reactive[str] = reactive("")
    versions: reactive[dict[str, Any]] = reactive(dict)
    pace: reactive[str] = reactive("")
    notice: reactive[str] = reactive("", layout=True)

    def render(self) -> Text:
        mode = self.get_component_rich_style(f"banner--mode-{self.mode}", partial=True)
        dim = self.get_component_rich_style("banner--dim", partial=True)
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f" {self.mode.upper()} ", mode)
        if self.pace:
            line.append(f" {self.pace} ", "bold")
        if self.source:
            line.append(f" {self.source} ")
        line.append(" probes: ", dim)
        line.append((self.backend or "none") + "  ")
        line.append(versions_text(self.versions), dim)
        line.truncate(max(self.size.width, 1), overflow="ellipsis")
        if not self.notice:
            return line
        notice = Text(" " + self.notice, style=self.get_component_rich_style("banner--notice"))
        notice.align("left", max(self.size.width, 1))
        return Text("\n").join([line, notice])
