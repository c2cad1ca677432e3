#!/usr/bin/env python3
"""Compares our .proto files with upstream's, descriptor by descriptor.

usage: compare_descriptors.py OURS.pb ORACLE.pb

Both arguments are serialized FileDescriptorSets. Every file of OURS whose
name (e.g. `mesos/mesos.proto`, `messages/messages.proto`) is also in ORACLE
is compared for what decides the wire format, the JSON rendering and the
generated types:

- the package and syntax;
- messages, recursively: present on both sides, fields in declaration order
  with name, number, label, type, type_name, default_value, oneof
  membership, proto3_optional and the wire-relevant `packed` option; oneof
  names; whether it is a map entry;
- enums, top-level and nested: value names and numbers in declaration order
  (a proto2 enum field without a default takes the first value);
- top-level extensions.

Everything else is ignored: options other than `packed` and `map_entry`,
comments and source info, json_name, reserved ranges, imports, services, the
order of messages and enums within their scope.

Every difference is printed; the exit status is 1 if there is any, else 0.
Oracle files that OURS lacks, and ours that the oracle lacks, are listed for
information only.
"""

import sys

from google.protobuf import descriptor_pb2

FDP = descriptor_pb2.FieldDescriptorProto
TYPES = {v: k[len("TYPE_"):].lower() for k, v in FDP.Type.items()}
LABELS = {v: k[len("LABEL_"):].lower() for k, v in FDP.Label.items()}


def load(path):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(path, "rb") as f:
        fds.ParseFromString(f.read())
    return {f.name: f for f in fds.file}


class Comparison:
    def __init__(self):
        self.differences = []
        self.files = self.messages = self.fields = self.enums = 0

    def differ(self, where, what):
        self.differences.append("%s: %s" % (where, what))

    def field_facts(self, message, field):
        oneof = None
        if field.HasField("oneof_index"):
            oneof = message.oneof_decl[field.oneof_index].name
        return {
            "number": field.number,
            "label": LABELS[field.label],
            "type": TYPES[field.type],
            "type_name": field.type_name.lstrip(".") or None,
            "default": field.default_value if field.HasField("default_value") else None,
            "oneof": oneof,
            "proto3_optional": field.proto3_optional or None,
            "packed": field.options.packed if field.options.HasField("packed") else None,
        }

    def compare_fields(self, where, ours, oracle):
        ours_by_name = {f.name: f for f in ours.field}
        oracle_by_name = {f.name: f for f in oracle.field}
        for field in oracle.field:
            if field.name not in ours_by_name:
                self.differ("%s.%s" % (where, field.name), "missing from ours (oracle: %s)"
                            % self.field_facts(oracle, field))
        for field in ours.field:
            self.fields += 1
            name = "%s.%s" % (where, field.name)
            if field.name not in oracle_by_name:
                self.differ(name, "not in the oracle (ours: %s)" % self.field_facts(ours, field))
                continue
            mine = self.field_facts(ours, field)
            theirs = self.field_facts(oracle, oracle_by_name[field.name])
            for key in mine:
                if mine[key] != theirs[key]:
                    self.differ(name, "%s is %r, oracle has %r" % (key, mine[key], theirs[key]))
        common = set(ours_by_name) & set(oracle_by_name)
        ours_order = [f.name for f in ours.field if f.name in common]
        oracle_order = [f.name for f in oracle.field if f.name in common]
        if ours_order != oracle_order:
            self.differ(where, "field declaration order is %s, oracle has %s"
                        % (ours_order, oracle_order))

    def compare_enum(self, where, ours, oracle):
        self.enums += 1
        mine = [(v.name, v.number) for v in ours.value]
        theirs = [(v.name, v.number) for v in oracle.value]
        if mine != theirs:
            missing = [v for v in theirs if v not in mine]
            extra = [v for v in mine if v not in theirs]
            detail = "values differ"
            if missing:
                detail += "; missing from ours: %s" % missing
            if extra:
                detail += "; not in the oracle: %s" % extra
            if not missing and not extra:
                detail += " in order: ours %s, oracle %s" % (mine, theirs)
            self.differ(where, detail)

    def compare_scope(self, where, ours_messages, oracle_messages, ours_enums, oracle_enums):
        self.compare_named(where, ours_messages, oracle_messages, "message", self.compare_message)
        self.compare_named(where, ours_enums, oracle_enums, "enum", self.compare_enum)

    def compare_named(self, where, ours, oracle, kind, compare):
        ours_by_name = {x.name: x for x in ours}
        oracle_by_name = {x.name: x for x in oracle}
        for name in oracle_by_name:
            if name not in ours_by_name:
                self.differ("%s.%s" % (where, name), "%s missing from ours" % kind)
        for name, mine in ours_by_name.items():
            if name not in oracle_by_name:
                self.differ("%s.%s" % (where, name), "%s not in the oracle" % kind)
            else:
                compare("%s.%s" % (where, name), mine, oracle_by_name[name])

    def compare_message(self, where, ours, oracle):
        self.messages += 1
        self.compare_fields(where, ours, oracle)
        mine = [o.name for o in ours.oneof_decl]
        theirs = [o.name for o in oracle.oneof_decl]
        if mine != theirs:
            self.differ(where, "oneofs are %s, oracle has %s" % (mine, theirs))
        if ours.options.map_entry != oracle.options.map_entry:
            self.differ(where, "map_entry is %s, oracle has %s"
                        % (ours.options.map_entry, oracle.options.map_entry))
        self.compare_scope(where, ours.nested_type, oracle.nested_type,
                           ours.enum_type, oracle.enum_type)

    def compare_file(self, ours, oracle):
        self.files += 1
        where = ours.name
        if ours.package != oracle.package:
            self.differ(where, "package is %r, oracle has %r" % (ours.package, oracle.package))
        if (ours.syntax or "proto2") != (oracle.syntax or "proto2"):
            self.differ(where, "syntax is %r, oracle has %r"
                        % (ours.syntax or "proto2", oracle.syntax or "proto2"))
        scope = "%s:%s" % (ours.name, ours.package)
        self.compare_scope(scope, ours.message_type, oracle.message_type,
                           ours.enum_type, oracle.enum_type)
        mine = sorted((f.extendee, f.name, f.number, f.type, f.type_name) for f in ours.extension)
        theirs = sorted((f.extendee, f.name, f.number, f.type, f.type_name) for f in oracle.extension)
        if mine != theirs:
            self.differ(where, "extensions are %s, oracle has %s" % (mine, theirs))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    ours, oracle = load(sys.argv[1]), load(sys.argv[2])
    comparison = Comparison()
    for name in sorted(ours):
        if name in oracle:
            before = len(comparison.differences)
            comparison.compare_file(ours[name], oracle[name])
            print("%-55s %d differences" % (name, len(comparison.differences) - before))

    for name in sorted(set(oracle) - set(ours)):
        print("info: oracle file not in ours: %s" % name)
    for name in sorted(set(ours) - set(oracle)):
        print("info: our file not in the oracle: %s" % name)

    for difference in comparison.differences:
        print("DIFFERENCE " + difference)
    print("compared %d files, %d messages, %d fields, %d enums: %d differences"
          % (comparison.files, comparison.messages, comparison.fields,
             comparison.enums, len(comparison.differences)))
    sys.exit(1 if comparison.differences else 0)


if __name__ == "__main__":
    main()
