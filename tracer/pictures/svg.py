"""The sequence diagram as one standalone SVG: generic fonts, no scripts, nothing fetched."""

from __future__ import annotations

from xml.sax.saxutils import escape

from tracer.chain.sequence import Arrow, SequenceDiagram
from tracer.text.pictures import LANE_TITLES, missing_lines, step_heading

LANE_W = 150  # px between lifelines
ROW_H = 22
TOP = 56  # the lane titles' band
MARGIN = 24
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"
COLOURS = {
    "request": "#1f5fbf",
    "response": "#1f5fbf",
    "frame": "#2e8540",
    "exit": "#8a6d00",
    "namespace": "#b3261e",
    "clone": "#b3261e",
    "pivot": "#b3261e",
    "mount": "#7a3eb1",
}
DASHED = ("response", "frame", "error", "exit", "event")
STYLE = f"""
text {{ font-family: {FONT}; font-size: 12px; fill: #1b1b1b; }}
.label {{ font-family: {MONO}; font-size: 11px; paint-order: stroke; stroke: #ffffff;
  stroke-width: 3px; }}
.in-note {{ stroke: none; }}
.lane {{ font-weight: bold; font-size: 13px; }}
.step {{ font-weight: bold; fill: #3b3b3b; }}
.note {{ fill: #fff6d5; stroke: #c9b458; }}
.missing {{ fill: #b3261e; }}
.life {{ stroke: #9a9a9a; stroke-dasharray: 4 4; }}
"""


def _x(diagram: SequenceDiagram, lane: str) -> int:
    return MARGIN + LANE_W // 2 + diagram.lanes.index(lane) * LANE_W


def _arrow_svg(diagram: SequenceDiagram, a: Arrow, y: int, number: int) -> list[str]:
    x1, x2 = _x(diagram, a.src), _x(diagram, a.dst)
    colour = COLOURS.get(a.kind, "#444444")
    label = escape(f"{number}. {a.label}")
    if a.note:
        w = max(90, 7 * len(a.label) + 16)
        return [
            f'<rect class="note" x="{x1 - w // 2}" y="{y - 14}" width="{w}" height="18" rx="3"/>',
            f'<text class="label in-note" x="{x1}" y="{y - 1}" text-anchor="middle">{label}</text>',
        ]
    dash = ' stroke-dasharray="6 3"' if a.kind in DASHED else ""
    stroke = f'stroke="{colour}" stroke-width="1.5" fill="none"{dash}'
    if x1 == x2:  # a message to itself: a loop to the right of its lifeline
        path = f"M{x1} {y - 6} h28 v10 h-24"
        return [
            f'<path d="{path}" {stroke} marker-end="url(#head)"/>',
            f'<text class="label" x="{x1 + 34}" y="{y + 2}">{label}</text>',
        ]
    mid = (x1 + x2) // 2
    return [
        f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" {stroke} marker-end="url(#head)"/>',
        f'<text class="label" x="{mid}" y="{y - 4}" text-anchor="middle">{label}</text>',
    ]


def svg(diagram: SequenceDiagram, title: str = "docker run, as traced") -> str:
    """Lanes across, time down: the step headings, every arrow numbered, what is missing."""
    width = 2 * MARGIN + LANE_W * len(diagram.lanes) + 80  # room for the outer labels
    body: list[str] = []
    y = TOP + 10
    for note in missing_lines(diagram):
        y += ROW_H
        body.append(f'<text class="missing" x="{MARGIN}" y="{y}">{escape(note)}</text>')
    shown = 0
    for n, a in enumerate(diagram.arrows, 1):
        if a.phase is not None and a.phase > shown:
            shown = a.phase
            y += ROW_H + 6
            body.append(
                f'<text class="step" x="{MARGIN}" y="{y}">{escape(step_heading(shown))}</text>'
            )
        y += ROW_H
        body += _arrow_svg(diagram, a, y, n)
    height = y + 2 * ROW_H
    heads = []
    for lane in diagram.lanes:
        x = _x(diagram, lane)
        heads.append(f'<line class="life" x1="{x}" y1="{TOP}" x2="{x}" y2="{height - 8}"/>')
        heads.append(
            f'<rect x="{x - 70}" y="{TOP - 30}" width="140" height="24" rx="4" '
            'fill="#e8eef8" stroke="#5b7db1"/>'
        )
        heads.append(
            f'<text class="lane" x="{x}" y="{TOP - 13}" text-anchor="middle">'
            f"{escape(LANE_TITLES[lane])}</text>"
        )
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
    )
    defs = (
        '<defs><marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" '
        'fill="#444444"/></marker></defs>'
    )
    parts = [
        head,
        f"<title>{escape(title)}</title>",
        f"<style>{STYLE}</style>",
        defs,
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{MARGIN}" y="18" font-weight="bold">{escape(title)}</text>',
        *heads,
        *body,
        "</svg>",
    ]
    return "\n".join(parts) + "\n"
