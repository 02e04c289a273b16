"""Run every benchmark in bench/ and print one table: each figure, its baseline measured in the
same run, the ratio, and the target.

    sudo .venv/bin/python bench/run_all.py [--only NAME ...] [--skip NAME ...] [--quick]

The convention a bench script follows to appear here: besides its own table, it prints one line
per figure,

    RESULT <name> <value> <baseline|-> <target...>

(name without spaces; value and baseline numbers, `-` when a figure has no baseline; the
target is free text to the end of the line, e.g. `ratio<=1.10` or `<=5 MB`). For the scripts
that predate it, chain_run's `value baseline ratio target` rows and the proxy scripts'
`path measured ratio target` tables are parsed; any other script's own output is printed
below the table. `--quick` sets DOCKERTRACE_BENCH_QUICK=1, which
the long scripts (fuzz_long, load) honour with shorter runs.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_CHAIN_ROW = re.compile(
    r"^(?P<name>\S.*?)\s{2,}(?P<value>-?[\d.]+)\s+(?P<baseline>-?[\d.]+)\s+[\d.]+\s+(?P<target>.*)$"
)


@dataclass
class Figure:
    script: str
    name: str
    value: float | None
    baseline: float | None
    target: str

    @property
    def ratio(self) -> str:
        if self.value is None or not self.baseline:
            return "-"
        return f"{self.value / self.baseline:.2f}"


def scripts() -> list[Path]:
    """bench/*.py that run as a program (not this runner, not shared modules)."""
    return sorted(
        p
        for p in BENCH.glob("*.py")
        if p.name != "run_all.py" and 'if __name__ == "__main__"' in p.read_text()
    )


def _num(text: str) -> float | None:
    m = NUMBER.search(text)
    return float(m[0]) if m and text.strip() != "-" else None


def parse(script: str, out: str) -> list[Figure]:
    figures = []
    for line in out.splitlines():
        if line.startswith("RESULT "):
            parts = line.split(maxsplit=4)
            if len(parts) >= 4:
                target = parts[4] if len(parts) == 5 else ""
                figures.append(Figure(script, parts[1], _num(parts[2]), _num(parts[3]), target))
    return figures or _parse_tables(script, out)


def _parse_tables(script: str, out: str) -> list[Figure]:
    """The tables of scripts that print no RESULT lines."""
    figures: list[Figure] = []
    lines = out.splitlines()
    for i, line in enumerate(lines):
        m = _CHAIN_ROW.match(line) if script == "chain_run" else None
        if m and not line.startswith("measure"):
            figures.append(Figure(script, m["name"].strip(), float(m["value"]),
                                  float(m["baseline"]), m["target"].strip()))  # fmt: skip
        if re.match(r"^path\s+measured\s+ratio\s+target", line):
            rows = [re.split(r"\s{2,}", r.strip()) for r in lines[i + 1 :] if r.strip()]
            rows = [r for r in rows if len(r) >= 3 and NUMBER.fullmatch(r[2])]
            base = next((_num(r[1]) for r in rows if r[2] == "1.00"), None)
            for r in rows:
                if r[2] != "1.00":
                    target = r[3] if len(r) > 3 else ""
                    figures.append(Figure(script, r[0], _num(r[1]), base, target))
            break
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=[], help="script names (without .py) to run")
    ap.add_argument("--skip", nargs="*", default=[], help="script names to leave out")
    ap.add_argument("--quick", action="store_true", help="shorter runs of the long benchmarks")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per script")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if args.quick:
        env["DOCKERTRACE_BENCH_QUICK"] = "1"
    figures: list[Figure] = []
    failed: list[str] = []
    unparsed: dict[str, str] = {}
    for path in scripts():
        name = path.stem
        if (args.only and name not in args.only) or name in args.skip:
            continue
        print(f"== {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            r = subprocess.run([sys.executable, str(path)], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=args.timeout)  # fmt: skip
            out, code, err = r.stdout, r.returncode, r.stderr
        except subprocess.TimeoutExpired as e:
            raw = e.stdout or b""
            out = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
            code, err = -1, f"timed out after {args.timeout:.0f} s"
        took = time.perf_counter() - t0
        found = parse(name, out)
        print(f"   {name}: exit {code}, {len(found)} figures, {took:.0f} s", file=sys.stderr)
        if code != 0:
            failed.append(f"{name} (exit {code}): {err.strip()[-300:]}")
        if not found:
            figures.append(Figure(name, "(no RESULT lines: its own output below)", None, None, ""))
            unparsed[name] = out
        figures += found
    print(table(figures))
    for name, out in unparsed.items():
        print(f"\n--- {name} (prints no RESULT lines) ---")
        print(out.rstrip())
    for f in failed:
        print(f"FAILED {f}")
    return 1 if failed else 0


def table(figures: list[Figure]) -> str:
    head = ("script", "figure", "value", "baseline", "ratio", "target")
    rows = [(f.script, f.name, _fmt(f.value), _fmt(f.baseline), f.ratio, f.target) for f in figures]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.0f}" if abs(x) >= 100 or x == int(x) else f"{x:.3g}"


if __name__ == "__main__":
    raise SystemExit(main())
