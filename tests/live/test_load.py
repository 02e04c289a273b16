"""Load through the proxy: 50 clients × 200 requests, answers identical to direct ones; long
streams keep the proxy's memory flat (a bounded 60 s here; 10 minutes in bench/load.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.load_driver import hammer, leftover_containers, proxy_process, stream_rss

pytestmark = pytest.mark.live
STREAM_SECONDS = 60
WARMUP_SECONDS = 10


def test_fifty_clients_two_hundred_requests_each(
    docker_daemon: str, demo_image: str, tmp_path: Path
) -> None:
    """Compared: status, every header but Date, body; a created container's Id is the one
    field that differs (compared by the keys of the answer)."""
    tag = f"load-{os.getpid()}"
    with proxy_process(tmp_path, docker_daemon) as (sock, _):
        result = hammer(sock, docker_daemon, demo_image, tag, clients=50, per_client=200)
    print(f"\nload: {result.requests} requests in {result.seconds:.1f} s, "
          f"{len(result.errors)} errors, {len(result.mismatches)} mismatches")  # fmt: skip
    assert result.requests == 50 * 200
    assert not result.errors, result.errors[:5]
    assert not result.mismatches, result.mismatches[:5]
    assert not leftover_containers(tag) and not leftover_containers(f"{tag}-static")
    recorded = (tmp_path / "load.jsonl").read_text().count('"kind":"http.response"')
    assert recorded >= result.requests  # the proxy recorded every exchange it forwarded


def test_long_streams_keep_the_proxy_memory_flat(
    docker_daemon: str, demo_image: str, tmp_path: Path
) -> None:
    tag = f"streams-{os.getpid()}"
    with proxy_process(tmp_path, docker_daemon) as (sock, proc):
        result = stream_rss(sock, docker_daemon, proc.pid, demo_image, tag, STREAM_SECONDS)
    growth = result.growth_mb(WARMUP_SECONDS)
    print(f"\nstreams: {result.event_lines} B of events, {result.log_bytes} B of logs, "
          f"proxy RSS {result.samples[0][1] / 1024:.1f} → {result.samples[-1][1] / 1024:.1f} MB, "
          f"growth after warm-up {growth:.2f} MB")  # fmt: skip
    assert result.event_lines > 0 and result.log_bytes > 10_000  # output really flowed
    assert growth <= 5.0
    assert not leftover_containers(tag)
