"""`dockertrace diagram`: each format from the bundled recording, and bad input said plainly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracer.cli import main

ASSETS = Path(__file__).resolve().parents[2] / "assets"
BUNDLED = str(ASSETS / "run-echo-hi.jsonl")


def test_mermaid_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram", BUNDLED, "--format", "mermaid"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sequenceDiagram\n    participant cli as docker CLI\n")
    assert "    runc->>kernel: unshare(NEWNS|NEWUTS|NEWIPC|NEWPID|NEWNET)\n" in out


def test_svg_and_tree_to_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svg, tree = tmp_path / "seq.svg", tmp_path / "tree.txt"
    assert main(["diagram", BUNDLED, "--format", "svg", "-o", str(svg)]) == 0
    assert main(["diagram", BUNDLED, "--format", "tree", "-o", str(tree)]) == 0
    text = svg.read_text()
    assert text.startswith("<svg xmlns=") and text.rstrip().endswith("</svg>")
    assert "http" not in text.replace("http://www.w3.org/2000/svg", "")  # nothing fetched
    assert "unshare(NEWNS|NEWUTS|NEWIPC|NEWPID|NEWNET)" in text
    assert "runc:[2:INIT]" in tree.read_text()
    assert f"tree written to {tree}" in capsys.readouterr().err


def test_unknown_format_lists_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["diagram", BUNDLED, "--format", "png"])
    assert exit.value.code == 2
    assert "(choose from 'mermaid', 'svg', 'tree')" in capsys.readouterr().err


def test_a_corrupt_file_names_its_bad_lines_and_draws_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = Path(BUNDLED).read_text().splitlines(keepends=True)
    lines.insert(4, "{not json\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(lines))
    assert main(["diagram", str(bad), "--format", "mermaid"]) == 1
    captured = capsys.readouterr()
    assert f"{bad}:5: not JSON" in captured.err
    assert "runc->>kernel: unshare(" in captured.out


def test_no_run_and_not_a_recording(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    header = Path(BUNDLED).read_text().splitlines()[0]
    empty = tmp_path / "empty.jsonl"
    empty.write_text(header + "\n")
    assert main(["diagram", str(empty), "--format", "tree"]) == 0
    captured = capsys.readouterr()
    assert "No docker run in this recording" in captured.err
    assert "No process events" in captured.out
    other = tmp_path / "other.jsonl"
    other.write_text("hello\n")
    assert main(["diagram", str(other)]) == 2
    assert f"dockertrace diagram: {other}:1: the header line is not JSON" in capsys.readouterr().err
