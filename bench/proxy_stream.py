"""Attach-stream throughput: SIZE of container stdout through `docker run`, direct vs socat vs
dockertrace (recording on). The container writes zeros; the bench reads the CLI's stdout.

Two rates per path: the whole `docker run` (container start and removal included), and the
stream alone, from the first byte of output to the last (the relay's own part, without the
start-up's spread, which varies from run to run by more than the relays differ)."""

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

from proxy_common import ProxyProcess, SocatProcess, demo_image, label, load, relays, table

from tracer.endpoint import DEFAULT_SOCKET


def timed_stream(image: str, host: str, mib: int) -> tuple[float, float]:
    """Seconds for the whole run, and from the first byte of output to the last."""
    env = dict(os.environ, DOCKER_HOST=host)
    script = f"dd if=/dev/zero bs=1048576 count={mib} 2>/dev/null"
    start = time.perf_counter()
    proc = subprocess.Popen(
        # No log file and no network: the daemon's own costs stay out of the way.
        [
            "docker",
            "run",
            "--rm",
            "--log-driver",
            "none",
            "--network",
            "none",
            image,
            "sh",
            "-c",
            script,
        ],
        env=env,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    fd, got, first = proc.stdout.fileno(), 0, 0.0
    while chunk := os.read(fd, 1 << 20):
        first = first or time.perf_counter()
        got += len(chunk)
    last = time.perf_counter()
    if proc.wait() != 0 or got != mib << 20:
        raise SystemExit(f"docker run through {host}: status {proc.returncode}, {got} bytes")
    return time.perf_counter() - start, last - first


def measure(
    image: str, mib: int, rounds: int, socat: SocatProcess, proxies: dict[str, ProxyProcess]
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """MiB/s of each path per round, and CPU seconds: socat's, each proxy's (recorder, relay)."""
    hosts = [("direct", DEFAULT_SOCKET), ("socat", socat.path)]
    hosts += [(name, p.path) for name, p in proxies.items()]
    rate: dict[str, list[float]] = {name: [] for name, _ in hosts}
    stream: dict[str, list[float]] = {name: [] for name, _ in hosts}
    cpu = {name: [0.0, 0.0] for name in ["socat", *proxies]}
    for r in range(rounds):  # order rotated: drift hits every path alike
        k = r % len(hosts)
        for name, path in hosts[k:] + hosts[:k]:
            before = proxies[name].cpu() if name in proxies else (socat.cpu(), 0.0)
            whole, streamed = timed_stream(image, f"unix://{path}", mib)
            rate[name].append(mib / whole)
            stream[name].append(mib / streamed)
            time.sleep(0.5)  # the recorder's last copies
            after = proxies[name].cpu() if name in proxies else (socat.cpu(), 0.0)
            if name != "direct":
                for i in range(2):
                    cpu[name][i] += after[i] - before[i]
    return rate, stream, cpu


def report(
    args: argparse.Namespace,
    rate: dict[str, list[float]],
    stream: dict[str, list[float]],
    cpu: dict[str, list[float]],
) -> None:
    gib = args.mib * args.rounds / 1024  # per path

    def ratio(a: str, b: str, rate: dict[str, list[float]] = rate) -> float:
        """The median of the per-round ratios."""
        return statistics.median(x / y for x, y in zip(rate[a], rate[b], strict=True))

    rows: list[tuple[str, ...]] = []
    for name in rate:
        if name == "direct":
            split = ""
        elif name == "socat":
            split = f"{cpu['socat'][0] / gib:.2f}"
        else:
            split = f"{cpu[name][1] / gib:.2f} + {cpu[name][0] / gib:.2f}"
        to_socat = "" if name == "direct" else f"{ratio(name, 'socat'):.2f}"
        median = f"{statistics.median(rate[name]):.0f} MiB/s"
        streamed = f"{statistics.median(stream[name]):.0f} MiB/s"
        stream_socat = "" if name == "direct" else f"{ratio(name, 'socat', stream):.2f}"
        to_direct = f"{ratio(name, 'direct'):.2f}"
        row = (label(name, args.also), median, to_direct, to_socat, streamed, stream_socat)
        rows.append((*row, split))
    print(f"{args.mib} MiB of container stdout via docker run, {args.rounds} rounds, interleaved")
    head = ("path", "whole run", "÷ direct", "÷ socat", "stream alone", "÷ socat")
    print(table(rows, (*head, "CPU s/GiB (relay + recorder)")))
    print("target: dockertrace ÷ socat ≥ 1.00; peak RSS ≤ 60 MB")
    dt, so = (statistics.median(rate[k]) for k in ("dockertrace", "socat"))
    print(f"RESULT stream_mibs_vs_socat {dt:.1f} {so:.1f} ratio>=1.00")
    dt, so = (statistics.median(stream[k]) for k in ("dockertrace", "socat"))
    print(f"RESULT stream_alone_mibs_vs_socat {dt:.1f} {so:.1f} ratio>=1.00")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mib", type=int, default=1024, help="MiB of stdout per run (default 1 GiB)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--also", type=Path, help="another checkout whose proxy is measured too (e.g. main's)"
    )
    args = ap.parse_args()
    image = demo_image()
    print(f"start: {load()}")
    with relays(args.also) as (socat, proxies):
        rate, stream, cpu = measure(image, args.mib, args.rounds, socat, proxies)
        rss = {n: p.peak_rss_mb() for n, p in proxies.items()}
        summary = [
            f"{n}: peak RSS {rss[n]:.0f} MB; events recorded {p.events()}"
            for n, p in proxies.items()
        ]
        end_load = load()
    report(args, rate, stream, cpu)
    print("\n".join(summary))
    print(f"RESULT stream_peak_rss_mb {rss['dockertrace']:.1f} - <=60")
    print(f"end: {end_load}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
