"""`dockertrace proxy`'s lines: one per exchange, streams summed up, failures said plainly."""

from __future__ import annotations

import io
from typing import Any

import pytest

from tracer.cli.proxy import FRAME_LINES_PER_SECOND, ExchangePrinter, main
from tracer.events import Event


def ev(kind: str, **detail: Any) -> Event:
    return Event(1, "proxy", "cli", kind, pid=42, comm="docker", detail={"conn": 3, **detail})


def printer() -> ExchangePrinter:
    p = ExchangePrinter(io.StringIO(), clock=lambda: 100.0)
    p.close()  # render() is used directly; no printing thread needed
    return p


def test_an_exchange_is_one_line_with_short_ids_and_times() -> None:
    line = printer().render(
        ev(
            "http.response",
            method="POST",
            path="/v1.41/containers/" + "a" * 64 + "/start",
            status=204,
            reason="No Content",
            body_size=0,
            streaming=False,
            request_ns=1_000_000,
            first_byte_ns=2_000_000,
            last_byte_ns=3_500_000,
        )
    )
    assert "docker[42]" in line
    assert f"POST /v1.41/containers/{'a' * 12}/start → 204 No Content  2.5 ms" in line


def test_frames_are_capped_per_second_and_summed_at_close() -> None:
    p = printer()
    frame = ev(
        "stream.frame", direction="daemon->client", stream="stdout", size=10, excerpt="0123456789"
    )
    lines = [p.render(frame) for _ in range(FRAME_LINES_PER_SECOND + 3)]
    assert sum(1 for line in lines if line) == FRAME_LINES_PER_SECOND
    close = p.render(ev("conn.close", reason="daemon closed first", bytes_in=1, bytes_out=2))
    assert "3 more frames, 30 B not shown" in close


def test_an_unreachable_daemon_is_said_plainly() -> None:
    line = printer().render(
        ev(
            "upstream.unreachable",
            upstream="unix:///var/run/docker.sock",
            error="Connection refused",
        )
    )
    assert "cannot be reached (Connection refused)" in line
    assert "without an answer" in line


def test_a_bad_batch_is_refused_with_its_range(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("0", "soon"):
        with pytest.raises(SystemExit) as stop:
            main(["--batch-ms", bad])
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert "--batch-ms" in err and ("between 1 and 100 ms" in err or "'soon'" in err)
