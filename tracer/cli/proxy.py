"""`dockertrace proxy`: run the recording proxy alone and print each exchange as it happens."""

from __future__ import annotations

import argparse
import gc
import queue
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, TextIO

from tracer.endpoint import current_endpoint
from tracer.events import Event
from tracer.proxy.listen import ProxyError, TlsConfig
from tracer.proxy.server import BATCH_MS_RANGE, DEFAULT_LISTEN, RECORDER_PRIORITIES, Proxy
from tracer.record.format import Recorder, make_header

_LONG_ID = re.compile(r"\b[0-9a-f]{64}\b")  # shown shortened, as docker ps does
FRAME_LINES_PER_SECOND = 5  # per connection; the rest is summed up at the end of the stream


class ExchangePrinter:
    """One readable line per exchange; streams summarised as they flow. Printing happens on
    its own thread, so a slow terminal never holds up the recorder."""

    def __init__(
        self, out: TextIO, as_json: bool = False, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.out = out
        self.clock = clock
        self.as_json = as_json
        self._queue: queue.SimpleQueue[Event | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="proxy-printer", daemon=True)
        self._frames: dict[int, list[int]] = {}  # conn -> [lines this second, second, held, bytes]
        self._thread.start()

    def __call__(self, event: Event) -> None:
        self._queue.put(event)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(5)

    def _run(self) -> None:
        while (event := self._queue.get()) is not None:
            line = event.to_json() if self.as_json else self.render(event)
            if line:
                self.out.write(line + "\n")
                self.out.flush()

    def render(self, e: Event) -> str:
        d: dict[str, Any] = dict(e.detail)
        who = f"{e.comm or '?'}[{e.pid}]" if e.pid else "tcp peer"
        conn = f"#{d.get('conn')}"
        if e.kind == "http.response":
            ms = (d["last_byte_ns"] - d.get("request_ns", d["first_byte_ns"])) / 1e6
            what = _LONG_ID.sub(lambda m: m[0][:12], f"{d['method']} {d['path']}".strip())
            what = what or "(unparsed request)"
            cut = "" if d.get("complete", True) else " (cut short)"
            stream = " stream" if d["streaming"] and d["status"] != 101 else ""
            return (
                f"{conn:>4} {who:<18} {what} → {d['status']} {d['reason']}{cut}"
                f"  {ms:.1f} ms{stream}, {d['body_size']} B"
            )
        if e.kind == "stream.frame":
            return self._frame(d, conn)
        if e.kind == "http.upgrade":
            kind = "TTY, raw bytes" if d["tty"] else "multiplexed stdout/stderr"
            return f"{conn:>4} {who:<18} ⇅ upgraded to {d['protocol']} ({kind})"
        if e.kind == "conn.close":
            held = self._frames.pop(d["conn"], None)
            more = f"; {held[2]} more frames, {held[3]} B not shown" if held and held[2] else ""
            sizes = f"in {d['bytes_in']} B, out {d['bytes_out']} B"
            return f"{conn:>4} closed: {d['reason']} ({sizes}){more}"
        if e.kind == "upstream.unreachable":
            return (
                f"{conn:>4} {who:<18} ! the daemon at {d['upstream']} cannot be reached "
                f"({d['error']}): closed the client's connection without an answer"
            )
        if e.kind in ("proxy.error", "stream.error"):
            text = d.get("error") or d.get("message")
            return f"{conn:>4} {who:<18} ! {e.kind}: {text}"
        if e.kind == "h2.stream":
            sizes = f"{d['bytes_in']} B in, {d['bytes_out']} B out"
            return f"{conn:>4} {who:<18} HTTP/2 passed through: {sizes}"
        return ""

    def _frame(self, d: dict[str, Any], conn: str) -> str:
        state = self._frames.setdefault(d["conn"], [0, 0, 0, 0])
        second = int(self.clock())
        if state[1] != second:
            state[0], state[1] = 0, second
        state[0] += 1
        if state[0] > FRAME_LINES_PER_SECOND:
            state[2] += 1
            state[3] += d["size"]
            return ""
        arrow = "→" if d["direction"] == "client->daemon" else "←"
        excerpt = d["excerpt"][:60]
        return f"{conn:>4}   {arrow} {d['stream']} {d['size']} B {excerpt!r}"


def _fan_out(*sinks: Callable[[Event], None]) -> Callable[[Event], None]:
    def sink(event: Event) -> None:
        for s in sinks:
            s(event)

    return sink


def run(args: argparse.Namespace) -> int:
    tls = None
    if args.tls_cert or args.tls_key or args.tls_ca:
        if not (args.tls_cert and args.tls_key and args.tls_ca):
            print(
                "dockertrace proxy: TLS needs all of --tls-cert, --tls-key and --tls-ca",
                file=sys.stderr,
            )
            return 2
        tls = TlsConfig(args.tls_cert, args.tls_key, args.tls_ca)
    upstream = args.upstream or current_endpoint().url
    printer = None if args.quiet else ExchangePrinter(sys.stdout, as_json=args.json)
    recorder = None
    sinks: list[Callable[[Event], None]] = [printer] if printer else []
    if args.record:
        recorder = Recorder(args.record, make_header("none", proxy_upstream=upstream))
        sinks.append(recorder)
    proxy = Proxy(
        listen=args.listen,
        upstream=upstream,
        sink=sinks[0] if len(sinks) == 1 else _fan_out(*sinks),
        tls=tls,
        recorder_priority=args.recorder_priority,
        batch_ms=args.batch_ms,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    # What start-up made lives as long as this process: frozen, it is left out of the
    # collector's full passes, which the recorder's allocations set off every few hundred
    # exchanges (a quarter of the recorder's instructions per /_ping: bench/proxy.md).
    gc.freeze()
    try:
        proxy.start()
    except ProxyError as e:
        print(f"dockertrace proxy: {e}", file=sys.stderr)
        return 1
    try:
        print(
            f"dockertrace proxy: listening on {proxy.address}, forwarding to {upstream}",
            file=sys.stderr,
        )
        print(f"  use it with: export DOCKER_HOST={proxy.address}", file=sys.stderr)
        while not stop.wait(0.5):
            pass
        print("dockertrace proxy: stopping", file=sys.stderr)
    finally:
        proxy.close()
        if printer:
            printer.close()
        if recorder:
            recorder.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0


def _batch_ms(text: str) -> float:
    low, high = BATCH_MS_RANGE
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of milliseconds: {text!r}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"between {low:g} and {high:g} ms, not {value:g}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("proxy", help="run the recording Docker API proxy alone")
    p.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        help=f"unix:///path or tcp://HOST:PORT (TLS only) (default {DEFAULT_LISTEN})",
    )
    p.add_argument("--upstream", help="the daemon (default: the current docker endpoint)")
    p.add_argument("--json", action="store_true", help="print every event as a JSON line")
    p.add_argument("--record", metavar="FILE", help="also write the events to a recording")
    p.add_argument("--quiet", action="store_true", help="print nothing per exchange")
    p.add_argument(
        "--recorder-priority",
        choices=RECORDER_PRIORITIES,
        default="idle",
        help="CPU priority of the recording thread (default idle: it only uses spare CPU)",
    )
    p.add_argument(
        "--batch-ms",
        type=_batch_ms,
        default=20.0,
        help="how long copies gather before the recorder takes them together (default 20; "
        "the app's live views use 5: fewer wake-ups, at the price of events up to this late)",
    )
    p.add_argument("--tls-cert", help="server certificate (PEM) for tcp:// listening")
    p.add_argument("--tls-key", help="its private key (PEM)")
    p.add_argument("--tls-ca", help="CA that client certificates must be signed by")
    p.set_defaults(func=run)


def main(argv: list[str] | None = None) -> int:
    """`python -m tracer.cli.proxy ...`: the same command without loading the whole app
    (the benchmarks use it to measure the proxy's own memory)."""
    parser = argparse.ArgumentParser(prog="dockertrace")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["proxy", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
