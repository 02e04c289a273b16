"""The classroom server on loopback (uvicorn, in this test's loop), fed by a real recording:
late joiners, the token, limits, garbage, stalled viewers, redaction, a taken port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest

from tests.web.conftest import BUNDLED
from tracer.events import Event
from tracer.record.format import read_recording
from tracer.web.hub import Hub
from tracer.web.server import Classroom, PortInUse, bind, serve

RECORDING = read_recording(BUNDLED)


@dataclass
class Room:
    room: Classroom
    url: str
    port: int

    @property
    def hub(self) -> Hub:
        return self.room.hub


@contextlib.asynccontextmanager
async def served(hub: Hub, token: str = "s3cret", **limits: Any) -> AsyncIterator[Room]:
    room = Classroom(hub, token, lambda: "no live runs in these tests")
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    task = asyncio.create_task(serve(room, sock, **limits))
    url = f"http://127.0.0.1:{port}/"
    async with httpx.AsyncClient() as client:
        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                await client.get(url + "api/state")
                break
            await asyncio.sleep(0.05)
    try:
        yield Room(room, url, port)
    finally:
        room.stop()
        await asyncio.wait_for(task, 10)


async def read_sse(
    client: httpx.AsyncClient, url: str, until: Any, limit_s: float = 30
) -> list[tuple[str, str, str]]:
    """(kind, id, data) of each message until `until(messages)` is true."""
    out: list[tuple[str, str, str]] = []
    kind = ident = ""
    stream = client.stream("GET", url + "api/events", timeout=limit_s)
    async with asyncio.timeout(limit_s), stream as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("id: "):
                ident = line[4:]
            elif line.startswith("data: "):
                out.append((kind, ident, line[6:]))
                kind = ident = ""
                if until(out):
                    return out
    return out


def events_of(messages: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    return [json.loads(d) for k, _, d in messages if k == "event"]


async def test_a_late_joiner_gets_everything_so_far_then_what_comes() -> None:
    hub = Hub("live", view_every_s=0.05)
    first, rest = RECORDING.events[:100], RECORDING.events[100:]
    async with served(hub) as room, httpx.AsyncClient() as client:
        hub.start_run(["docker", "run", "--rm", "x", "echo", "hi"], "live", "Tracing live")
        hub.add_events(first)

        async def feed_later() -> None:
            await asyncio.sleep(0.3)  # the viewer below has joined and read the backlog
            for i in range(0, len(rest), 20):
                hub.add_events(rest[i : i + 20])
                await asyncio.sleep(0.01)
            await hub.end_run("finished", "docker exited 0; printed: hi.")

        feeding = asyncio.create_task(feed_later())
        messages = await read_sse(
            client, room.url, lambda m: any(k == "run" and "finished" in d for k, _, d in m)
        )
        await feeding
    got = events_of(messages)
    assert got == [ev.to_dict() for ev in RECORDING.events]  # every event, in order
    assert messages[0][0] == "hello"
    views = [json.loads(d) for k, _, d in messages if k == "view"]
    assert views[-1]["events"] == len(RECORDING.events)
    assert [s["status"] for s in views[-1]["steps"]] == ["observed"] * 7
    ids = [i for k, i, _ in messages if k == "event"]
    assert ids == [f"1:{n}" for n in range(len(ids))]


async def test_an_http_10_viewer_gets_the_stream_unchunked_to_the_end() -> None:
    """The fan-out writes to the connection itself: its bytes follow the response's framing
    (chunks for HTTP/1.1, as httpx read above; the bytes as they are for HTTP/1.0)."""
    hub = Hub("live", view_every_s=0.05)
    async with served(hub) as room:
        reader, writer = await asyncio.open_connection("127.0.0.1", room.port)
        writer.write(b"GET /api/events HTTP/1.0\r\nHost: x\r\n\r\n")
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding" not in head.lower()
        assert b"text/event-stream" in head
        hub.start_run(["docker", "run"], "live", "Tracing live")
        hub.add_events(RECORDING.events[:5])
        await hub.end_run("finished", "done")
        body = b""
        while b'"state":"finished"' not in body:
            body += await asyncio.wait_for(reader.read(1 << 16), 10)
        writer.close()
    assert body.startswith(b"event: hello\ndata: ")
    assert body.count(b"event: event\n") == 5 and b"\r\n" not in body


async def test_the_stream_is_get_only() -> None:
    async with served(Hub("replay")) as room, httpx.AsyncClient() as client:
        assert (await client.head(room.url + "api/events")).status_code == 405
        assert (await client.post(room.url + "api/events")).status_code == 405


async def test_without_the_token_401_logged_and_nothing_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = Hub("live")
    async with served(hub) as room, httpx.AsyncClient() as client:
        with caplog.at_level(logging.WARNING, "dockertrace.web"):
            none = await client.post(room.url + "api/run")
            wrong = await client.post(
                room.url + "api/run", headers={"Authorization": "Bearer guess"}
            )
        assert none.status_code == wrong.status_code == 401
        assert room.room.run is None and hub.runs == []
        assert caplog.text.count("refused POST /api/run from 127.0.0.1") == 2
        auth = {"Authorization": "Bearer s3cret"}
        bad = await client.post(room.url + "api/run", headers=auth, json={"command": "rm -rf /"})
        assert bad.status_code == 400 and "docker run" in bad.json()["error"]
        big = await client.post(room.url + "api/run", headers=auth, content=b"x" * 10_000)
        assert big.status_code == 413
        cannot = await client.post(room.url + "api/run", headers=auth)
        assert cannot.status_code == 503 and "no live runs in these tests" in cannot.text
        assert hub.runs == []


async def test_a_never_reading_viewer_is_dropped_and_the_others_get_everything() -> None:
    hub = Hub("live", view_every_s=0.05, viewer_bytes=3 << 20)
    async with served(hub, stall_s=1.0) as room, httpx.AsyncClient() as client:
        hub.start_run(["docker", "run"], "live", "Tracing live")
        # a viewer that asks for the stream and never reads a byte of it
        stalled = socket.create_connection(("127.0.0.1", room.port))
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.sleep(0.2)
        assert len(hub.viewers) == 1
        stalled_viewer = next(iter(hub.viewers))

        async def reader_caught_up() -> None:
            # the reading client shares this loop (and, on a loaded machine, a busy CPU) with
            # the server: let it take each batch before the next, so only the stalled viewer
            # ever has more than the bound waiting
            for _ in range(200):
                if all(v.waiting == 0 for v in hub.viewers if v is not stalled_viewer):
                    return
                await asyncio.sleep(0.05)

        async def feed() -> None:
            for _ in range(200):  # the reading client has subscribed (bounded wait)
                if len(hub.viewers) >= 2:
                    break
                await asyncio.sleep(0.05)
            big = [replace(ev, detail={**ev.detail, "pad": "x" * 2000}) for ev in RECORDING.events]
            for _ in range(16):  # ~7 MB: far more than the stalled viewer may have waiting
                hub.add_events(big)
                await asyncio.sleep(0.05)
                await reader_caught_up()
            await hub.end_run("finished", "done")

        feeding = asyncio.create_task(feed())
        messages = await read_sse(
            client, room.url, lambda m: any(k == "run" and "done" in d for k, _, d in m), 20
        )
        await feeding
        assert len(events_of(messages)) == 16 * len(RECORDING.events)
        for _ in range(50):
            if hub.dropped:
                break
            await asyncio.sleep(0.1)
        assert hub.dropped == 1
        stalled.close()


def _still_open(s: socket.socket) -> bool:
    """Whether the server has not closed this connection yet (closed ones are closed here)."""
    try:
        if s.recv(1) != b"":
            return True
    except BlockingIOError:
        return True
    except OSError:
        pass
    s.close()
    return False


async def test_garbage_and_a_thousand_connections_are_refused_others_unaffected() -> None:
    hub = Hub("replay")
    async with served(hub, max_connections=200, head_timeout_s=1.0) as room:
        await hub.add_recording("run-echo-hi.jsonl", RECORDING.header, RECORDING.events)
        garbage = socket.create_connection(("127.0.0.1", room.port))
        garbage.sendall(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03 not HTTP at all\r\n\r\n")
        loop = asyncio.get_running_loop()
        answer = await loop.run_in_executor(None, garbage.recv, 1000)
        assert answer.startswith(b"HTTP/1.1 400"), answer
        garbage.close()
        # 1,000 connections that say nothing: those over the limit are closed at once, the
        # rest when they have not sent a request head in time
        idle = []
        for _ in range(1000):
            s = socket.socket()
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                s.connect(("127.0.0.1", room.port))
            idle.append(s)
        # the head timeout is 1 s; on a loaded machine the server may take longer to get to
        # every one, so wait (bounded) until each is closed rather than for a fixed time
        deadline = loop.time() + 15
        while idle and loop.time() < deadline:
            await asyncio.sleep(0.25)
            idle = [s for s in idle if _still_open(s)]
        open_ones = len(idle)
        for s in idle:
            s.close()
        assert open_ones == 0
        # meanwhile a viewer is served as if nothing happened
        async with httpx.AsyncClient() as client:
            messages = await read_sse(client, room.url, lambda m: any(k == "view" for k, _, _ in m))
        assert len(events_of(messages)) == len(RECORDING.events)


async def test_everything_served_is_redacted() -> None:
    hub = Hub("replay")
    secret = Event(
        time_ns=1,
        source="proxy",
        layer="cli",
        kind="http.request",
        pid=7,
        detail={
            "method": "POST",
            "path": "/containers/create",
            "headers": {"Authorization": "Bearer abc", "Host": "docker"},
            "body_json": {"Image": "alpine", "Env": ["DB_PASSWORD=hunter2", "MODE=dev"]},
            "body_excerpt": '{"Env":["API_TOKEN=xyz"]}',
        },
    )
    leaky = Event(2, "bpf", "cli", "proc.exec", 7, detail={"argv": ["docker", "login", "-p", "pw"]})
    async with served(hub) as room, httpx.AsyncClient() as client:
        await hub.add_recording("leaky.jsonl", {}, [secret, leaky])
        messages = await read_sse(client, room.url, lambda m: any(k == "view" for k, _, _ in m))
    text = "".join(d for _, _, d in messages)
    for word in ("abc", "hunter2", "xyz", '"pw"'):
        assert word not in text, word
    assert "MODE=dev" in text and "<redacted>" in text


def test_a_taken_port_is_said_plainly() -> None:
    taken = bind("127.0.0.1", 0)
    port = taken.getsockname()[1]
    with pytest.raises(PortInUse, match=rf"127.0.0.1:{port} is in use .* --listen HOST:PORT"):
        bind("127.0.0.1", port)
    taken.close()
