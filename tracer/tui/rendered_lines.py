"""A scrolling pane of Rich renderables drawn once into lines; new content never re-lays out.

A `Static` in a scrolling container asks for a layout of the whole screen whenever its content
changes (its height may have changed), and a layout repaints every widget on the screen: during
a live run, when the step story and the event detail change many times a second, that made most
frames tens of milliseconds. Here the pane's size is fixed by the layout and its content is a
list of lines behind it: new content is rendered once, its lines replace the old ones and the
pane repaints itself; only a scrollbar that comes or goes needs a layout.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import RenderableType
from rich.style import Style as RichStyle
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import Visual, visualize

# A block is a Rich renderable, or a function that draws it straight into lines (for a block
# whose shape is fixed, cheaper than Rich's measuring): (width, base style) -> lines.
Block = RenderableType | Callable[[int, RichStyle], list[Strip]]


def scrollbar_shown(view: ScrollView, overflows: bool) -> bool:
    """Whether `view` shows its vertical scrollbar when its lines do (or do not) overflow: as
    its overflow-y says (a live run's panes are told to hide it; auto: only then)."""
    overflow = view.styles.overflow_y
    return overflow == "scroll" or (overflow == "auto" and overflows)


def changed_span(old: list[Strip], new: list[Strip]) -> tuple[int, int] | None:
    """(first line, count) of the lines that differ between two drawings, or None: what a
    repaint must cover (Textual's work per line repainted is most of a small change's cost)."""
    changed = [
        i
        for i in range(max(len(old), len(new)))
        if i >= len(old) or i >= len(new) or (old[i] is not new[i] and old[i] != new[i])
    ]
    return (changed[0], changed[-1] - changed[0] + 1) if changed else None


class RenderedLines(ScrollView):
    """Blocks of renderables, one under the other, drawn as lines in a pane of fixed size."""

    DEFAULT_CSS = """
    RenderedLines { overflow-x: hidden; }
    """

    def __init__(self, blocks: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._blocks: list[Block] = [""] * blocks
        self._strips: list[list[Strip]] | None = None  # each block's lines, at _width
        self._lines: list[Strip] = []  # the blocks' lines, one after the other
        self._width = -1
        self._base: RichStyle | None = None  # the lines' base style

    def set_block(self, index: int, renderable: Block) -> None:
        """Show `renderable` as block `index`, repainting the pane."""
        self._blocks[index] = renderable
        if self._strips is None or self._width <= 0:
            self.refresh()  # drawn whole at the next frame
            return
        old = self._lines
        self._strips[index] = self._render_block(renderable, self._width)
        self._lines = new = [line for strips in self._strips for line in strips]
        self._resize()
        # only the lines that changed are drawn again: the pane's border and padding make
        # each line cost Textual ~0.1 ms, and a new step changes 7 lines of 30
        span = changed_span(old, new)
        if span is not None:
            self.refresh_lines(*span)

    def block(self, index: int) -> Block:
        return self._blocks[index]

    def renderable(self, index: int) -> RenderableType:
        """Block `index`, which was given as a Rich renderable."""
        block = self._blocks[index]
        if callable(block):
            raise TypeError(f"block {index} is drawn by a function, not a renderable")
        return block

    @property
    def lines(self) -> list[Strip]:
        """Every line of every block, at the pane's width."""
        if self._strips is None:  # the width is not asked at every line: it is not cheap
            width = self._width = self.scrollable_content_region.width
            self._strips = [self._render_block(b, width) for b in self._blocks]
            self._lines = [line for strips in self._strips for line in strips]
        return self._lines

    def _render_block(self, renderable: Block, width: int) -> list[Strip]:
        if width <= 0:
            return []
        if callable(renderable):
            return renderable(width, self.visual_style.rich_style)
        # the lines a Static of this width would draw (same visual, same base style)
        visual = visualize(self, renderable)
        return Visual.to_strips(self, visual, width, None, self.visual_style)

    def _resize(self) -> None:
        size = Size(self.scrollable_content_region.width, len(self.lines))
        shown = scrollbar_shown(self, size.height > self.container_size.height)
        if size.width == self.virtual_size.width and shown == self.show_vertical_scrollbar:
            # no scrollbar comes or goes: the layout of the screen stays as it is
            self.set_reactive(RenderedLines.virtual_size, size)
            if shown:
                self.vertical_scrollbar.window_virtual_size = size.height
            scroll_max = max(0, size.height - self.container_size.height)
            if self.scroll_y > scroll_max:
                self.scroll_to(y=scroll_max, animate=False, immediate=True, force=True)
        else:
            self.virtual_size = size

    def on_resize(self) -> None:
        self._redraw_at_width()
        self._resize()

    def watch_show_vertical_scrollbar(self) -> None:
        # the scrollbar takes a column of the lines' width (and the widget's size is the same,
        # so nothing else tells it to draw its lines again)
        self._redraw_at_width()
        self.refresh()

    def _redraw_at_width(self) -> None:
        if self.scrollable_content_region.width != self._width:
            self._strips = None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips = None  # a theme change: the base style of every line changed
        self._base = None
        self.refresh()

    def render_line(self, y: int) -> Strip:
        lines = self.lines
        width = self._width
        if len(lines) != self.virtual_size.height:  # drawn at a new width: more or fewer lines
            self.call_later(self._resize)
        if self._base is None:  # asking for it walks up the DOM: once per look, not per line
            self._base = self.visual_style.rich_style
        row = int(self.scroll_y) + y
        if row >= len(lines):
            return Strip.blank(width, self._base)
        return lines[row].crop_extend(0, width, self._base)
