"""Secrets never reach an event: auth headers, secret-looking Env values and credential fields."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from tracer.events import Event

REDACTED = "<redacted>"

# Headers that carry credentials (base64 JSON auth configs, bearer tokens).
SECRET_HEADERS = frozenset(
    {"x-registry-auth", "x-registry-config", "authorization", "proxy-authorization", "cookie"}
)
# An environment variable (or build arg) whose name looks like it holds a secret.
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|KEY|CREDENTIAL", re.IGNORECASE)
# JSON object fields that hold credentials in auth configs (/auth, X-Registry-Auth payloads).
SECRET_FIELDS = frozenset({"password", "auth", "identitytoken", "registrytoken", "secret"})
# "NAME=value" inside JSON text that could not be parsed whole (too large or cut off).
# (A value cut off by the excerpt's end, with no closing quote, is matched too.)
_ENV_IN_TEXT = re.compile(r'"([A-Za-z_][A-Za-z0-9_.-]*)=((?:[^"\\]|\\.)*)("|\\?$)')
_FIELD_IN_TEXT = re.compile(
    r'"(password|auth|identitytoken|registrytoken|secret)"\s*:\s*"(?:[^"\\]|\\.)*("|\\?$)',
    re.IGNORECASE,
)


SECRET_HEADER_BYTES = frozenset(n.encode() for n in SECRET_HEADERS)


def headers(pairs: Iterable[tuple[bytes, bytes]], lower: Iterable[bytes] = ()) -> dict[str, str]:
    """h11 header pairs as a dict (repeated names joined by ", "), secrets replaced. `lower`,
    when given, is the set of lower-case names the caller already has: if none is secret and
    none repeats (the usual case), the pairs are only decoded."""
    if lower:
        pairs = list(pairs)
        names = set(lower)
        if len(names) == len(pairs) and names.isdisjoint(SECRET_HEADER_BYTES):
            return {n.decode("latin-1"): v.decode("latin-1") for n, v in pairs}
    out: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        name = raw_name.decode("latin-1")
        value = raw_value.decode("latin-1")
        if name.lower() in SECRET_HEADERS:
            value = REDACTED
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def env_entry(entry: str) -> str:
    name, sep, _ = entry.partition("=")
    return f"{name}={REDACTED}" if sep and SECRET_NAME.search(name) else entry


def json_value(value: Any, key: str = "") -> Any:
    """A parsed JSON body with secrets replaced: Env/BuildArgs entries, credential fields."""
    if isinstance(value, dict):
        return {k: _field(k, v) for k, v in value.items()}
    if isinstance(value, list):
        if key.lower() == "env":
            return [env_entry(v) if isinstance(v, str) else json_value(v) for v in value]
        return [json_value(v) for v in value]
    return value


def _field(key: str, value: Any) -> Any:
    if key.lower() in SECRET_FIELDS and isinstance(value, str) and value:
        return REDACTED
    if key.lower() in ("buildargs", "args") and isinstance(value, dict):
        return {k: REDACTED if SECRET_NAME.search(k) else v for k, v in value.items()}
    return json_value(value, key)


# Command-line options whose next argument is a secret (-p only for `login`: elsewhere it
# publishes a port).
_SECRET_OPTIONS = frozenset({"--password", "--token"})
_HEADER_ARG = re.compile(r"^\s*([A-Za-z-]+)\s*:")


def argv(args: Iterable[str]) -> list[str]:
    """A command line with secrets replaced: secret-looking NAME=value (-e, --build-arg,
    --env=…), auth headers given as arguments (curl -H), values of password options."""
    args = list(args)
    secret_options = _SECRET_OPTIONS | ({"-p"} if "login" in args else set())
    out: list[str] = []
    hide_next = False
    for arg in args:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        option, eq, value = arg.partition("=")
        m = _HEADER_ARG.match(arg)
        if m and m[1].lower() in SECRET_HEADERS:
            out.append(f"{m[1]}: {REDACTED}")
        elif arg in secret_options:
            out.append(arg)
            hide_next = True
        elif eq and option in secret_options:
            out.append(f"{option}={REDACTED}")
        elif eq and option.startswith("-") and "=" in value:
            out.append(f"{option}={env_entry(value)}")  # --env=NAME=value
        else:
            out.append(env_entry(arg))
    return out


def text(s: str) -> str:
    """Redact JSON-looking text that could not be parsed (a bounded excerpt of a large body)."""
    if '"' not in s:  # both patterns start at a quote: nothing here can match
        return s
    s = _ENV_IN_TEXT.sub(
        lambda m: f'"{m[1]}={REDACTED}{m[3]}' if SECRET_NAME.search(m[1]) else m[0], s
    )
    return _FIELD_IN_TEXT.sub(lambda m: f'"{m[1]}":"{REDACTED}{m[2]}', s)


def query(params: dict[str, str]) -> dict[str, str]:
    """Query parameters: build args (`buildargs` is JSON) may carry secrets."""
    out = dict(params)
    if "buildargs" in out:
        out["buildargs"] = text(_buildargs_text(out["buildargs"]))
    return out


def _buildargs_text(raw: str) -> str:
    # {"NAME":"value"} → rewrite as "NAME=value" pairs would lose the shape; redact by key.
    return re.sub(
        r'"([^"]+)"\s*:\s*"((?:[^"\\]|\\.)*)"',
        lambda m: f'"{m[1]}":"{REDACTED}"' if SECRET_NAME.search(m[1]) else m[0],
        raw,
    )


def event_argv(event: Event) -> Event:
    """The event with secrets removed from the command lines it carries (a probe's exec argv,
    a process's cmdline); the same event when it carries none."""
    d = event.detail
    keys = [k for k in ("argv", "cmdline") if isinstance(d.get(k), list)]
    if not keys:
        return event
    return replace(event, detail={**d, **{k: argv(map(str, d[k])) for k in keys}})


def served(event: Event) -> Event:
    """The event as it may leave this machine (the classroom page): every redaction above
    applied again, whatever made it (an old recording, a hand-written one, a new source):
    command lines, auth headers, credential fields and secret-looking Env entries of bodies."""
    d = dict(event_argv(event).detail)
    if isinstance(d.get("peer_argv"), list):
        d["peer_argv"] = argv(map(str, d["peer_argv"]))
    if isinstance(d.get("headers"), dict):
        d["headers"] = {
            k: REDACTED if str(k).lower() in SECRET_HEADERS else v for k, v in d["headers"].items()
        }
    if "body_json" in d:
        d["body_json"] = json_value(d["body_json"])
    if isinstance(d.get("body_excerpt"), str):
        d["body_excerpt"] = text(d["body_excerpt"])
    if isinstance(d.get("query"), dict):
        d["query"] = query({str(k): str(v) for k, v in d["query"].items()})
    return replace(event, detail=d)
