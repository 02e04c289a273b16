"""Security checks: the socket's place and permissions, no socket hijacked, no plain TCP, no
foreign client certificates, secrets never written anywhere, and replay never runs anything."""

from __future__ import annotations

import base64
import grp
import json
import os
import socket
import ssl
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import need
from tracer.events import Event
from tracer.proxy.server import Proxy, ProxyError, TlsConfig

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "env": "hunter2-env-Q7w",
    "token": "tok-env-8Rz1",
    "bearer": "bearer-Kx93m",
    "registry": "regpass-P4ss",
}


def dockertrace(*args: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tracer", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,  # type: ignore[call-overload]
    )


def wait_socket(path: str, proc: subprocess.Popen[str] | None = None, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(path)
                return
            except OSError:
                pass
        assert proc is None or proc.poll() is None, proc.communicate() if proc else ""
        time.sleep(0.05)
    raise AssertionError(f"nothing listening on {path}")


def test_socket_directory_mode_owner_and_group(docker_daemon: str) -> None:
    path = f"/run/dockertrace/security-{os.getpid()}.sock"
    with Proxy(f"unix://{path}", f"unix://{docker_daemon}"):
        d, s, docker = os.stat("/run/dockertrace"), os.stat(path), os.stat(docker_daemon)
        assert d.st_uid == 0 and not d.st_mode & (stat.S_IWGRP | stat.S_IWOTH), oct(d.st_mode)
        assert stat.S_ISSOCK(s.st_mode)
        assert stat.S_IMODE(s.st_mode) == 0o660 == stat.S_IMODE(docker.st_mode)
        assert s.st_uid == 0
        assert s.st_gid == grp.getgrnam("docker").gr_gid == docker.st_gid
    assert not os.path.exists(path)


def test_a_second_instance_refuses_to_replace_a_live_socket(
    docker_daemon: str, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    run.mkdir(mode=0o755)
    path = str(run / "docker.sock")
    listen = ["proxy", "--quiet", "--listen", f"unix://{path}", "--upstream", docker_daemon]
    first = dockertrace(*listen[:-1], f"unix://{docker_daemon}")
    try:
        wait_socket(path, first)
        inode = os.stat(path).st_ino
        second = dockertrace(*listen[:-1], f"unix://{docker_daemon}")
        _, err = second.communicate(timeout=30)
        assert second.returncode == 1
        assert "already has a live listener" in err
        assert os.stat(path).st_ino == inode  # the first one's socket, untouched
        with httpx.Client(transport=httpx.HTTPTransport(uds=path), timeout=5) as c:
            assert c.get("http://docker/_ping").text == "OK"
    finally:
        first.terminate()
        first.communicate(timeout=15)
    assert not os.path.exists(path)


def test_tcp_without_tls_is_refused(docker_daemon: str) -> None:
    with pytest.raises(ProxyError, match="without TLS"):
        Proxy("tcp://127.0.0.1:0", f"unix://{docker_daemon}").start()
    proc = dockertrace("proxy", "--listen", "tcp://127.0.0.1:23751")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "refusing to listen" in err
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", 23751)) != 0  # nothing was left listening


def make_pki(d: Path, name: str) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate (openssl CLI)."""
    d.mkdir()

    def sh(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    sh("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
       "-days", "1", "-subj", f"/CN={name}-ca")  # fmt: skip
    uses = (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth"))
    for who, ext in uses:
        sh("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{who}.key", "-out", f"{who}.csr",
           "-subj", f"/CN={name}-{who}")  # fmt: skip
        (d / f"{who}.ext").write_text(ext + "\n")
        sh("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
           "-CAcreateserial", "-out", f"{who}.pem", "-days", "1",
           "-extfile", f"{who}.ext")  # fmt: skip
    return d


def test_a_client_certificate_from_another_ca_is_refused(
    docker_daemon: str, tmp_path: Path
) -> None:
    need(subprocess.run(["which", "openssl"], capture_output=True).returncode == 0, "no openssl")
    ours, theirs = make_pki(tmp_path / "ours", "ours"), make_pki(tmp_path / "theirs", "theirs")
    tls = TlsConfig(str(ours / "server.pem"), str(ours / "server.key"), str(ours / "ca.pem"))
    events: list[Event] = []
    with Proxy("tcp://127.0.0.1:0", f"unix://{docker_daemon}", events.append, tls=tls) as p:
        url = p.address.replace("tcp://", "https://")

        def client(pki: Path) -> httpx.Client:
            ctx = ssl.create_default_context(cafile=str(ours / "ca.pem"))
            ctx.load_cert_chain(str(pki / "client.pem"), str(pki / "client.key"))
            return httpx.Client(verify=ctx, timeout=10)

        with client(theirs) as c, pytest.raises(httpx.TransportError):
            c.get(f"{url}/_ping")
        with client(ours) as c:
            assert c.get(f"{url}/_ping").text == "OK"
        deadline = time.monotonic() + 5
        while sum(e.kind == "conn.close" for e in events) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    reasons = [str(e.detail["reason"]) for e in events if e.kind == "conn.close"]
    assert any("TLS handshake failed" in r and "certificate" in r for r in reasons), reasons
    pings = [e for e in events if e.kind == "http.request"]
    assert len(pings) == 1  # only the client with our CA's certificate got a request through


def _forms(secret: str) -> list[str]:
    """A secret as it might appear: itself, and base64 of the JSON or user:pass carrying it."""
    return [
        secret,
        base64.b64encode(f"user:{secret}".encode()).decode(),
        base64.b64encode(json.dumps({"password": secret}).encode()).decode()[:24],
    ]


def test_secrets_are_redacted_in_output_recordings_and_exports(
    docker_daemon: str, demo_image: str, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    run.mkdir(mode=0o755)
    path = str(run / "docker.sock")
    rec = tmp_path / "rec.jsonl"
    proxy = dockertrace("proxy", "--json", "--record", str(rec), "--listen", f"unix://{path}",
                        "--upstream", f"unix://{docker_daemon}")  # fmt: skip
    text_proxy = dockertrace("proxy", "--listen", f"unix://{run}/text.sock",
                             "--upstream", f"unix://{docker_daemon}")  # fmt: skip
    config = tmp_path / "docker-config"
    config.mkdir()
    auth = base64.b64encode(f"user:{SECRETS['registry']}".encode()).decode()
    (config / "config.json").write_text(json.dumps({"auths": {"127.0.0.1:5999": {"auth": auth}}}))
    label = f"dockertrace.test=security-{os.getpid()}"
    try:
        wait_socket(path, proxy)
        wait_socket(f"{run}/text.sock", text_proxy)
        for sock in (path, f"{run}/text.sock"):
            env = dict(os.environ, DOCKER_HOST=f"unix://{sock}", DOCKER_CONFIG=str(config))
            cid = subprocess.run(
                ["docker", "create", "--label", label, "-e", f"DB_PASSWORD={SECRETS['env']}",
                 "-e", f"API_TOKEN={SECRETS['token']}", demo_image, "true"],
                env=env, capture_output=True, text=True, check=True,
            ).stdout.strip()  # fmt: skip
            subprocess.run(["docker", "inspect", cid], env=env, capture_output=True, check=True)
            subprocess.run(["docker", "rm", cid], env=env, capture_output=True, check=True)
            pull = subprocess.run(["docker", "pull", "127.0.0.1:5999/nothing:x"], env=env,
                                  capture_output=True, timeout=60)  # fmt: skip
            assert pull.returncode != 0
            subprocess.run(["curl", "-s", "--unix-socket", sock, "-H",
                            f"Authorization: Bearer {SECRETS['bearer']}", "http://d/_ping"],
                           check=True, capture_output=True)  # fmt: skip
        time.sleep(1)
    finally:
        for p in (proxy, text_proxy):
            p.terminate()
        outputs = [p.communicate(timeout=20) for p in (proxy, text_proxy)]
    replay_json = subprocess.run([sys.executable, "-m", "tracer", "replay", "--json", "--all",
                                  str(rec)], cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    replay_text = subprocess.run([sys.executable, "-m", "tracer", "replay", "--all", str(rec)],
                                 cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    places = {
        "proxy --json output": outputs[0][0],
        "proxy text output": outputs[1][0],
        "recording": rec.read_text(),
        "replay --json export": replay_json.stdout,
        "replay text": replay_text.stdout,
    }
    recorded = rec.read_text()
    # the secrets did pass through (so the check means something), and were replaced
    assert "DB_PASSWORD=<redacted>" in recorded and "API_TOKEN=<redacted>" in recorded
    assert '"X-Registry-Auth":"<redacted>"' in recorded
    assert '"Authorization":"<redacted>"' in recorded
    leaks = [
        (place, form)
        for place, text in places.items()
        for secret in SECRETS.values()
        for form in _forms(secret)
        if form in text
    ]
    assert not leaks, leaks
    left = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={label}"],
                          capture_output=True, text=True).stdout.split()  # fmt: skip
    assert not left


HOSTILE = [
    # a header naming a "command" to run, and events whose fields hold shell commands
    {"format": "dockertrace-recording", "version": 1, "backend": "bcc",
     "command": ["sh", "-c", "touch {marker}"], "versions": {"docker": "$(touch {marker})"}},
    {"time_ns": 1, "source": "proc", "layer": "cli", "kind": "proc.exec", "pid": 5,
     "comm": "docker\x1b]0;pwned\x07", "detail": {"argv": ["sh", "-c", "touch {marker}"],
                                                    "filename": "/bin/sh"}},
    {"time_ns": 2, "source": "proxy", "layer": "cli", "kind": "http.request", "pid": 5,
     "comm": "docker", "detail": {
         "conn": 1, "seq": 1, "method": "POST", "path": "/v1.41/containers/create",
         "endpoint": "/containers/create",
         "body_json": {"Image": "x", "Cmd": ["sh", "-c", "touch {marker}"]},
         "body_excerpt": "`touch {marker}`"}},
    {"time_ns": 3, "source": "bpf", "layer": "container", "kind": "proc.exec", "pid": 9,
     "comm": "sh", "detail": {"argv": ["/bin/sh", "-c", "touch {marker}"], "filename": "/bin/sh"}},
]  # fmt: skip
AUDIT = textwrap.dedent(
    """
    import sys
    SPAWN = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
             "os.fork", "os.forkpty", "pty.spawn")
    seen = []
    def hook(event, args):
        if event.startswith(SPAWN):
            seen.append(event)
    sys.addaudithook(hook)
    from tracer.cli import main
    try:
        main(sys.argv[1:])
    except SystemExit:
        pass
    print("SPAWNED:" + ",".join(seen), file=sys.stderr)
    """
)


def test_a_replayed_untrusted_recording_runs_nothing(tmp_path: Path) -> None:
    """Python's audit hooks see every way Python can start a process; replay starts none,
    whatever the file holds, and the commands in it never run."""
    marker = tmp_path / "pwned"
    rec = tmp_path / "hostile.jsonl"
    lines = [json.dumps(obj).replace("{marker}", str(marker)) for obj in HOSTILE]
    rec.write_text("\n".join(lines) + "\n")
    for args in (["replay", str(rec)], ["replay", "--json", "--all", str(rec)]):
        r = subprocess.run([sys.executable, "-c", AUDIT, *args], cwd=ROOT, capture_output=True,
                           text=True, timeout=60)  # fmt: skip
        assert "SPAWNED:\n" in r.stderr, r.stderr  # the audit hook saw no process started
        assert "Traceback" not in r.stderr, r.stderr
        assert not marker.exists()


def test_a_replayed_recording_cannot_send_terminal_escapes(tmp_path: Path) -> None:
    rec = tmp_path / "hostile.jsonl"
    rec.write_text("\n".join(json.dumps(obj) for obj in HOSTILE) + "\n")
    r = subprocess.run([sys.executable, "-m", "tracer", "replay", str(rec)], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout


def test_secrets_on_a_traced_command_line_are_redacted_in_the_recording(
    demo_image: str, tmp_path: Path
) -> None:
    """The probes see the docker CLI's argv (-e DB_PASSWORD=…), the proxy its peer's argv."""
    rec = tmp_path / "rec.jsonl"
    label = f"dockertrace.test=security-argv-{os.getpid()}"
    r = subprocess.run(
        [sys.executable, "-m", "tracer", "record", "-o", str(rec), "--", "docker", "run", "--rm",
         "--label", label, "-e", f"DB_PASSWORD={SECRETS['env']}", demo_image, "true"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    text = rec.read_text()
    assert "DB_PASSWORD=<redacted>" in text
    assert SECRETS["env"] not in text


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["docker", "run", "-e", "DB_PASSWORD=x1", "--env=API_TOKEN=x2", "-e", "A=1", "img"],
         ["docker", "run", "-e", "DB_PASSWORD=<redacted>", "--env=API_TOKEN=<redacted>", "-e",
          "A=1", "img"]),
        (["curl", "-H", "Authorization: Bearer x3", "-H", "Accept: */*", "http://d/_ping"],
         ["curl", "-H", "Authorization: <redacted>", "-H", "Accept: */*", "http://d/_ping"]),
        (["docker", "login", "-u", "bob", "-p", "x4"],
         ["docker", "login", "-u", "bob", "-p", "<redacted>"]),
        (["docker", "run", "-p", "80:80", "-u", "1000", "img"],
         ["docker", "run", "-p", "80:80", "-u", "1000", "img"]),
    ],
)  # fmt: skip
def test_command_lines_lose_their_secrets_and_keep_the_rest(
    argv: list[str], expected: list[str]
) -> None:
    from tracer.redact import argv as redact_argv

    assert redact_argv(argv) == expected
