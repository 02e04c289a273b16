"""The BPF program as built (no root): placeholders filled, struct mirrored, records decoded."""

from __future__ import annotations

import ctypes
import re

from tracer.cli import main
from tracer.probes.bcc.decode import (
    EV_CONNECT,
    EV_EXEC,
    EV_EXIT,
    EV_FORK,
    EV_UNSHARE,
    EXIT_SIGNALED,
    Decoder,
    event_struct,
    packed_argv,
)
from tracer.probes.bcc.probe import (
    ProgramShape,
    attachments,
    build_program,
    generic_reads,
    program_source,
)
from tracer.probes.bcc.tp_format import parse_format, render_struct
from tracer.probes.lineage import Lineage


def test_every_placeholder_is_filled() -> None:
    assert re.findall(r"__[A-Z_]+__", program_source())
    text = build_program()
    assert not re.findall(r"__[A-Z_]+__", text)
    assert "#define ARGC_MAX 20" in text
    assert "return dt_tracked.lookup(&tgid) != 0;" in text
    assert "return 1;" in build_program(ProgramShape(track_all=True))


def test_generic_reads_only_where_addresses_cannot_overlap() -> None:
    assert generic_reads("x86_64") and not generic_reads("s390x")
    helper = "bpf_probe_read_str" if generic_reads() else "bpf_probe_read_user_str"
    assert f"#define read_user_str {helper}\n" in build_program()
    assert "bpf_probe_read_user(" not in program_source()  # every read goes through the macros


def test_every_struct_field_is_commented() -> None:
    body = program_source().split("struct event {", 1)[1].split("};", 1)[0]
    fields = [ln for ln in body.splitlines() if re.match(r"\s+(u\d+|s\d+|char) ", ln)]
    assert len(fields) == 16 and all("//" in ln for ln in fields)


def test_dump_bpf_needs_no_root(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["probe", "--dump-bpf"]) == 0
    out = capsys.readouterr().out
    assert "int on_enter_unshare(struct syscall_enter *ctx)" in out and "__ARGC_MAX__" not in out


def test_attach_lines_name_every_function() -> None:
    pairs = attachments(program_source())
    assert ("syscalls:sys_enter_execveat", "on_enter_exec") in pairs
    assert sum(fn == "on_sys_exit" for _, fn in pairs) == 7
    functions = set(re.findall(r"^int (\w+)\(", program_source(), re.M))
    assert functions == {fn for _, fn in pairs}


def test_record_structs_from_format_files() -> None:
    fmt = (
        "name: sched_process_fork\nID: 366\nformat:\n"
        "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
        "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n"
        "\tfield:__data_loc char[] parent_comm;\toffset:8;\tsize:4;\tsigned:0;\n"
        "\tfield:pid_t parent_pid;\toffset:12;\tsize:4;\tsigned:1;\n"
        "\tfield:char comm[16];\toffset:16;\tsize:16;\tsigned:0;\n"
        "\tfield:unsigned long sa_handler;\toffset:40;\tsize:8;\tsigned:0;\n"
    )
    fields = parse_format(fmt)
    assert [f.name for f in fields] == ["parent_comm", "parent_pid", "comm", "sa_handler"]
    text = render_struct("tp_x", "fmt", fields)
    assert "u32 parent_comm; // offset 8" in text and "s32 parent_pid;" in text
    assert "char comm[16];" in text and "char pad_32[8];" in text and "u64 sa_handler;" in text


def test_ctypes_mirror_has_the_c_layout() -> None:
    raw = mirror()
    assert raw.ts_ns.offset == 0 and raw.ret.offset == 24  # type: ignore[attr-defined]
    assert raw.comm.offset == 56 and raw.s0.offset == 88  # type: ignore[attr-defined]


def mirror() -> type[ctypes.Structure]:
    shape = ProgramShape()
    return event_struct(shape.str_len, shape.argc_max, shape.arg_len)


def record(kind: int, pid: int = 10, comm: bytes = b"runc:[1:CHILD]", **fields: object):  # type: ignore[no-untyped-def]
    ev = mirror()()
    ev.kind, ev.pid, ev.tid, ev.ts_ns, ev.comm = kind, pid, pid, 123, comm
    for name, value in fields.items():
        setattr(ev, name, value)
    return ev


def decoder() -> Decoder:
    lineage = Lineage(lookup=lambda pid: None)
    lineage.seed(10, 1, "runc", ["runc", "create"])
    return Decoder(lineage)


def test_unshare_record() -> None:
    e = decoder().decode(record(EV_UNSHARE, a0=0x6C020000, ret=0))
    assert e is not None and e.kind == "sys.unshare" and e.source == "bpf" and e.layer == "runc"
    assert e.detail["flag_names"][0] == "CLONE_NEWNS" and e.detail["ret"] == 0


def test_exec_record_with_argv() -> None:
    ev = record(EV_EXEC, comm=b"echo", s0=b"/bin/echo", comm2=b"runc:[2:INIT]", argc=2)
    e = decoder().decode(ev, b"echo\0hi\0")
    assert e is not None and e.detail["argv"] == ["echo", "hi"] and e.layer == "container"


def test_argv_slots_are_unpacked_entry_by_entry() -> None:
    """The program writes entry i at i * ARG_LEN; an entry cut at ARG_LEN - 1 bytes stays cut."""
    slots = b"docker".ljust(8, b"\0") + b"run\0junk".ljust(8, b"\0") + b"1234567\0"
    assert packed_argv(slots, 8) == b"docker\0run\0" + b"1234567"
    assert packed_argv(b"", 8) == b""


def test_fork_then_exit_by_signal() -> None:
    d = decoder()
    fork = d.decode(record(EV_FORK, a0=11, a1=0x8011, comm2=b"runc:[1:CHILD]"))
    assert fork is not None and fork.detail == {"child_pid": 11, "child_comm": "runc:[1:CHILD]"}
    assert d.lineage.get(11).ppid == 1  # CLONE_PARENT: a sibling of 10
    exit_ = d.decode(record(EV_EXIT, pid=11, how=EXIT_SIGNALED, a1=9))
    assert exit_ is not None
    assert exit_.detail == {"exit_code": None, "signal": 9, "signal_name": "SIGKILL"}


def test_connect_to_an_abstract_socket() -> None:
    path = b"\0/containerd-shim/x.sock"
    ev = record(EV_CONNECT, a0=1, a1=2 + len(path))
    ctypes.memmove(ctypes.addressof(ev) + type(ev).s0.offset, path, len(path))  # with its NUL
    e = decoder().decode(ev)
    assert e is not None and e.detail["path"] == "@/containerd-shim/x.sock"
    assert e.detail["family"] == "AF_UNIX"
    assert ctypes.sizeof(ev) > 4096
