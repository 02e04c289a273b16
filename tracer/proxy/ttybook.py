"""Which containers and execs have a TTY, learned from API traffic on any connection.

Without a TTY the daemon multiplexes stdout and stderr with 8-byte frame headers; with one the
bytes are raw. The attach and logs requests do not say which, but the create, exec and inspect
exchanges before them do, often on another connection of the same client."""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any

_CONTAINER = re.compile(r"^/containers/([^/]+)/(attach|logs)$")
_EXEC_START = re.compile(r"^/exec/([^/]+)/start$")
_EXEC_CREATE = re.compile(r"^/containers/([^/]+)/exec$")
_INSPECT = re.compile(r"^/containers/([^/]+)/json$")
_EXEC_INSPECT = re.compile(r"^/exec/([^/]+)/json$")


class TtyBook:
    """A bounded map from container id/name (and "exec:" + exec id) to whether it has a TTY."""

    def __init__(self, limit: int = 4096) -> None:
        self._tty: OrderedDict[str, bool] = OrderedDict()
        self._limit = limit

    def learn(self, key: str | None, tty: bool) -> None:
        if not key:
            return
        self._tty[key] = tty
        self._tty.move_to_end(key)
        while len(self._tty) > self._limit:
            self._tty.popitem(last=False)

    def lookup(self, key: str) -> bool | None:
        if key in self._tty:
            return self._tty[key]
        if len(key) >= 4 and not key.startswith("exec:"):  # a short container id
            for known, tty in reversed(self._tty.items()):
                if known.startswith(key):
                    return tty
        return None

    def learn_exchange(
        self, method: str, endpoint: str, query: dict[str, str], request: Any, response: Any
    ) -> None:
        """Learn from one finished exchange (parsed request and response bodies)."""
        req = request if isinstance(request, dict) else {}
        resp = response if isinstance(response, dict) else {}
        if method == "POST" and endpoint == "/containers/create" and "Id" in resp:
            tty = bool(req.get("Tty"))
            self.learn(resp["Id"], tty)
            self.learn(query.get("name"), tty)
        elif method == "POST" and _EXEC_CREATE.match(endpoint) and "Id" in resp:
            self.learn("exec:" + str(resp["Id"]), bool(req.get("Tty")))
        elif method == "GET" and (m := _INSPECT.match(endpoint)) and "Id" in resp:
            tty = bool((resp.get("Config") or {}).get("Tty"))
            self.learn(resp["Id"], tty)
            self.learn(str(resp.get("Name", "")).lstrip("/"), tty)
            self.learn(m[1], tty)
        elif method == "GET" and (m := _EXEC_INSPECT.match(endpoint)):
            self.learn("exec:" + m[1], bool((resp.get("ProcessConfig") or {}).get("tty")))

    def for_stream(self, endpoint: str, request: Any) -> bool | None:
        """Whether the stream answering this request is raw (TTY) or multiplexed; None: unknown."""
        if m := _EXEC_START.match(endpoint):
            if isinstance(request, dict) and "Tty" in request:
                return bool(request["Tty"])
            return self.lookup("exec:" + m[1])
        if m := _CONTAINER.match(endpoint):
            return self.lookup(m[1])
        return None


def is_hijack_endpoint(endpoint: str) -> bool:
    return bool(_EXEC_START.match(endpoint)) or endpoint.endswith("/attach")
