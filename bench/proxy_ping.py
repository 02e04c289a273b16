"""Keep-alive GET /_ping latency: direct vs socat vs dockertrace recording (ratios to direct)."""

from __future__ import annotations

import argparse
import os
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
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--requests", type=int, default=1000)
    args = ap.parse_args()
    results: dict[str, list[float]] = {"direct": [], "socat": [], "dockertrace": []}
    cpu = {"socat": 0.0, "recorder": 0.0, "relay": 0.0}
    with workdir() as d, socat_relay(d) as socat, recording_proxy(d) as proxy:
        paths = [("direct", DEFAULT_SOCKET), ("socat", socat.path), ("dockertrace", proxy.path)]
        for r in range(args.rounds):  # interleaved, order rotated: drift hits every path alike
            for name, path in paths[r % 3 :] + paths[: r % 3]:
                before = (socat.cpu(), *proxy.cpu())
                results[name].append(per_request_us(path, args.requests))
                time.sleep(0.3)  # let the recorder finish this round's copies
                after = (socat.cpu(), *proxy.cpu())
                for key, a, b in zip(cpu, after, before, strict=True):
                    cpu[key] += a - b
        events, rss = proxy.events(), proxy.peak_rss_mb()
    med = {k: statistics.median(v) for k, v in results.items()}
    # Each round's own ratio, then their median: robust to a machine whose speed drifts.
    ratio = {
        k: statistics.median(a / b for a, b in zip(v, results["direct"], strict=True))
        for k, v in results.items()
    }
    rows = [
        ("direct", f"{med['direct']:.0f} µs", "1.00", ""),
        ("socat -t 30", f"{med['socat']:.0f} µs", f"{ratio['socat']:.2f}", ""),
        (
            "dockertrace (recording)",
            f"{med['dockertrace']:.0f} µs",
            f"{ratio['dockertrace']:.2f}",
            "≤ 1.10",
        ),
    ]
    print(
        f"keep-alive GET /_ping, {args.rounds} rounds × {args.requests} requests; "
        "ratio = median of per-round ratios"
    )
    print(table(rows))
    vs_socat = statistics.median(
        a / b for a, b in zip(results["dockertrace"], results["socat"], strict=True)
    )
    print(f"dockertrace / socat: {vs_socat:.2f}")
    n = args.rounds * args.requests
    print(
        f"CPU per request: socat {cpu['socat'] / n * 1e6:.0f} µs; dockertrace forwarding "
        f"{cpu['relay'] / n * 1e6:.0f} µs + recording {cpu['recorder'] / n * 1e6:.0f} µs"
    )
    print(f"events recorded: {events}; proxy peak RSS {rss:.0f} MB (target ≤ 60)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
