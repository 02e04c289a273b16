"""The presenter's caption: the step's number in large digits and its story in one paragraph."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Digits, Static


class StoryPane(Horizontal):
    """Step N, big enough for the back of a room, beside what the evidence says it did."""

    DEFAULT_CSS = """
    StoryPane { height: auto; min-height: 3; padding: 0 1; background: $panel; }
    StoryPane Digits { width: auto; min-width: 4; color: $accent; margin-right: 2; }
    StoryPane Static { width: 1fr; text-style: bold; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[int | None, str] | None = None

    def compose(self) -> ComposeResult:
        yield Digits("", id="story-step")
        yield Static("", id="story-text")

    def show(self, number: int | None, text: str) -> None:
        if (number, text) == self._shown or not self.is_mounted:
            return
        self._shown = (number, text)
        self.query_one(Digits).update(str(number) if number is not None else "·")
        self.query_one("#story-text", Static).update(text)
