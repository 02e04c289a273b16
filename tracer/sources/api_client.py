"""`docker run` made by hand with httpx, as the article does with curl."""

from __future__ import annotations

from dataclasses import dataclass

from tracer.endpoint import daemon_client

API = "/v1.41"


@dataclass(frozen=True)
class ApiRun:
    exit_code: int
    stdout: bytes
    stderr: bytes
    container_id: str


def demux(raw: bytes) -> tuple[bytes, bytes]:
    """Split a multiplexed (non-TTY) log stream into stdout and stderr."""
    out, err = bytearray(), bytearray()
    i = 0
    while i + 8 <= len(raw):
        stream, size = raw[i], int.from_bytes(raw[i + 4 : i + 8], "big")
        chunk = raw[i + 8 : i + 8 + size]
        (err if stream == 2 else out).extend(chunk)
        i += 8 + size
    return bytes(out), bytes(err)


def run_container(
    socket_path: str, image: str, command: list[str], labels: dict[str, str] | None = None
) -> ApiRun:
    """Create, start, wait for, read the logs of, and remove a container through the API."""
    with daemon_client(f"unix://{socket_path}", timeout=None) as c:
        r = c.post(
            f"{API}/containers/create",
            json={"Image": image, "Cmd": command, "Labels": labels or {}},
        )
        if r.status_code != 201:
            msg = r.json().get("message", r.text) if r.content else r.reason_phrase
            raise RuntimeError(f"Error response from daemon: {msg} (HTTP {r.status_code})")
        cid = r.json()["Id"]
        try:
            r = c.post(f"{API}/containers/{cid}/start")
            if r.status_code not in (204, 304):
                raise RuntimeError(f"start failed: HTTP {r.status_code} {r.text.strip()}")
            code = int(c.post(f"{API}/containers/{cid}/wait").json().get("StatusCode", -1))
            logs = c.get(f"{API}/containers/{cid}/logs", params={"stdout": 1, "stderr": 1})
            out, err = demux(logs.content)
        finally:
            c.delete(f"{API}/containers/{cid}", params={"force": 1})
    return ApiRun(code, out, err, cid)
