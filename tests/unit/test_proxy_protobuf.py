"""The schema-less protobuf decoder, on messages Google's own encoder wrote."""

from __future__ import annotations

import struct

import pytest
from google.protobuf import descriptor_pb2, struct_pb2, timestamp_pb2, wrappers_pb2

from tracer.proxy.protobuf import MAX_FIELDS, ProtobufError, decode


def test_varints_and_strings_by_field_number() -> None:
    ts = timestamp_pb2.Timestamp(seconds=1764626400, nanos=250)
    assert decode(ts.SerializeToString()) == {"1": 1764626400, "2": 250}


def test_nested_messages_and_repeated_fields() -> None:
    # FileDescriptorProto: name = 1, package = 2, message_type = 4 (DescriptorProto: name = 1,
    # field = 2 (FieldDescriptorProto: name = 1, number = 3))
    f = descriptor_pb2.FileDescriptorProto(name="tasks.proto", package="containerd.tasks")
    m = f.message_type.add(name="StartRequest")
    m.field.add(name="container_id", number=1)
    m.field.add(name="exec_id", number=2)
    got = decode(f.SerializeToString())
    assert got["1"] == "tasks.proto"
    assert got["2"] == "containerd.tasks"
    assert got["4"] == {
        "1": "StartRequest",
        "2": [{"1": "container_id", "3": 1}, {"1": "exec_id", "3": 2}],
    }


def test_fixed64_fixed32_and_bytes_that_are_not_text() -> None:
    double = struct_pb2.Value(number_value=1.5).SerializeToString()  # field 2, wire type 1
    assert decode(double) == {"2": int.from_bytes(struct.pack("<d", 1.5), "little")}
    single = wrappers_pb2.FloatValue(value=1.5).SerializeToString()  # field 1, wire type 5
    assert decode(single) == {"1": int.from_bytes(struct.pack("<f", 1.5), "little")}
    raw = descriptor_pb2.UninterpretedOption(string_value=b"\xff\xfe").SerializeToString()
    assert decode(raw) == {"7": {"bytes": 2, "hex": "fffe"}}


def test_empty_message_and_empty_string() -> None:
    assert decode(b"") == {}
    assert decode(descriptor_pb2.FileDescriptorProto(name="").SerializeToString()) == {"1": ""}


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x08", "truncated varint at byte 1"),
        (b"\x0a\x05ab", "field 1 says 5 bytes at byte 2, 2 are left"),
        (b"\x0b", "wire type 3"),
        (b"\x00\x01", "field 0"),
        (b"\x08" + b"\xff" * 11, "longer than 10 bytes"),
        (b"\x09\x01\x02", "truncated fixed64"),
    ],
)
def test_bytes_that_are_not_a_message_say_why(data: bytes, why: str) -> None:
    with pytest.raises(ProtobufError, match=why):
        decode(data)


def test_a_kept_prefix_decodes_up_to_the_cut() -> None:
    full = descriptor_pb2.FileDescriptorProto(name="a", package="b" * 50).SerializeToString()
    got = decode(full[:10], truncated=True)
    assert got["1"] == "a"
    assert got["…"].startswith("cut at byte 3")


def test_output_is_bounded() -> None:
    f = descriptor_pb2.FileDescriptorProto(name="x" * 1000)
    f.dependency.extend(str(i) for i in range(MAX_FIELDS + 10))
    got = decode(f.SerializeToString())
    assert got["1"].endswith("… (1000 bytes)") and len(got["1"]) < 200
    assert len(got["3"]) == MAX_FIELDS - 1
    assert got["…"] == "11 more fields"
