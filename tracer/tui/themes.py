"""The app's themes: Textual's dark and light, and a high-contrast one for projectors."""

from __future__ import annotations

from textual.theme import Theme

HIGH_CONTRAST = Theme(
    name="dockertrace-high-contrast",
    primary="#ffffff",
    secondary="#ffff00",
    accent="#ffff00",
    warning="#ffb000",
    error="#ff4040",
    success="#00ff00",
    foreground="#ffffff",
    background="#000000",
    surface="#000000",
    panel="#1a1a1a",
    boost="#262626",
    dark=True,
    luminosity_spread=0.0,
    text_alpha=1.0,
)
# The cycle the theme key walks through, and what each is called on screen.
THEMES: dict[str, str] = {
    "textual-dark": "dark",
    "textual-light": "light",
    HIGH_CONTRAST.name: "high contrast",
}


def next_theme(current: str) -> str:
    names = list(THEMES)
    return names[(names.index(current) + 1) % len(names)] if current in names else names[0]
