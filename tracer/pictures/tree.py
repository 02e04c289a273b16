"""The process tree as text: one line per process, drawn with box-drawing branches."""

from __future__ import annotations

from tracer.chain.process_tree import Proc, ProcessTree
from tracer.text.pictures import proc_line


def tree_lines(tree: ProcessTree) -> list[str]:
    """Every process under its parent (or the shim that adopted it), roots first seen first."""
    lines: list[str] = []
    for root in tree.roots:
        held = f"  (parent {root.holder}, not traced)" if root.holder else ""
        lines.append(proc_line(root, tree) + held)
        _below(tree, root, "", lines, {root.pid})
    return lines


def _below(tree: ProcessTree, p: Proc, indent: str, lines: list[str], seen: set[int]) -> None:
    kids = [c for c in tree.children(p.pid) if c.pid not in seen]
    for i, child in enumerate(kids):
        last = i == len(kids) - 1
        lines.append(f"{indent}{'└── ' if last else '├── '}{proc_line(child, tree)}")
        seen.add(child.pid)
        _below(tree, child, indent + ("    " if last else "│   "), lines, seen)


def tree_text(tree: ProcessTree, missing: list[str] | None = None) -> str:
    lines = tree_lines(tree) or ["No process events in this recording (no kernel probe ran)."]
    notes = [f"note: {m}" for m in missing or []]
    return "\n".join(lines + (["", *notes] if notes else [])) + "\n"
