"""The app's pictures: the sequence view, the process tree and the presenter layout (s, T, f)."""

from __future__ import annotations

from typing import Any, Protocol

from tracer.chain.model import Trace
from tracer.chain.process_tree import ProcessTree, process_tree
from tracer.chain.sequence import SequenceDiagram, sequence
from tracer.text.pictures import story
from tracer.tui.scene import Scene
from tracer.tui.widgets.detail_pane import DetailPane
from tracer.tui.widgets.process_tree import ProcessTreeView
from tracer.tui.widgets.sequence_view import SequenceView
from tracer.tui.widgets.story import StoryPane

VIEWS = ("chain", "sequence", "tree")


class _Host(Protocol):
    """What the mixin needs from the app it is mixed into."""

    view: str
    present: bool
    _pictures_of: tuple[int, SequenceDiagram, ProcessTree] | None

    @property
    def screen(self) -> Any: ...
    @property
    def loaded(self) -> Any: ...
    @property
    def player(self) -> Any: ...

    def query_one(self, selector: Any) -> Any: ...
    def refresh_scene(self) -> None: ...
    def notify(self, message: str, *, timeout: float = ...) -> None: ...
    def _pictures(self, trace: Trace) -> tuple[SequenceDiagram, ProcessTree]: ...
    def _set_view(self, view: str) -> None: ...


class PictureViews:
    """Keys s (sequence), T (process tree) and f (presenter), and drawing them as played."""

    view: str = "chain"
    present: bool = False
    _pictures_of: tuple[int, SequenceDiagram, ProcessTree] | None = None

    def _pictures(self: _Host, trace: Trace) -> tuple[SequenceDiagram, ProcessTree]:
        """The trace's sequence and tree, made once per trace (a live run's fold is a new one)."""
        made = self._pictures_of
        if made is None or made[0] != id(trace):
            tree = process_tree(trace.events)
            made = self._pictures_of = (id(trace), sequence(trace, tree), tree)
        return made[1], made[2]

    def refresh_pictures(self: _Host, trace: Trace, scene: Scene) -> None:
        """Draw the picture on screen (only that one: the others cost nothing while hidden)."""
        if self.view == "chain" and not self.present:
            return
        if self.present:
            self.query_one(StoryPane).show(scene.current_step, story(trace, scene.current_step))
        if self.view == "chain":
            return
        diagram, tree = self._pictures(trace)
        if self.view == "sequence":
            self.query_one(SequenceView).show(diagram, scene.time_ns, scene.position, scene.event)
        else:
            pid = (
                scene.event.pid if scene.event is not None and scene.event.source != "proxy" else 0
            )
            self.query_one(ProcessTreeView).show(tree, scene.time_ns, pid)

    def _set_view(self: _Host, view: str) -> None:
        self.view = view
        for name in VIEWS[1:]:
            self.screen.set_class(view == name, f"-view-{name}")
        self.refresh_scene()

    def action_sequence(self: _Host) -> None:
        self._set_view("chain" if self.view == "sequence" else "sequence")

    def action_tree(self: _Host) -> None:
        self._set_view("chain" if self.view == "tree" else "tree")

    def action_present(self: _Host) -> None:
        self.present = not self.present
        self.screen.set_class(self.present, "-present")
        if self.present and self.view == "chain":
            self._set_view("sequence")  # as large as the screen allows: the sequence
        else:
            self.refresh_scene()
        self.notify(
            "Presenter layout: ] next step, [ back, s chain/sequence, f leaves"
            if self.present
            else "Presenter layout off",
            timeout=3,
        )

    def on_sequence_view_selected(self: _Host, message: SequenceView.Selected) -> None:
        arrow = message.arrow
        pane = self.query_one(DetailPane)
        pane.show_group(
            f"{arrow.src} → {arrow.dst}: {arrow.label}", arrow.events, self.loaded.trace
        )
