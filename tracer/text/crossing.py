"""What kind of thing crosses a hop of the chain: the word the chain view puts on its arrow."""

from __future__ import annotations

from tracer.chain.model import Hop

CROSSINGS: dict[str, str] = {
    "http.request": "HTTP request",
    "http.response": "HTTP response",
    "conn.accept": "connection",
    "sys.connect": "connect()",
    "grpc.call": "gRPC call",
    "containerd.event": "containerd event",
    "proc.fork": "fork",
    "proc.exec": "exec",
    "oci.spec": "config",
    "cgroup.mkdir": "cgroup",
    "cgroup.attach": "cgroup",
    "stream.frame": "bytes",
    "sys.write": "bytes",
    "sys.read": "bytes",
}


def crossed(hop: Hop) -> str:
    """`HTTP request`, `containerd event`, `exec + config`, `syscall`, `bytes`…"""
    ev = hop.event
    if ev.kind == "proc.exec" and "--bundle" in [str(a) for a in ev.detail.get("argv") or []]:
        return "exec + config"  # runc create --bundle DIR: the OCI spec is DIR/config.json
    if ev.kind == "proc.exec" and hop.src == hop.dst == "kernel":
        return "exec"
    return CROSSINGS.get(ev.kind) or ("syscall" if ev.kind.startswith("sys.") else ev.kind)
