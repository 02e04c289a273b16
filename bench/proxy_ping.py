"""Keep-alive GET /_ping latency: direct vs socat vs dockertrace recording (ratios to direct)."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from proxy_common import recording_proxy, socat_relay, table, workdir

from tracer.endpoint import DEFAULT_SOCKET


def per_request_us(path: str, n: int) -> float:
    with httpx.Client(transport=httpx.HTTPTransport(uds=path), base_url="http://docker") as c:
        for _ in range(50):  # warm: connection set up, caches hot
            c.get("/_ping")
        start = time.perf_counter()
        for _ in range(n):
            c.get("/_ping")
        return (time.perf_counter() - start) / n * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--requests", type=int, default=1000)
    args = ap.parse_args()
    results: dict[str, list[float]] = {"direct": [], "socat": [], "dockertrace": []}
    with workdir() as d, socat_relay(d) as socat_path, recording_proxy(d) as proxy:
        paths = {"direct": DEFAULT_SOCKET, "socat": socat_path, "dockertrace": proxy.path}
        for _ in range(args.rounds):  # interleaved, so drift hits every path alike
            for name, path in paths.items():
                results[name].append(per_request_us(path, args.requests))
        time.sleep(0.5)
        events, rss = proxy.events(), proxy.peak_rss_mb()
    med = {k: statistics.median(v) for k, v in results.items()}
    rows = [
        ("direct", f"{med['direct']:.0f} µs", "1.00", ""),
        ("socat -t 30", f"{med['socat']:.0f} µs", f"{med['socat'] / med['direct']:.2f}", ""),
        (
            "dockertrace (recording)",
            f"{med['dockertrace']:.0f} µs",
            f"{med['dockertrace'] / med['direct']:.2f}",
            "≤ 1.10",
        ),
    ]
    print(f"keep-alive GET /_ping, median of {args.rounds} rounds × {args.requests} requests")
    print(table(rows))
    print(f"dockertrace / socat: {med['dockertrace'] / med['socat']:.2f}")
    print(f"events recorded: {events}; proxy peak RSS {rss:.0f} MB (target ≤ 60)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
