"""The run's processes as a tree, drawn as they appear: pid, namespace pid, alive or exited."""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from tracer.chain.process_tree import Proc, ProcessTree
from tracer.text.pictures import proc_now
from tracer.tui.rendered_lines import RenderedLines


def tree_rows(tree: ProcessTree, time_ns: int) -> list[tuple[str, Proc]]:
    """(branches, process) for every process seen by time_ns, under who holds it then: the
    container's process moves under the shim once runc, its parent, has exited."""
    out: list[tuple[str, Proc]] = []

    def shown(p: Proc) -> bool:
        return p.first_ns is None or p.first_ns <= time_ns

    def holder(p: Proc) -> int | None:
        parent = tree.procs.get(p.parent) if p.parent is not None else None
        gone = parent is not None and parent.end_ns is not None and parent.end_ns <= time_ns
        return p.reaper if p.reaper is not None and gone else p.parent

    kids: dict[int | None, list[Proc]] = {}
    for p in tree.procs.values():
        if shown(p):
            up = holder(p)
            kids.setdefault(up if up in tree.procs and up != p.pid else None, []).append(p)

    def walk(p: Proc, indent: str, last: bool, root: bool) -> None:
        out.append((("" if root else indent + ("└─ " if last else "├─ ")), p))
        below = kids.get(p.pid, [])
        deeper = "" if root else indent + ("   " if last else "│  ")
        for i, c in enumerate(below):
            walk(c, deeper, i == len(below) - 1, False)

    for r in kids.get(None, []):
        walk(r, "", True, True)
    return out


class ProcessTreeView(RenderedLines):
    """Who started whom, up to the playhead; the process of the current event lit."""

    DEFAULT_CSS = """
    ProcessTreeView {
        height: 1fr;
        border: round $primary 50%;
        border-title-color: $text;
        scrollbar-size-vertical: 1;
    }
    ProcessTreeView .process-tree--branch { color: $text-disabled; }
    ProcessTreeView .process-tree--exited { color: $text-muted; }
    ProcessTreeView .process-tree--current { background: $accent 40%; text-style: bold; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "process-tree--branch",
        "process-tree--exited",
        "process-tree--current",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(1, id=id)
        self.procs_tree: ProcessTree | None = None
        self.time_ns = 0
        self.pid = 0  # the current event's process
        self._rows: list[tuple[str, Proc]] = []  # tree_rows of procs_tree at time_ns
        self._drawn: object = None
        self.border_title = "Processes"

    def show(self, tree: ProcessTree, time_ns: int, pid: int) -> None:
        self.procs_tree, self.time_ns, self.pid = tree, time_ns, pid
        rows = self._rows = tree_rows(tree, time_ns)
        ended = tuple(p.pid for _, p in rows if p.end_ns is not None and p.end_ns <= time_ns)
        key = (id(tree), tuple((b, p.pid) for b, p in rows), ended, pid)
        if key == self._drawn:
            return
        self._drawn = key
        self.set_block(0, self._tree_lines)
        at = next((n for n, (_, p) in enumerate(rows) if p.pid == pid), None)
        if at is not None:  # the current event's process stays in sight
            self.call_after_refresh(self._keep_in_sight, at)

    def _keep_in_sight(self, at: int) -> None:
        height = self.scrollable_content_region.height or 1
        if not self.scroll_y <= at < self.scroll_y + height:
            self.scroll_to(y=max(0, at - height // 2), animate=False, immediate=True, force=True)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._drawn = None

    def _tree_lines(self, width: int, base: Style) -> list[Strip]:
        if self.procs_tree is None:
            return []
        branch = base + self.get_component_rich_style("process-tree--branch")
        exited = base + self.get_component_rich_style("process-tree--exited")
        current = self.get_component_rich_style("process-tree--current")
        out = []
        for branches, p in self._rows:  # those show() found (a live batch's: once a batch)
            gone = p.end_ns is not None and p.end_ns <= self.time_ns
            style = exited if gone else base
            if p.pid == self.pid:
                style = style + current
            segments = [Segment(branches, branch), Segment(proc_now(p, self.time_ns), style)]
            out.append(Strip(segments).crop_extend(0, width, base))
        if not out:
            out.append(Strip([Segment("No process seen yet (a kernel probe shows them).", exited)]))
        return out
