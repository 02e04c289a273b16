"""HTTP/1.1 followed with h11: requests and their answers, keep-alive, pipelining, streams.

Two h11 connections follow the conversation: one in the server role reads the client's
requests, one in the client role (the "twin") reads the daemon's responses. The twin is told
each request it answers (only the headers that change how the conversation goes on, built once
per shape); the request side is not told the responses: once a request has been answered, a
fresh parser takes what the client sent next (until then h11 holds it PAUSED, which is what
keeps an upgrade's raw bytes from being read as HTTP). A parser is only asked for its next
event when it has bytes it has not answered NEED_DATA to, and a message byte-identical to one
parsed before reuses that parse (memo.py) and what was made of it (facts.py). Measured in
bench/proxy.md.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import h11

from tracer.events import Layer, encode_json, encode_string
from tracer.proxy.exchange import FRAME_EXCERPT, Exchange
from tracer.proxy.facts import (
    RequestFacts,
    ResponseFacts,
    request_facts,
    response_facts,
)
from tracer.proxy.frames import FrameDecoder, looks_multiplexed
from tracer.proxy.memo import MAX_BYTES, REQUESTS, RESPONSES, Parsed
from tracer.proxy.rawpipe import D2C, emit_frame
from tracer.proxy.ttybook import TtyBook, is_hijack_endpoint

MAX_HEAD = 1024 * 1024  # Go's net/http accepts 1 MiB of headers; h11's default is 16 KiB
RAW_STREAM_TYPES = (
    "application/vnd.docker.raw-stream",
    "application/vnd.docker.multiplexed-stream",
)
_END = h11.EndOfMessage()
_MIRRORS: dict[tuple[bytes, ...], h11.Request] = {}  # (method, *headers) -> request told
# The JSON of the detail fields a remembered message's facts decide, by facts object: the
# events of a message seen before are its template filled in (events.EncodedDetail).
_FIXED: dict[int, tuple[object, str]] = {}


def _fixed_json(facts: object, detail: dict[str, Any], names: tuple[str, ...]) -> str:
    """',"name":value' for each of `names` in `detail`, made once per facts object (which
    decides those values: the caller's promise, checked by the tests on every event)."""
    hit = _FIXED.get(id(facts))
    if hit is not None and hit[0] is facts:
        return hit[1]
    if len(_FIXED) >= 512:  # bounded: the memo's own entries, and some it has forgotten
        _FIXED.clear()
    text = "".join(f",{encode_string(k)}:{encode_json(detail[k])}" for k in names)
    _FIXED[id(facts)] = (facts, text)  # the reference keeps the id from being reused
    return text


_REQUEST_FIXED = (
    *("method", "target", "path", "endpoint", "api_version", "query", "headers"),
    *("body_size", "body_excerpt", "body_json"),  # an empty body's
)
_RESPONSE_FIXED = ("status", "reason", "headers", "body_size", "body_excerpt", "body_json")


def _mirror_request(x: Exchange) -> h11.Request:
    """The request the response side is told, built once per shape: keep-alive /_ping polls
    send the same one thousands of times, and h11 validates every header it is given."""
    request = _MIRRORS.get(x.mirror_key)
    if request is None:
        if len(_MIRRORS) > 256:  # bounded: Host values are the only thing that varies much
            _MIRRORS.clear()
        # The target does not change how a response is framed (the method and headers do).
        method = x.wire_method or b"GET"
        request = h11.Request(method=method, target="/", headers=x.mirror)
        _MIRRORS[x.mirror_key] = request
    return request


class Http1:
    """The HTTP/1.1 half of a ConnectionCore (core.py): both parsers and what they follow."""

    mode: str
    book: TtyBook
    _t_client: int
    _t_daemon: int

    def _init_http(self) -> None:
        self._req = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self._resp = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        self._seq = 0
        self._reading: Exchange | None = None  # the request whose body is being read
        self._unsent: deque[Exchange] = deque()  # requests not yet told to the response side
        self._inflight: Exchange | None = None  # the exchange whose response is being read
        self._req_mark: int | None = None  # time of the first unparsed client byte
        self._resp_mark: int | None = None
        self._req_dirty = False  # bytes the request parser has not yet answered NEED_DATA to
        self._resp_dirty = False
        # Remembered parses (memo.py): whether each parser is new and has been given nothing,
        # the request read from the memo (the parser must hold what follows until its answer),
        # and what may be remembered of the chunk being parsed.
        self._req_fresh = self._resp_fresh = True
        self._req_held = False
        self._memo_req: bytes | None = None
        self._memo_head: tuple[h11.Request, RequestFacts] | None = None
        self._memo_resp: tuple[tuple[bytes, ...], bytes] | None = None
        self._memo_parts: list[Any] = []  # the Response event, then its Data

    def _emit(self, kind: str, t: int, layer: Layer = "cli", **detail: Any) -> None:
        raise NotImplementedError  # ConnectionCore's

    def _emit_encoded(
        self, kind: str, t: int, layer: Layer, detail: dict[str, Any], json_after_conn: str
    ) -> None:
        raise NotImplementedError  # ConnectionCore's

    def _hijack(self, x: Exchange, protocol: str, t: int) -> None:
        raise NotImplementedError  # ConnectionCore's: what follows is another protocol

    def _client_http(self, data: bytes, t: int) -> None:
        """Client bytes while the connection is HTTP/1.1."""
        if self._req_mark is None:
            self._req_mark = t
        idle = self._req_fresh and not self._req_held and self._reading is None
        seen = REQUESTS.get(data) if idle else None
        if seen is not None and isinstance(seen.facts, RequestFacts):  # parsed before
            self._start_request(seen.facts, t)
            self._unsent[-1].remembered = seen.facts
            self._request_done(self._unsent[-1], t)
            self._req_held = True  # until the answer, as h11 would be PAUSED
        else:
            self._memo_req = data if idle and len(data) <= MAX_BYTES else None
            self._feed_req(data)
        self._pump(t)
        self._memo_req = None

    def _daemon_http(self, data: bytes, t: int) -> None:
        """Daemon bytes while the connection is HTTP/1.1 (or a junk request's answer)."""
        if self._resp_mark is None:
            self._resp_mark = t
        idle = self.mode == "http" and self._resp_fresh and self._inflight is None
        key = (self._unsent[0].mirror_key, data) if idle and self._unsent else None
        seen = RESPONSES.get(key) if key is not None else None
        if seen is not None:  # parsed before, byte for byte, after the same request
            self._response_from_memo(self._unsent.popleft(), seen, t)
        else:
            self._memo_resp = key if len(data) <= MAX_BYTES else None
            self._feed_resp(data)
        self._pump(t)
        self._memo_resp = None

    def _feed_req(self, data: bytes) -> None:
        self._req.receive_data(data)
        self._req_dirty, self._req_fresh = True, False

    def _feed_resp(self, data: bytes) -> None:
        self._resp.receive_data(data)
        self._resp_dirty, self._resp_fresh = True, False

    def _pump(self, t: int, eof: bool = False) -> None:
        """Run both parsers until neither moves. A side is only asked for its next event when
        it has bytes it has not answered NEED_DATA or PAUSED to (each h11 call costs µs).
        Each side's events take the time of that side's last bytes: the relay writes the two
        directions' copies independently, so a response may be parsed only when its request's
        copy comes, and must not be stamped with the request's time."""
        t_req, t_resp = (t, t) if eof else (self._t_client or t, self._t_daemon or t)
        while self.mode in ("http", "junk"):
            progressed = (
                self.mode == "http"
                and self._req_dirty
                and not self._req_held
                and self._pump_requests(t_req, eof)
            )
            if self.mode not in ("http", "junk"):
                break
            if self._resp_dirty:
                progressed = self._pump_responses(t_resp, eof) or progressed
            if not progressed:
                break

    def _pump_requests(self, t: int, eof: bool) -> bool:
        progressed = False
        while self.mode == "http" and self._req.their_state is not h11.ERROR:
            try:
                ev = self._req.next_event()
            except h11.RemoteProtocolError as e:
                if eof and self._reading is None and self._req.their_state is not h11.IDLE:
                    return True
                self._junk_request(str(e) if not eof else f"request cut short: {e}", t)
                return True
            if ev is h11.NEED_DATA or ev is h11.PAUSED or isinstance(ev, h11.ConnectionClosed):
                self._req_dirty = False
                break
            progressed = True
            if isinstance(ev, h11.Request):
                facts = request_facts(ev)
                self._start_request(facts, t)
                self._memo_head = (ev, facts) if self._memo_req is not None else None
            elif isinstance(ev, h11.Data) and self._reading is not None:
                self._reading.request_body.add(ev.data)
                self._memo_head = None
            elif isinstance(ev, h11.EndOfMessage) and self._reading is not None:
                x = self._reading
                self._remember_request()
                self._request_done(x, t)
                if not x.reported or self.mode != "http":  # next would only say PAUSED
                    self._req_dirty = False
                    break
                self._renew_request_side()  # answered already: read what the client sent next
        return progressed

    def _renew_request_side(self) -> None:
        """The request was read and answered: a fresh parser takes what follows. (Cheaper than
        telling this one the response, and the request side needs nothing from it but that
        the answer was not an upgrade; until then it stays PAUSED, holding what follows.)"""
        if self._req_held:  # the request came from the memo: the parser is fresh already
            self._req_held = False
            return
        rest, closed = self._req.trailing_data
        self._req = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self._req_fresh = True
        self._req_mark = self._t_client if rest else None
        if rest:
            self._feed_req(rest)
        if closed:
            self._feed_req(b"")

    def _remember_request(self) -> None:
        """A request read whole from one chunk into a fresh parser, nothing after it, no
        switch proposed: the next time those bytes come, its parse is reused (memo.py)."""
        if (
            self._memo_head is not None
            and self._memo_req is not None
            and self._req.their_state is h11.DONE
            and not self._req.trailing_data[0]
        ):
            head, facts = self._memo_head
            REQUESTS.put(self._memo_req, Parsed(head, facts=facts))
        self._memo_head = self._memo_req = None  # only a chunk's first message is remembered

    def _start_request(self, f: RequestFacts, t: int) -> None:
        """A request head has been read (parsed now, or what a parse of the same bytes made)."""
        self._seq += 1
        x = Exchange(
            seq=self._seq,
            method=f.method,
            target=f.target,
            path=f.path,
            endpoint=f.endpoint,
            api_version=f.api_version,
            query=dict(f.query),
            headers=dict(f.headers),
            t_request=self._req_mark if self._req_mark is not None else t,
            upgrade=f.upgrade,
        )
        x.request_content_type = f.content_type
        x.mirror = f.mirror
        x.wire_method = f.wire_method
        x.mirror_key = f.mirror_key
        self._req_mark = None
        self._reading = x
        self._unsent.append(x)

    def _request_done(self, x: Exchange, t: int, complete: bool = True) -> None:
        self._reading = None
        body = x.request_body.describe(x.request_content_type)
        x.request_json = body["body_json"]
        detail: dict[str, Any] = {
            "seq": x.seq,
            "method": x.method,
            "target": x.target,
            "path": x.path,
            "endpoint": x.endpoint,
            "api_version": x.api_version,
            "query": x.query,
            "headers": x.headers,
            **body,
        }
        if not complete:
            detail["complete"] = False
        elif x.remembered is not None and not x.request_body.size:  # all but seq are its facts'
            fixed = _fixed_json(x.remembered, detail, _REQUEST_FIXED)
            json_text = f',"seq":{x.seq}{fixed}}}'
            self._emit_encoded("http.request", x.t_request, "cli", detail, json_text)
            return
        self._emit("http.request", x.t_request, **detail)

    def _pump_responses(self, t: int, eof: bool) -> bool:
        progressed = False
        while self.mode in ("http", "junk") and self._resp.their_state is not h11.ERROR:
            if self._inflight is None:
                if not self._unsent or self._resp.our_state is not h11.IDLE:
                    break
                if not self._tell_twin(self._unsent.popleft(), t):
                    return True
                progressed = True
            x = self._inflight
            assert x is not None  # (told just now, or before)
            try:
                ev = self._resp.next_event()
            except h11.RemoteProtocolError as e:
                if x.status is not None:  # a body cut short by the daemon's close, or broken
                    self._response_done(x, t, complete=False)
                    self.mode = "opaque"
                    if not eof:
                        self._give_up(f"malformed response body: {e}", t)
                elif not eof:
                    self._give_up(f"malformed response from the daemon: {e}", t)
                return True
            if ev is h11.NEED_DATA or ev is h11.PAUSED or isinstance(ev, h11.ConnectionClosed):
                self._resp_dirty = False
                break
            progressed = True
            if isinstance(ev, h11.Data):
                x.response_body.add(ev.data)
                if x.streaming:
                    self._stream_data(x, ev.data, t)
                if self._memo_parts:
                    self._memo_parts.append(ev.data)
            elif isinstance(ev, h11.Response):
                self._response_head(x, response_facts(ev), t)
                self._memo_parts = [ev] if self._memo_resp is not None else []
                if self._is_raw_stream(x, ev):
                    self._hijack(x, "raw-stream (200)", t)
            elif isinstance(ev, h11.EndOfMessage):
                self._response_done(x, t)
                if self.mode == "junk":
                    self.mode = "opaque"
                    break
                if self._reading is not x:  # its request was read whole: on to what follows
                    self._renew_request_side()
                resp = self._resp
                if resp.our_state is h11.DONE and resp.their_state is h11.DONE:  # keep-alive
                    resp.start_next_cycle()
                    self._inflight = None
                    rest, closed = resp.trailing_data
                    self._resp_mark = self._t_daemon if rest else None
                    self._resp_dirty = bool(rest) or closed
                    self._resp_fresh = not self._resp_dirty
                    self._remember_response(x, rest)
                self._memo_parts, self._memo_resp = [], None  # only a chunk's first message
            elif isinstance(ev, h11.InformationalResponse) and ev.status_code == 101:
                self._response_head(x, response_facts(ev), t)
                self._hijack(x, x.upgrade or "upgrade", t)
        return progressed

    def _tell_twin(self, x: Exchange, t: int) -> bool:
        """Tell the response side the request it is to read the answer to; False if h11
        will not take it (then this connection is no longer followed)."""
        try:
            self._resp.send(_mirror_request(x))
            self._resp.send(_END)
        except h11.LocalProtocolError as e:
            self._give_up(f"cannot follow request {x.seq}: {e}", t)
            return False
        self._inflight = x
        return True

    def _response_from_memo(self, x: Exchange, seen: Parsed, t: int) -> None:
        """A response byte-identical to one parsed after the same request: its events from
        that parse; the parser stays idle (as it would be after start_next_cycle)."""
        facts = seen.facts
        assert isinstance(facts, ResponseFacts)
        self._response_head(x, facts, t)
        if facts.body is not None:  # described before: only its size is needed
            x.response_body.size = len(seen.body)
            x.described = dict(facts.body)
            x.remembered_response = facts
        else:
            x.response_body.add(seen.body)
        self._response_done(x, t)
        if self._reading is not x:
            self._renew_request_side()

    def _remember_response(self, x: Exchange, rest: bytes) -> None:
        """A whole, non-streaming response read from one chunk by a fresh parser, nothing
        after it: remembered with what the twin was told of its request (memo.py)."""
        parts, key = self._memo_parts, self._memo_resp
        if key is not None and parts and not rest and not x.streaming:
            head = parts[0]
            described = x.described if x.described and x.described["body_json"] is None else None
            assert x.status is not None
            facts = ResponseFacts(
                x.status,
                x.reason,
                x.response_headers,
                x.content_type,
                False,
                x.sized,
                None if described is None else dict(described),
            )
            RESPONSES.put(key, Parsed(head, b"".join(parts[1:]), facts))

    def _response_head(self, x: Exchange, f: ResponseFacts, t: int) -> None:
        x.status = f.status
        x.reason = f.reason
        x.response_headers = dict(f.headers)
        x.content_type = f.content_type
        x.t_first = self._resp_mark if self._resp_mark is not None else t
        self._resp_mark = None
        bodyless = x.method == "HEAD" or x.status in (101, 204, 304)
        x.sized = f.sized
        x.streaming = x.status == 101 or (not bodyless and (f.chunked or not x.sized))
        if x.streaming and "/logs" in x.endpoint:
            tty = self.book.for_stream(x.endpoint, x.request_json)
            x.frames = FrameDecoder(FRAME_EXCERPT) if tty is not True else None
            x.frames_decided = tty is not None
        if x.streaming and "json" in x.content_type:
            x.json_lines = bytearray()

    def _is_raw_stream(self, x: Exchange, ev: h11.Response) -> bool:
        return (
            ev.status_code == 200
            and x.content_type.startswith(RAW_STREAM_TYPES)
            and is_hijack_endpoint(x.endpoint)
            and not x.sized
        )

    def _response_done(self, x: Exchange, t: int, complete: bool = True) -> None:
        if x.reported:
            return
        x.reported = True
        x.t_last = t
        body = x.described or x.response_body.describe(x.content_type)
        x.described = body
        detail: dict[str, Any] = {
            "seq": x.seq,
            "method": x.method,
            "path": x.path,
            "endpoint": x.endpoint,
            "status": x.status,
            "reason": x.reason,
            "headers": x.response_headers,
            **body,
            "request_ns": x.t_request,
            "first_byte_ns": x.t_first,
            "last_byte_ns": x.t_last,
            "streaming": x.streaming,
        }
        if not complete:
            detail["complete"] = False
        if complete and x.remembered_response is not None and not x.streaming:
            fixed = _fixed_json(x.remembered_response, detail, _RESPONSE_FIXED)
            s = encode_string
            json_text = (
                f',"seq":{x.seq},"method":{s(x.method)},"path":{s(x.path)},'
                f'"endpoint":{s(x.endpoint)}{fixed},"request_ns":{x.t_request},'
                f'"first_byte_ns":{x.t_first},"last_byte_ns":{x.t_last},"streaming":false}}'
            )
            self._emit_encoded("http.response", x.t_first, "dockerd", detail, json_text)
        else:
            self._emit("http.response", x.t_first, layer="dockerd", **detail)
        self.book.learn_exchange(x.method, x.endpoint, x.query, x.request_json, body["body_json"])

    def _stream_data(self, x: Exchange, data: bytes, t: int) -> None:
        if x.frames is not None and not x.frames_decided:
            x.frames_decided = True
            if not looks_multiplexed(data):
                x.frames = None
        if x.frames is not None:
            pieces = x.frames.feed(data)
        else:
            pieces = [("raw", len(data), data[:FRAME_EXCERPT])]
        for stream, size, head in pieces:
            emit_frame(self._emit, x.seq, D2C, stream, size, head, t)
        if x.json_lines is not None:
            self._scan_for_errors(x, data, t)

    def _scan_for_errors(self, x: Exchange, data: bytes, t: int) -> None:
        for message in x.errors_in_stream(data):
            self._emit("stream.error", t, layer="dockerd", seq=x.seq, message=message)

    def _junk_request(self, error: str, t: int) -> None:
        """The client sent something that is not HTTP/1.1. The bytes went on to the daemon
        unchanged (the proxy forwards before it parses), so the daemon answers it (Go's
        net/http: 400 Bad Request, then close); the record notes the error and that answer."""
        self._emit("proxy.error", t, layer="proxy", error=f"malformed request: {error}")
        self._reading = None
        if self._inflight is not None or self._unsent:
            self.mode = "opaque"  # answers to earlier requests are due first: stop here
            return
        rest = self._resp.trailing_data[0]
        self._resp = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        junk = Exchange(self._seq + 1, "", "", "", "", None, {}, {}, t)
        junk.mirror = [(b"host", b"?"), (b"connection", b"close")]
        self._unsent.append(junk)
        self.mode = "junk"  # only the daemon's answer is left to read
        if rest:
            self._feed_resp(rest)
        self._pump_responses(t, eof=False)

    def _give_up(self, error: str, t: int) -> None:
        """Stop parsing this connection (its bytes keep flowing) and say so."""
        self._emit("proxy.error", t, layer="proxy", error=error)
        self.mode = "opaque"
