#!/usr/bin/env python3
"""Rewrites an upstream JSON example into the exact text upstream renders.

usage: normalise.py ORACLE.pb FULL.TYPE.NAME INPUT.json > OUTPUT.json

ORACLE.pb is the descriptor set extracted from upstream's libmesos (see
../extract_descriptors.py). INPUT is an example message as upstream's docs
print it: valid JSON, but indented, with keys in any order. The output is
what stout's `jsonify(JSON::Protobuf(message))` writes for the same message:

- no whitespace;
- keys in the message's field declaration order;
- unset singular fields declared with `[default = ...]` (and not deprecated)
  added with that default;
- doubles and floats as C's `%#.15g` with the mantissa's trailing zeros
  trimmed (`15` -> `15.0`);
- `/` escaped as `\\/`.

It refuses keys that are not fields, bytes that are not canonical base64 and
values of the wrong JSON type, so that every such fix to an example is made
by hand (and noted in README.md), never silently.
"""

import base64
import json
import sys

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FieldDescriptor as F

FLOATS = (F.TYPE_DOUBLE, F.TYPE_FLOAT)
INTEGERS = (F.TYPE_INT32, F.TYPE_INT64, F.TYPE_UINT32, F.TYPE_UINT64, F.TYPE_SINT32,
            F.TYPE_SINT64, F.TYPE_FIXED32, F.TYPE_FIXED64, F.TYPE_SFIXED32, F.TYPE_SFIXED64)


def fail(path, message):
    sys.exit("%s: %s" % (path or "<root>", message))


def double(value):
    text = "%#.15g" % value
    mantissa, _, exponent = text.partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0")
        if mantissa.endswith("."):
            mantissa += "0"
    return mantissa + ("e" + exponent if exponent else "")


def string(value):
    return json.dumps(value, ensure_ascii=False).replace("/", "\\/")


def scalar(field, value, path):
    if field.type == F.TYPE_MESSAGE:
        if not isinstance(value, dict):
            fail(path, "expected an object")
        return message(field.message_type, value, path)
    if field.type == F.TYPE_ENUM:
        if value not in field.enum_type.values_by_name:
            fail(path, "%r is not a value of %s" % (value, field.enum_type.full_name))
        return string(value)
    if field.type == F.TYPE_BOOL:
        if not isinstance(value, bool):
            fail(path, "expected a boolean")
        return "true" if value else "false"
    if field.type in FLOATS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(path, "expected a number")
        return double(float(value))
    if field.type in INTEGERS:
        if isinstance(value, bool) or not isinstance(value, int):
            fail(path, "expected an integer")
        return str(value)
    if field.type == F.TYPE_BYTES:
        if not isinstance(value, str):
            fail(path, "expected a base64 string")
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError as error:
            fail(path, "not base64: %s" % error)
        if base64.b64encode(raw).decode() != value:
            fail(path, "not canonical base64")
        return string(value)
    if not isinstance(value, str):
        fail(path, "expected a string")
    return string(value)


def default(field):
    value = field.default_value
    if field.type == F.TYPE_ENUM:
        return string(field.enum_type.values_by_number[value].name)
    if field.type == F.TYPE_BOOL:
        return "true" if value else "false"
    if field.type in FLOATS:
        return double(float(value))
    if field.type in INTEGERS:
        return str(value)
    if field.type == F.TYPE_BYTES:
        return string(base64.b64encode(value).decode())
    return string(value)


def message(descriptor, obj, path):
    for key in obj:
        if key not in descriptor.fields_by_name:
            fail(path, "%r is not a field of %s" % (key, descriptor.full_name))
    parts = []
    for field in descriptor.fields:
        where = "%s.%s" % (path, field.name) if path else field.name
        if field.name in obj and obj[field.name] is not None:
            value = obj[field.name]
            if field.label == F.LABEL_REPEATED:
                if not isinstance(value, list):
                    fail(where, "expected an array")
                if not value:
                    continue
                rendered = "[%s]" % ",".join(
                    scalar(field, item, "%s[%d]" % (where, i)) for i, item in enumerate(value))
            else:
                rendered = scalar(field, value, where)
        elif (field.label != F.LABEL_REPEATED and field.has_default_value
              and not field.GetOptions().deprecated):
            rendered = default(field)
        else:
            continue
        parts.append("%s:%s" % (string(field.name), rendered))
    return "{%s}" % ",".join(parts)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    fds = descriptor_pb2.FileDescriptorSet()
    with open(sys.argv[1], "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for proto in fds.file:
        pool.Add(proto)
    descriptor = pool.FindMessageTypeByName(sys.argv[2])
    with open(sys.argv[3], encoding="utf-8") as f:
        document = json.load(f)
    print(message(descriptor, document, ""))


if __name__ == "__main__":
    main()
