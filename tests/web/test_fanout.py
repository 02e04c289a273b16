"""The room's fan-out on its own: a burst framed once, the same bytes written to every viewer,
one write each a flush, pacing by the flush's CPU, a slow viewer cut, pings when quiet."""

from __future__ import annotations

import asyncio

from tracer.web import fanout
from tracer.web.fanout import Fanout, chunked


class Connection:
    """A connection's transport as the fan-out sees it: what was written, what still waits."""

    def __init__(self, waiting: int = 0) -> None:
        self.writes: list[bytes] = []
        self.backlog = waiting  # bytes the peer has not taken
        self.closing = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def get_write_buffer_size(self) -> int:
        return self.backlog

    def is_closing(self) -> bool:
        return self.closing

    def abort(self) -> None:
        self.aborted = self.closing = True


class Clocks:
    def __init__(self) -> None:
        self.wall = 100.0
        self.cpu = 0.0


def room(clocks: Clocks | None = None, **kw: object) -> Fanout:
    c = clocks or Clocks()
    return Fanout(clock=lambda: c.wall, cpu_clock=lambda: c.cpu, **kw)  # type: ignore[arg-type]


def test_chunks_are_http_11_chunks() -> None:
    assert chunked(b"hello") == b"5\r\nhello\r\n"
    assert chunked(b"x" * 300) == b"12c\r\n" + b"x" * 300 + b"\r\n"


async def test_a_burst_is_one_write_of_the_same_bytes_for_every_viewer() -> None:
    out = room(gather_s=0.01)
    conns = [Connection() for _ in range(5)]
    viewers = [out.add(c, True, b"so far") for c in conns]  # type: ignore[arg-type]
    assert all(v is not None for v in viewers)
    assert all(c.writes == [chunked(b"so far")] for c in conns)
    for part in (b"a", b"b", b"c"):
        out.publish(part)
    assert all(len(c.writes) == 1 for c in conns)  # gathered, not yet sent
    await asyncio.sleep(0.05)
    assert all(c.writes[1:] == [chunked(b"abc")] for c in conns)
    assert len({id(c.writes[1]) for c in conns}) == 1  # framed once: one bytes object
    assert out.stats["flushes"] == 1


async def test_an_http_10_viewer_gets_the_bytes_unframed() -> None:
    out = room()
    plain = Connection()
    out.add(plain, False, b"so far")  # type: ignore[arg-type]
    out.publish(b"news")
    out.flush()
    assert plain.writes == [b"so far", b"news"]


async def test_a_joiner_has_what_waited_in_its_first_write_and_not_again() -> None:
    out = room()
    early = Connection()
    out.add(early, True, b"")  # type: ignore[arg-type]
    out.publish(b"pending")
    late = Connection()
    out.add(late, True, b"everything")  # type: ignore[arg-type]  # so far includes "pending"
    assert early.writes[-1] == chunked(b"pending")  # flushed to those before, first
    out.flush()
    assert late.writes == [chunked(b"everything")]


async def test_the_next_flush_waits_spread_times_the_cpu_the_last_one_took() -> None:
    ticks = iter(range(0, 1000, 10))  # each look at the CPU clock: 10 ms more (a dear flush)
    out = Fanout(clock=lambda: 100.0, cpu_clock=lambda: next(ticks) / 1000, gather_s=0.0, gap_s=0.0)
    out.add(Connection(), True, b"")  # type: ignore[arg-type]
    out.publish(b"1")
    out.flush()
    assert abs(out.stats["cpu_s"] - 0.010) < 1e-9
    out.publish(b"2")
    assert out._due is not None
    wait = out._due.when() - asyncio.get_running_loop().time()
    assert abs(wait - fanout.SPREAD * 0.010) < 0.005
    out.close()


async def test_flushes_are_a_gap_apart_at_least() -> None:
    out = Fanout(clock=lambda: 100.0, cpu_clock=lambda: 0.0, gather_s=0.0, gap_s=0.1)
    out.add(Connection(), True, b"")  # type: ignore[arg-type]
    out.publish(b"1")
    out.flush()
    out.publish(b"2")
    assert out._due is not None
    assert abs(out._due.when() - asyncio.get_running_loop().time() - 0.1) < 0.01
    out.close()


async def test_a_viewer_over_its_bound_is_cut_and_counted_the_others_go_on() -> None:
    out = room(viewer_bytes=100)
    slow, fine = Connection(), Connection()
    v_slow = out.add(slow, True, b"")  # type: ignore[arg-type]
    out.add(fine, True, b"")  # type: ignore[arg-type]
    assert v_slow is not None
    slow.backlog = 90  # its peer has not taken the last 90 bytes
    out.publish(b"x" * 20)
    out.flush()
    assert slow.aborted and v_slow.dropped and v_slow.ended.done()
    assert fine.writes[-1] == chunked(b"x" * 20)
    out.remove(v_slow)
    assert out.dropped == 1 and len(out.viewers) == 1


async def test_no_more_than_max_viewers() -> None:
    out = room(max_viewers=2)
    assert out.add(Connection(), True, b"") is not None  # type: ignore[arg-type]
    assert out.add(Connection(), True, b"") is not None  # type: ignore[arg-type]
    assert out.full() and out.add(Connection(), True, b"") is None  # type: ignore[arg-type]


async def test_a_quiet_stream_gets_a_ping() -> None:
    clocks = Clocks()
    out = room(clocks)
    c = Connection()
    out.add(c, True, b"")  # type: ignore[arg-type]
    clocks.wall += fanout.PING_S
    out._ping()
    assert c.writes[-1] == chunked(fanout.PING)
    out.close()
    assert all(v.ended.done() for v in out.viewers)
