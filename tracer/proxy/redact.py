"""Secrets never reach an event: auth headers, secret-looking Env values and credential fields."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

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


def headers(pairs: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """h11 header pairs as a dict (repeated names joined by ", "), secrets replaced."""
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


def text(s: str) -> str:
    """Redact JSON-looking text that could not be parsed (a bounded excerpt of a large body)."""
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
