#!/usr/bin/env python3
"""Extracts the .proto descriptors compiled into upstream Mesos 1.11.0.

The PyPI package mesos.scheduler 1.11.0 ships `_scheduler.so`, a Python 2
extension with libmesos linked in statically. protoc's C++ output keeps each
.proto file's serialized FileDescriptorProto as one byte array, so the
library holds all of them verbatim. This finds each one (a `name` field
ending in `.proto` at the start of a well-formed FileDescriptorProto),
checks that the set links (every import present, every type resolvable) and
writes it as a FileDescriptorSet, imports before importers.

usage: extract_descriptors.py (_scheduler.so | mesos.scheduler-*.tar.gz) OUT.pb
"""

import re
import sys
import tarfile

from google.protobuf import descriptor_pb2, descriptor_pool

# FileDescriptorProto's fields and their wire types: 1 name, 2 package,
# 3 dependency, 4 message_type, 5 enum_type, 6 service, 7 extension,
# 8 options, 9 source_code_info, 12 syntax are length-delimited;
# 10 public_dependency and 11 weak_dependency are varints.
WIRE_TYPES = {n: 2 for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 12)}
WIRE_TYPES.update({10: 0, 11: 0})

CANDIDATE = re.compile(rb"\x0a([\x01-\x7f])([A-Za-z0-9_./-]+\.proto)")


def read_library(path):
    if path.endswith((".tar.gz", ".tgz")):
        with tarfile.open(path) as tar:
            for member in tar.getmembers():
                if member.name.endswith("/_scheduler.so"):
                    return tar.extractfile(member).read()
        sys.exit("%s: no _scheduler.so inside" % path)
    with open(path, "rb") as f:
        return f.read()


def varint(data, i):
    value = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            return None, i
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def descriptor_end(data, i):
    """The end of the FileDescriptorProto starting at i: the first byte
    that does not continue it as a sequence of its own fields."""
    while i < len(data):
        tag, j = varint(data, i)
        if tag is None or WIRE_TYPES.get(tag >> 3) != tag & 7:
            return i
        if tag & 7 == 0:
            value, j = varint(data, j)
            if value is None:
                return i
        else:
            length, j = varint(data, j)
            if length is None or j + length > len(data):
                return i
            j += length
        i = j
    return i


def extract(data):
    found = {}
    for match in CANDIDATE.finditer(data):
        name = match.group(2)
        if match.group(1)[0] != len(name):
            continue
        start = match.start()
        blob = data[start:descriptor_end(data, start)]
        proto = descriptor_pb2.FileDescriptorProto()
        try:
            proto.ParseFromString(blob)
        except Exception:  # noqa: BLE001 - not a descriptor after all
            continue
        if proto.name != name.decode() or not proto.package:
            continue
        if proto.name in found:
            if found[proto.name].SerializeToString() != proto.SerializeToString():
                sys.exit("two different descriptors named %s" % proto.name)
            continue
        found[proto.name] = proto
    return found


def in_dependency_order(found):
    ordered, done = [], set()

    def visit(name, stack):
        if name in done:
            return
        if name in stack:
            sys.exit("import cycle through %s" % name)
        if name not in found:
            sys.exit("%s imports %s, which was not found" % (stack[-1] if stack else "?", name))
        for dep in found[name].dependency:
            visit(dep, stack + [name])
        done.add(name)
        ordered.append(found[name])

    for name in sorted(found):
        visit(name, [])
    return ordered


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    found = extract(read_library(sys.argv[1]))
    ordered = in_dependency_order(found)

    # Linking them proves every type_name resolves and nothing is truncated.
    pool = descriptor_pool.DescriptorPool()
    for proto in ordered:
        pool.Add(proto)
    for proto in ordered:
        pool.FindFileByName(proto.name)

    out = descriptor_pb2.FileDescriptorSet()
    out.file.extend(ordered)
    with open(sys.argv[2], "wb") as f:
        f.write(out.SerializeToString())

    for proto in ordered:
        print("%-60s %-32s %3d messages" % (proto.name, proto.package, len(proto.message_type)))
    print("extracted %d files" % len(ordered))


if __name__ == "__main__":
    main()
