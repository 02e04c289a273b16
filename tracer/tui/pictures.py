"""The app's pictures: the sequence view, the process tree and the presenter layout (s, T, f)."""

from __future__ import annotations

from typing import Any, Protocol

from tracer.chain.model import Trace
from tracer.chain.process_tree import ProcessTree, process_tree
from tracer.chain.sequence import SequenceDiagram
from tracer.chain.sequence_growing import GrowingSequence
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
    _tree_of: tuple[Trace, ProcessTree] | None
    _diagram_of: tuple[Trace, SequenceDiagram] | None
    _growing: GrowingSequence | None

    @property
    def screen(self) -> Any: ...
    @property
    def loaded(self) -> Any: ...
    @property
    def player(self) -> Any: ...

    def query_one(self, selector: Any) -> Any: ...
    def refresh_scene(self) -> None: ...
    def notify(self, message: str, *, timeout: float = ...) -> None: ...
    def _tree(self, trace: Trace) -> ProcessTree: ...
    def _diagram(self, trace: Trace) -> SequenceDiagram: ...
    def _set_view(self, view: str) -> None: ...


class PictureViews:
    """Keys s (sequence), T (process tree) and f (presenter), and drawing them as played."""

    view: str = "chain"
    present: bool = False
    _tree_of: tuple[Trace, ProcessTree] | None = None
    _diagram_of: tuple[Trace, SequenceDiagram] | None = None
    _growing: GrowingSequence | None = None

    def _tree(self: _Host, trace: Trace) -> ProcessTree:
        """The trace's process tree, made once per trace (a live run's fold is a new one)."""
        made = self._tree_of
        if made is None or made[0] is not trace:
            made = self._tree_of = (trace, process_tree(trace.events))
        return made[1]

    def _diagram(self: _Host, trace: Trace) -> SequenceDiagram:
        """The trace's sequence diagram, made once per trace: a live run's, extended from the
        last batch's (most of its arrows the same objects, which the view does not draw again)."""
        made = self._diagram_of
        if made is None or made[0] is not trace:
            if self._growing is None:
                self._growing = GrowingSequence()
            made = self._diagram_of = (trace, self._growing.update(trace, self._tree(trace)))
        return made[1]

    def refresh_pictures(self: _Host, trace: Trace, scene: Scene) -> None:
        """Draw the picture on screen (only that one: the others cost nothing while hidden)."""
        if self.view == "chain" and not self.present:
            return
        if self.present:
            self.query_one(StoryPane).show(scene.current_step, story(trace, scene.current_step))
        if self.view == "chain":
            return
        if self.view == "sequence":
            diagram = self._diagram(trace)  # the tree view needs none
            self.query_one(SequenceView).show(diagram, scene.time_ns, scene.position, scene.event)
        else:
            pid = (
                scene.event.pid if scene.event is not None and scene.event.source != "proxy" else 0
            )
            self.query_one(ProcessTreeView).show(self._tree(trace), scene.time_ns, pid)

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
