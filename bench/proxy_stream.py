"""Attach-stream throughput: SIZE of container stdout through `docker run`, direct vs socat vs
dockertrace (recording on). The container writes zeros; the CLI's stdout goes to /dev/null."""

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

from proxy_common import demo_image, recording_proxy, socat_relay, table, workdir

from tracer.endpoint import DEFAULT_SOCKET


def timed_stream(image: str, host: str, mib: int) -> float:
    env = dict(os.environ, DOCKER_HOST=host)
    script = f"dd if=/dev/zero bs=1048576 count={mib} 2>/dev/null"
    start = time.perf_counter()
    subprocess.run(
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
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mib", type=int, default=1024, help="MiB of stdout per run (default 1 GiB)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    image = demo_image()
    times: dict[str, list[float]] = {"direct": [], "socat": [], "dockertrace": []}
    with workdir() as d, socat_relay(d) as socat, recording_proxy(d) as proxy:
        hosts = {"direct": DEFAULT_SOCKET, "socat": socat.path, "dockertrace": proxy.path}
        for _ in range(args.rounds):
            for name, path in hosts.items():
                times[name].append(timed_stream(image, f"unix://{path}", args.mib))
        rss = proxy.peak_rss_mb()
        time.sleep(0.5)
        events = proxy.events()
    rate = {k: args.mib / statistics.median(v) for k, v in times.items()}
    print(f"{args.mib} MiB of container stdout via docker run, median of {args.rounds} rounds")
    print(
        table(
            [
                ("direct", f"{rate['direct']:.0f} MiB/s", "1.00", ""),
                (
                    "socat -t 30",
                    f"{rate['socat']:.0f} MiB/s",
                    f"{rate['socat'] / rate['direct']:.2f}",
                    "",
                ),
                (
                    "dockertrace (recording)",
                    f"{rate['dockertrace']:.0f} MiB/s",
                    f"{rate['dockertrace'] / rate['direct']:.2f}",
                    "",
                ),
            ]
        )
    )
    print(
        f"dockertrace / socat throughput: {rate['dockertrace'] / rate['socat']:.2f} (target ≥ 0.8)"
    )
    print(f"proxy peak RSS {rss:.0f} MB (target ≤ 60); events recorded: {events}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
