"""The sequence diagram as Mermaid `sequenceDiagram` text, to paste into Markdown."""

from __future__ import annotations

from tracer.chain.sequence import Arrow, SequenceDiagram
from tracer.text.pictures import LANE_TITLES, missing_lines, step_heading

# Mermaid reads these inside a message as syntax (`;` ends a statement, `#` starts an entity
# code, `<`/`>` may be HTML): written as its entity codes, they show as themselves.
ESCAPES = {"#": "#35;", ";": "#59;", "<": "#lt;", ">": "#gt;", "\n": " ", "\r": " "}
DASHED = ("response", "frame", "error", "exit", "event")  # answers and returns


def escape(text: str) -> str:
    return "".join(ESCAPES.get(c, c) for c in text).strip() or " "


def _arrow(a: Arrow) -> str:
    if a.note:
        return f"    Note over {a.src}: {escape(a.label)}"
    line = "-->>" if a.kind in DASHED else "->>"
    return f"    {a.src}{line}{a.dst}: {escape(a.label)}"


def mermaid(diagram: SequenceDiagram) -> str:
    """The diagram's lanes as participants, a note at each new step, one line per arrow."""
    lines = ["sequenceDiagram"]
    lines += [f"    participant {lane} as {escape(LANE_TITLES[lane])}" for lane in diagram.lanes]
    span = f"{diagram.lanes[0]},{diagram.lanes[-1]}"
    for note in missing_lines(diagram):
        lines.append(f"    Note over {span}: {escape(note)}")
    shown = 0
    for a in diagram.arrows:
        if a.phase is not None and a.phase > shown:
            shown = a.phase
            lines.append(f"    Note over {span}: {escape(step_heading(a.phase))}")
        lines.append(_arrow(a))
    return "\n".join(lines) + "\n"
