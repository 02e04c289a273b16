"""`docker run --rm IMAGE true` end to end: direct vs through dockertrace (recording on)."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from proxy_common import demo_image, recording_proxy, table, workdir

from tracer.endpoint import DEFAULT_SOCKET


def timed_run(image: str, host: str, network: str = "default") -> float:
    env = dict(os.environ, DOCKER_HOST=host)
    start = time.perf_counter()
    subprocess.run(
        ["docker", "run", "--rm", "--network", network, image, "true"],
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=15, help="pairs of runs (direct, proxy)")
    ap.add_argument("--network", default="default", help='e.g. "none" if the bridge is broken')
    args = ap.parse_args()
    image = demo_image()
    direct: list[float] = []
    proxied: list[float] = []
    with workdir() as d, recording_proxy(d) as proxy:
        timed_run(image, f"unix://{proxy.path}", args.network)  # warm
        for i in range(args.runs):  # alternate the order, so drift hits both alike
            order = [("d", f"unix://{DEFAULT_SOCKET}"), ("p", f"unix://{proxy.path}")]
            for tag, host in order if i % 2 == 0 else order[::-1]:
                (direct if tag == "d" else proxied).append(timed_run(image, host, args.network))
        rss = proxy.peak_rss_mb()
    md, mp = statistics.median(direct), statistics.median(proxied)
    ratios = [p / q for p, q in zip(proxied, direct, strict=True)]
    spread = statistics.stdev(ratios) if len(ratios) > 1 else 0.0
    print(f"docker run --rm {image} true, median of {args.runs} runs each")
    print(
        table(
            [
                ("direct", f"{md * 1000:.0f} ms", "1.00", ""),
                (
                    "dockertrace (recording)",
                    f"{mp * 1000:.0f} ms",
                    f"{mp / md:.2f} ± {spread:.2f}",
                    "≤ 1.03",
                ),
            ]
        )
    )
    print(f"proxy peak RSS {rss:.0f} MB (target ≤ 60)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
