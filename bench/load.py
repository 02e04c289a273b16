"""Load and long streams through `dockertrace proxy`: 50 clients × 200 requests compared with
direct answers, throughput against direct, and 10-minute `/events` + `logs -f` streams with the
proxy's memory sampled every second.

    sudo .venv/bin/python bench/load.py [--stream-seconds 600] [--clients 50] [--requests 200]

Baselines in the same run: the same cheap requests (no comparison) straight at the daemon;
the proxy's RSS after a 30 s warm-up for the growth figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from load_driver import hammer, leftover_containers, proxy_process, stream_rss

from tracer.endpoint import DEFAULT_SOCKET
from tracer.sources.session import demo_image

WARMUP_S = 30


def blast(path: str, clients: int, per_client: int) -> tuple[float, int, float]:
    """clients × per_client keep-alive GET /_ping, no comparison: (seconds, errors, the
    slowest request in seconds)."""
    errors: list[str] = []
    slowest = [0.0]

    def one() -> None:
        transport = httpx.HTTPTransport(uds=path)
        with httpx.Client(transport=transport, base_url="http://d", timeout=60) as c:
            for _ in range(per_client):
                t = time.perf_counter()
                try:
                    c.get("/_ping").raise_for_status()
                except httpx.HTTPError as e:
                    errors.append(f"{type(e).__name__}: {e}")
                    return
                slowest[0] = max(slowest[0], time.perf_counter() - t)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=one) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, len(errors), slowest[0]


def main() -> int:
    quick = bool(os.environ.get("DOCKERTRACE_BENCH_QUICK"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stream-seconds", type=float, default=90 if quick else 600)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/load.py needs root", file=sys.stderr)
        return 2
    image = demo_image() + ":latest"
    tag = f"bench-load-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="dockertrace-bench-") as d:
        directory = Path(d)
        os.chmod(directory, 0o700)
        with proxy_process(directory, DEFAULT_SOCKET) as (sock, proc):
            result = hammer(sock, DEFAULT_SOCKET, image, tag, args.clients, args.requests)
            direct_s, proxy_s = [], []
            for _ in range(3):  # interleaved, so drift hits both alike
                direct_s.append(blast(DEFAULT_SOCKET, args.clients, args.requests))
                proxy_s.append(blast(sock, args.clients, args.requests))
            p_errors, p_slowest = sum(b[1] for b in proxy_s), max(b[2] for b in proxy_s)
            d_errors, d_slowest = sum(b[1] for b in direct_s), max(b[2] for b in direct_s)
        streams_dir = directory / "streams"
        streams_dir.mkdir()
        with proxy_process(streams_dir, DEFAULT_SOCKET) as (sock, proc):  # a fresh proxy
            streams = stream_rss(sock, DEFAULT_SOCKET, proc.pid, image, tag, args.stream_seconds)
    left = leftover_containers(tag) + leftover_containers(f"{tag}-static")
    growth = streams.growth_mb(min(WARMUP_S, args.stream_seconds / 3))
    d_med = statistics.median(b[0] for b in direct_s)
    p_med = statistics.median(b[0] for b in proxy_s)
    n = args.clients * args.requests
    print(f"{args.clients} clients × {args.requests} requests through the proxy, compared: "
          f"{result.requests} requests in {result.seconds:.1f} s, {len(result.errors)} errors, "
          f"{len(result.mismatches)} mismatches")  # fmt: skip
    for line in (result.errors + result.mismatches)[:10]:
        print(f"  {line}")
    print(f"throughput, {n} GET /_ping: direct {n / d_med:.0f}/s, proxy {n / p_med:.0f}/s "
          f"(time ratio {p_med / d_med:.2f}); errors direct {d_errors}, proxy {p_errors}; "
          f"slowest request direct {d_slowest:.2f} s, proxy {p_slowest:.2f} s")  # fmt: skip
    first, last = streams.samples[0][1] / 1024, streams.samples[-1][1] / 1024
    print(f"{args.stream_seconds:.0f} s of /events ({streams.event_lines} B) and logs -f "
          f"({streams.log_bytes} B): proxy RSS {first:.1f} → {last:.1f} MB, growth after "
          f"warm-up {growth:.2f} MB; leftover containers: {len(left)}")  # fmt: skip
    print(f"RESULT load_errors {len(result.errors)} - 0")
    print(f"RESULT load_mismatches {len(result.mismatches)} - 0")
    print(f"RESULT load_time_s {p_med:.2f} {d_med:.2f} informative (GETs, proxy vs direct)")
    print(f"RESULT blast_errors {p_errors} {d_errors} 0")
    print(f"RESULT blast_slowest_request_s {p_slowest:.2f} {d_slowest:.2f} informative")
    print(f"RESULT stream_rss_growth_mb {growth:.2f} - <=5 MB over {args.stream_seconds:.0f} s")
    print(f"RESULT load_leftover_containers {len(left)} - 0")
    failed = result.errors or result.mismatches or p_errors or growth > 5 or left
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
