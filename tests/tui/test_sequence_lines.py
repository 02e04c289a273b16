"""The sequence view's lines at a fixed width, compared as text (the way Rich tests renderables)."""

from __future__ import annotations

from rich.style import Style

from tracer.chain.sequence import SequenceDiagram
from tracer.tui.sequence_lines import Look, arrow_label, arrow_strip, lane_xs, rows_of
from tracer.tui.source import Loaded

PLAIN = Look(*([Style()] * 8))


def line(diagram: SequenceDiagram, text: str, width: int) -> str:
    i = next(i for i, a in enumerate(diagram.arrows) if text in a.label)
    xs = lane_xs(width, len(diagram.lanes))
    return arrow_strip(diagram, i, 1 << 62, xs, width, PLAIN).text


def test_lanes_span_the_width_evenly() -> None:
    assert lane_xs(80, 7) == [4, 16, 28, 40, 51, 63, 75]
    assert lane_xs(120, 7)[-1] == 115


def test_an_arrow_runs_between_its_lanes_with_its_label_beside(bundled: Loaded) -> None:
    from tracer.chain.sequence import sequence

    diagram = sequence(bundled.trace)
    create = line(diagram, "POST /containers/create", 80)
    assert create.index("├") == 4 and create.index("▶") == 28  # docker CLI → dockerd
    assert create[30:].startswith("POST /containers/create")
    assert create[16] == "─"  # it crosses the socket's lifeline
    # no room right of the kernel's lane: the label goes left of the arrow
    unshare = line(diagram, "unshare(", 80)
    assert unshare.index("├") == 63 and unshare.rstrip().endswith("▶")
    assert unshare.index("unshare(") < 63
    # at 80 columns a long label is cut, never wraps
    assert len(line(diagram, "exec containerd-shim", 80)) == 80


def test_steps_head_their_arrows_and_a_group_counts_what_was_played(bundled: Loaded) -> None:
    from tracer.chain.sequence import sequence

    diagram = sequence(bundled.trace)
    rows = rows_of(diagram)
    assert [r.step for r in rows if r.step is not None] == [1, 2, 3, 4, 5, 6, 7]
    mounts = max((a for a in diagram.arrows if a.kind == "mount"), key=lambda a: a.count)
    halfway = mounts.events[4].time_ns
    assert arrow_label(diagram, mounts, halfway).startswith("mount ×5 (")
    assert arrow_label(diagram, mounts, 1 << 62) == mounts.label
