"""The OCI spec runc gets: which argv names a bundle, a real config.json, bad ones, a gone one."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tracer.events import Event
from tracer.probes.oci_spec import SpecReader, bundle_of, is_runc_create, read_spec, spec_detail

DATA = Path(__file__).parent / "data" / "oci_config.json"  # docker run -d busybox sleep 30, here
CID = "e15911a101ca54338c355bd7c32273aa935680c4c487517bf54a98258d0041af"


def runc_exec(bundle: str, pid: int = 77) -> Event:
    argv = ["runc", "--root", "/var/run/docker/runtime-runc/moby", "--log", f"{bundle}/log.json",
            "--log-format", "json", "create", "--bundle", bundle, "--pid-file",
            f"{bundle}/init.pid", CID]  # fmt: skip
    return Event(5_000, "bpf", "runc", "proc.exec", pid=pid, comm="runc",
                 detail={"filename": "/usr/sbin/runc", "argv": argv})  # fmt: skip


def test_bundle_in_every_spelling() -> None:
    assert bundle_of(["runc", "create", "--bundle", "/b", "id"]) == "/b"
    assert bundle_of(["runc", "create", "--bundle=/b", "id"]) == "/b"
    assert bundle_of(["runc", "run", "-b", "/b", "id"]) == "/b"
    assert bundle_of(["runc", "start", "id"]) is None
    assert bundle_of(["runc", "create", "--bundle"]) is None  # cut argv: no value
    assert is_runc_create(runc_exec("/b"))
    shim_exec = {"filename": "/usr/bin/containerd-shim-runc-v2", "argv": ["shim", "--bundle", "/b"]}
    shim = Event(1, "bpf", "shim", "proc.exec", detail=shim_exec)
    assert not is_runc_create(shim)


def test_a_real_spec() -> None:
    d = spec_detail(DATA.read_bytes())
    assert d["namespaces"] == ["mount", "network", "uts", "pid", "ipc"]
    assert d["args"] == ["sleep", "30"] and d["cgroups_path"] == f"/docker/{CID}"
    assert d["root"].endswith("/merged") and d["mounts"] == 10 and d["capabilities"] == 14
    assert d["hostname"] == CID[:12] and d["joined_namespaces"] == {} and "error" not in d


def test_bad_specs_say_why() -> None:
    assert spec_detail(b'{"ociVersion": "1.0.2", "process": ')["error"].startswith(
        "config.json is not JSON: Expecting value at line 1"
    )
    assert spec_detail(b"[1, 2]") == {"error": "config.json is JSON but not an object (list)"}
    assert "not JSON" in spec_detail(b"\xff\xfe")["error"]
    odd = spec_detail(json.dumps({"linux": {"namespaces": [{"type": "pid"}, 3]}, "mounts": {}}))
    assert odd["namespaces"] == ["pid", "?"] and odd["mounts"] == 0 and odd["args"] == []


def test_a_bundle_already_gone(tmp_path: Path) -> None:
    d = read_spec(str(tmp_path / "gone"))
    assert d == {
        "error": f"gone: {tmp_path}/gone/config.json no longer exists (the bundle was removed)"
    }


def test_the_reader_works_off_the_caller_s_thread(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_bytes(DATA.read_bytes())
    got: list[Event] = []
    reader = SpecReader(got.append)
    reader.see(Event(1, "bpf", "runc", "proc.fork"))  # not a runc create: ignored
    reader.see(runc_exec(str(tmp_path)))
    reader.see(runc_exec(str(tmp_path / "gone"), pid=78))
    deadline = time.monotonic() + 5
    while len(got) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    reader.close()
    ok, gone = got
    assert ok.kind == "oci.spec" and ok.source == "file" and ok.layer == "runc" and ok.pid == 77
    assert ok.time_ns == 5_000 and ok.detail["bundle"] == str(tmp_path)
    assert ok.detail["container_id"] == CID and ok.detail["args"] == ["sleep", "30"]
    assert gone.pid == 78 and gone.detail["error"].startswith("gone:")
    assert Event.from_json(ok.to_json()) == ok
