"""C structs for tracepoint records, generated from their tracefs `format` files.

bcc's TRACEPOINT_PROBE does the same, but costs about 60 ms of compile time per probe; here the
structs are rendered once in Python and the program's functions are plain C, attached by name.
The layout comes from the running kernel's own description, never from headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FIELD = re.compile(r"field:(?P<decl>[^;]+);\s*offset:(?P<offset>\d+);\s*size:(?P<size>\d+);\s*"
                   r"signed:(?P<signed>\d);")  # fmt: skip
COMMON_SIZE = 8  # common_type, common_flags, common_preempt_count, common_pid


@dataclass(frozen=True)
class Field:
    decl: str  # as the format file says, e.g. "__data_loc char[] filename"
    name: str
    offset: int
    size: int
    signed: bool


def parse_format(text: str) -> list[Field]:
    """The record's own fields (the common header is left out)."""
    fields = []
    for m in FIELD.finditer(text):
        decl = m["decl"].strip()
        name = re.sub(r"\[.*\]", "", decl).split()[-1].lstrip("*")
        if name.startswith("common_"):
            continue
        fields.append(Field(decl, name, int(m["offset"]), int(m["size"]), m["signed"] == "1"))
    return fields


def c_type(f: Field) -> tuple[str, str]:
    """(type, suffix) for one field: integers by size and sign, char arrays kept as arrays,
    __data_loc as its u32 (offset in the low half, length in the high half)."""
    if "[" in f.decl and "__data_loc" not in f.decl:
        return "char", f"[{f.size}]"
    if f.size in (1, 2, 4, 8):
        return f"{'s' if f.signed else 'u'}{f.size * 8}", ""
    return "char", f"[{f.size}]"


def render_struct(struct_name: str, source: str, fields: list[Field]) -> str:
    lines = [f"// {source}", f"struct {struct_name} {{"]
    lines.append(
        "    u64 common_; // offset 0: common_type/flags/preempt_count/pid (BPF may not read)"
    )
    at = COMMON_SIZE
    for f in fields:
        if f.offset > at:
            lines.append(f"    char pad_{at}[{f.offset - at}]; // offset {at}: alignment")
        typ, suffix = c_type(f)
        lines.append(f"    {typ} {f.name}{suffix}; // offset {f.offset}, size {f.size}: {f.decl}")
        at = f.offset + f.size
    lines.append("};")
    return "\n".join(lines)
