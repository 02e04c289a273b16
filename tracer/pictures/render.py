"""A trace's pictures by format name: what `dockertrace diagram` prints and the app exports."""

from __future__ import annotations

from collections.abc import Callable

from tracer.chain.model import Trace
from tracer.chain.process_tree import process_tree
from tracer.chain.sequence import SequenceDiagram, sequence
from tracer.pictures.mermaid import mermaid
from tracer.pictures.svg import svg
from tracer.pictures.tree import tree_text
from tracer.text.pictures import missing_lines


def _tree(trace: Trace, diagram: SequenceDiagram) -> str:
    return tree_text(process_tree(trace.events), missing_lines(diagram))


RENDERERS: dict[str, Callable[[Trace, SequenceDiagram], str]] = {
    "mermaid": lambda trace, diagram: mermaid(diagram),
    "svg": lambda trace, diagram: svg(diagram),
    "tree": _tree,
}
FORMATS = tuple(RENDERERS)
# the file each is exported to, beside the recording: NAME + suffix
SUFFIXES = {"mermaid": "-sequence.mmd", "svg": "-sequence.svg", "tree": "-tree.txt"}


def render(trace: Trace, fmt: str, diagram: SequenceDiagram | None = None) -> str:
    """The picture in `fmt` (one of FORMATS; KeyError otherwise)."""
    return RENDERERS[fmt](trace, diagram if diagram is not None else sequence(trace))
