"""Protobuf message classes built from field tables written out in an oracle module.

The descriptors live in a pool of their own, made here from names, numbers and types copied from
the upstream ``.proto`` sources, so an oracle never reads the generated stubs or the hand-written
codec the emulators use. Encoding and decoding is google.protobuf's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

_Proto = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "bytes": _Proto.TYPE_BYTES,
    "string": _Proto.TYPE_STRING,
    "uint32": _Proto.TYPE_UINT32,
    "uint64": _Proto.TYPE_UINT64,
}


Label = Literal["optional", "repeated", "map"]
# (name, number, kind[, label]): ``kind`` is a scalar type name or the name of a message in the
# same table; label ``map`` means ``map<string, kind>``; without a label the field is optional.
Field = tuple[str, int, str] | tuple[str, int, str, Label]


def message_classes(package: str, syntax: Literal["proto2", "proto3"],
                    messages: Mapping[str, Sequence[Field]]) -> dict[str, type[Message]]:
    """The message classes of one ``.proto`` file whose messages are ``messages``."""
    file = descriptor_pb2.FileDescriptorProto(name=f"{package.replace('.', '/')}.proto",
                                              package=package, syntax=syntax)
    for name, fields in messages.items():
        message = file.message_type.add(name=name)
        for field in fields:
            _add_field(message, package, field)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}"))
            for name in messages}


def _add_field(message: descriptor_pb2.DescriptorProto, package: str, field: Field) -> None:
    name, number, kind = field[:3]
    label = field[3] if len(field) == 4 else "optional"
    proto = message.field.add(name=name, number=number, json_name=name)
    if label == "map":
        entry = message.nested_type.add(name=name[:1].upper() + name[1:] + "Entry")
        entry.options.map_entry = True
        _type(entry.field.add(name="key", number=1, label=_Proto.LABEL_OPTIONAL), package,
              "string")
        _type(entry.field.add(name="value", number=2, label=_Proto.LABEL_OPTIONAL), package, kind)
        proto.label = _Proto.LABEL_REPEATED
        proto.type = _Proto.TYPE_MESSAGE
        proto.type_name = f".{package}.{message.name}.{entry.name}"
        return
    proto.label = _Proto.LABEL_REPEATED if label == "repeated" else _Proto.LABEL_OPTIONAL
    _type(proto, package, kind)


def _type(proto: descriptor_pb2.FieldDescriptorProto, package: str, kind: str) -> None:
    if kind in _SCALARS:
        proto.type = _SCALARS[kind]
    else:
        proto.type = _Proto.TYPE_MESSAGE
        proto.type_name = f".{package}.{kind}"
