//! Upstream's JSON of a message written straight from its protobuf
//! encoding, without decoding it into a `DynamicMessage` or building a
//! `serde_json::Value`: the same text as [`super::to_string`] gives for
//! the decoded message, at a fraction of the time and memory. The
//! master's operator API uses it to write documents of hundreds of
//! thousands of tasks one task at a time (upstream streams them with
//! `jsonify` writers; stout has no transcoder, this is ours).
//!
//! A plan per message type (its fields in declaration order, their JSON
//! keys and defaults already rendered) is made once for the whole pool.
//! Encodings this path does not handle itself (a map field present, two
//! members of one oneof, a singular message field given twice, groups,
//! malformed bytes) are written through the reflection path instead, so
//! the text is the same in every case.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use base64::Engine as _;
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, Value as PValue};

use super::{
    declared_fields, dynamic_to_value, field_value, has_explicit_default, is_deprecated,
    write_string, write_value, JsonError,
};

/// Writes the JSON of messages of one type from their encodings (see the
/// module doc).
#[derive(Clone, Copy, Debug)]
pub struct Transcoder {
    plan: usize,
}

impl Transcoder {
    /// Returns the transcoder of the message type `full_name` (as
    /// `mesos.v1.Task`).
    pub fn of(full_name: &str) -> Result<Self, JsonError> {
        plans()
            .by_name
            .get(full_name)
            .map(|&plan| Self { plan })
            .ok_or_else(|| JsonError::UnknownType(full_name.to_string()))
    }

    /// Appends to `out` the JSON of the message of this type encoded in
    /// `bytes`: what [`super::to_string`] writes for it.
    pub fn write(&self, out: &mut String, bytes: &[u8]) {
        let plans = plans();
        let start = out.len();
        let mut scratch = Vec::new();
        if write_message(plans, self.plan, bytes, out, &mut scratch, 0).is_err() {
            out.truncate(start);
            let desc = &plans.messages[self.plan].desc;
            match DynamicMessage::decode(desc.clone(), bytes) {
                Ok(message) => write_value(out, &dynamic_to_value(&message)),
                // As `to_value` renders what it cannot decode.
                Err(_) => out.push_str("{}"),
            }
        }
    }

    /// Appends to `out` the JSON of `message` read as this type (a type
    /// with the same tags, such as the v1 twin of a v0 message), using
    /// `buffer` for its encoding.
    pub fn write_message<M: prost::Message>(
        &self,
        out: &mut String,
        message: &M,
        buffer: &mut Vec<u8>,
    ) {
        buffer.clear();
        // A `Vec` grows as needed: encoding into it cannot fail.
        let _ = message.encode(buffer);
        self.write(out, buffer);
    }
}

/// Why the fast path gave up on an encoding: the reflection path writes
/// it instead.
#[derive(Debug)]
struct Fallback;

/// Every message type's plan.
struct Plans {
    messages: Vec<Plan>,
    by_name: HashMap<String, usize>,
}

struct Plan {
    desc: MessageDescriptor,
    /// Fields in declaration order.
    fields: Vec<FieldPlan>,
    /// `(number, index in fields)`, by number.
    by_number: Vec<(u32, usize)>,
    has_oneofs: bool,
}

struct FieldPlan {
    /// `"name":`.
    key: Box<str>,
    kind: FieldKind,
    list: bool,
    map: bool,
    /// Index of its oneof among the message's oneofs.
    oneof: Option<usize>,
    /// The rendered default written when the field is unset (declared
    /// with an explicit default and not deprecated).
    default: Option<Box<str>>,
}

enum FieldKind {
    Double,
    Float,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Bool,
    String,
    Bytes,
    Message(usize),
    /// Value names (rendered as JSON strings) by number, by number.
    Enum(Vec<(i32, Box<str>)>),
}

impl FieldKind {
    fn packable(&self) -> bool {
        !matches!(
            self,
            FieldKind::String | FieldKind::Bytes | FieldKind::Message(_)
        )
    }
}

fn plans() -> &'static Plans {
    static PLANS: OnceLock<Plans> = OnceLock::new();
    PLANS.get_or_init(|| {
        let pool = super::pool();
        let by_name: HashMap<String, usize> = pool
            .all_messages()
            .enumerate()
            .map(|(i, desc)| (desc.full_name().to_string(), i))
            .collect();
        let messages = pool
            .all_messages()
            .map(|desc| plan(desc, &by_name))
            .collect();
        Plans { messages, by_name }
    })
}

fn plan(desc: MessageDescriptor, by_name: &HashMap<String, usize>) -> Plan {
    let oneofs: Vec<String> = desc.oneofs().map(|o| o.name().to_string()).collect();
    let mut fields = Vec::new();
    let mut by_number = Vec::new();
    for field in declared_fields(&desc) {
        let kind = match field.kind() {
            Kind::Double => FieldKind::Double,
            Kind::Float => FieldKind::Float,
            Kind::Int32 => FieldKind::Int32,
            Kind::Int64 => FieldKind::Int64,
            Kind::Uint32 => FieldKind::Uint32,
            Kind::Uint64 => FieldKind::Uint64,
            Kind::Sint32 => FieldKind::Sint32,
            Kind::Sint64 => FieldKind::Sint64,
            Kind::Fixed32 => FieldKind::Fixed32,
            Kind::Fixed64 => FieldKind::Fixed64,
            Kind::Sfixed32 => FieldKind::Sfixed32,
            Kind::Sfixed64 => FieldKind::Sfixed64,
            Kind::Bool => FieldKind::Bool,
            Kind::String => FieldKind::String,
            Kind::Bytes => FieldKind::Bytes,
            // Every message type of a field is in the same pool.
            Kind::Message(m) => {
                FieldKind::Message(by_name.get(m.full_name()).copied().unwrap_or(0))
            }
            Kind::Enum(e) => {
                let mut names: Vec<(i32, Box<str>)> = Vec::new();
                for value in e.values() {
                    // Aliases: the first name of a number, as `get_value`.
                    if e.get_value(value.number())
                        .is_some_and(|v| v.name() == value.name())
                    {
                        let mut name = String::new();
                        write_string(&mut name, value.name());
                        names.push((value.number(), name.into_boxed_str()));
                    }
                }
                names.sort_by_key(|(n, _)| *n);
                names.dedup_by_key(|(n, _)| *n);
                FieldKind::Enum(names)
            }
        };
        let mut key = String::new();
        write_string(&mut key, field.name());
        key.push(':');
        let default = (!field.is_list() && has_explicit_default(&field) && !is_deprecated(&field))
            .then(|| {
                let mut text = String::new();
                write_value(
                    &mut text,
                    &field_value(&field, &PValue::default_value_for_field(&field)),
                );
                text.into_boxed_str()
            });
        let oneof = field
            .containing_oneof()
            .and_then(|o| oneofs.iter().position(|name| name == o.name()));
        by_number.push((field.number(), fields.len()));
        fields.push(FieldPlan {
            key: key.into_boxed_str(),
            kind,
            list: field.is_list(),
            map: field.is_map(),
            oneof,
            default,
        });
    }
    by_number.sort_unstable();
    Plan {
        has_oneofs: !oneofs.is_empty(),
        desc,
        fields,
        by_number,
    }
}

/// A value as it is on the wire.
#[derive(Clone, Copy)]
enum Raw {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    /// A length-delimited value: its range in the message's bytes.
    Len(usize, usize),
}

/// A field occurrence: the field's index in its plan and its value.
type Record = (usize, Raw);

fn varint(bytes: &[u8], pos: &mut usize) -> Result<u64, Fallback> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*pos).ok_or(Fallback)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Ok(value);
        }
    }
    Err(Fallback)
}

fn fixed<const N: usize>(bytes: &[u8], pos: &mut usize) -> Result<[u8; N], Fallback> {
    let end = pos.checked_add(N).ok_or(Fallback)?;
    let value = bytes
        .get(*pos..end)
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or(Fallback)?;
    *pos = end;
    Ok(value)
}

/// Writes the message of plan `index` encoded in `bytes`. `scratch` holds
/// the record buffers of each nesting depth, reused across messages.
fn write_message(
    plans: &Plans,
    index: usize,
    bytes: &[u8],
    out: &mut String,
    scratch: &mut Vec<Vec<Record>>,
    depth: usize,
) -> Result<(), Fallback> {
    // Deeper than any message the master writes; as prost's own limit.
    if depth > 100 {
        return Err(Fallback);
    }
    let plan = &plans.messages[index];
    if scratch.len() <= depth {
        scratch.resize_with(depth + 1, Vec::new);
    }
    let mut records = std::mem::take(&mut scratch[depth]);
    records.clear();
    let result = read_records(plan, bytes, &mut records)
        .and_then(|()| write_fields(plans, plan, bytes, &records, out, scratch, depth));
    scratch[depth] = records;
    result
}

fn read_records(plan: &Plan, bytes: &[u8], records: &mut Vec<Record>) -> Result<(), Fallback> {
    let mut pos = 0;
    while pos < bytes.len() {
        let key = varint(bytes, &mut pos)?;
        let number = u32::try_from(key >> 3).map_err(|_| Fallback)?;
        if number == 0 {
            return Err(Fallback);
        }
        let raw = match key & 7 {
            0 => Raw::Varint(varint(bytes, &mut pos)?),
            1 => Raw::Fixed64(u64::from_le_bytes(fixed::<8>(bytes, &mut pos)?)),
            2 => {
                let len = usize::try_from(varint(bytes, &mut pos)?).map_err(|_| Fallback)?;
                let end = pos.checked_add(len).filter(|&e| e <= bytes.len());
                let end = end.ok_or(Fallback)?;
                let raw = Raw::Len(pos, end);
                pos = end;
                raw
            }
            5 => Raw::Fixed32(u32::from_le_bytes(fixed::<4>(bytes, &mut pos)?)),
            // Groups (none in these protos) and invalid wire types.
            _ => return Err(Fallback),
        };
        // Unknown fields are not rendered.
        if let Ok(i) = plan.by_number.binary_search_by_key(&number, |(n, _)| *n) {
            records.push((plan.by_number[i].1, raw));
        }
    }
    // Fields in declaration order, occurrences of one field in wire order.
    records.sort_by_key(|(field, _)| *field);
    Ok(())
}

fn write_fields(
    plans: &Plans,
    plan: &Plan,
    bytes: &[u8],
    records: &[Record],
    out: &mut String,
    scratch: &mut Vec<Vec<Record>>,
    depth: usize,
) -> Result<(), Fallback> {
    if plan.has_oneofs {
        // The last member given wins in a decoder: not handled here.
        let mut seen: Vec<(usize, usize)> = Vec::new();
        for &(field, _) in records {
            if let Some(oneof) = plan.fields[field].oneof {
                match seen.iter().find(|(o, _)| *o == oneof) {
                    Some(&(_, other)) if other != field => return Err(Fallback),
                    Some(_) => {}
                    None => seen.push((oneof, field)),
                }
            }
        }
    }
    out.push('{');
    let mut first = true;
    let mut rest = records;
    for (index, field) in plan.fields.iter().enumerate() {
        let count = rest.iter().take_while(|(f, _)| *f == index).count();
        let (mine, others) = rest.split_at(count);
        rest = others;
        if field.map {
            if mine.is_empty() {
                continue;
            }
            return Err(Fallback);
        }
        let mark = out.len();
        if !first {
            out.push(',');
        }
        out.push_str(&field.key);
        let wrote = if field.list {
            out.push('[');
            let mut items = 0;
            for &(_, raw) in mine {
                match raw {
                    Raw::Len(start, end) if field.kind.packable() => {
                        let packed = &bytes[start..end];
                        let mut pos = 0;
                        while pos < packed.len() {
                            let raw = match field.kind {
                                FieldKind::Double | FieldKind::Fixed64 | FieldKind::Sfixed64 => {
                                    Raw::Fixed64(u64::from_le_bytes(fixed::<8>(packed, &mut pos)?))
                                }
                                FieldKind::Float | FieldKind::Fixed32 | FieldKind::Sfixed32 => {
                                    Raw::Fixed32(u32::from_le_bytes(fixed::<4>(packed, &mut pos)?))
                                }
                                _ => Raw::Varint(varint(packed, &mut pos)?),
                            };
                            items +=
                                write_item(plans, field, packed, raw, items, out, scratch, depth)?;
                        }
                    }
                    raw => {
                        items += write_item(plans, field, bytes, raw, items, out, scratch, depth)?
                    }
                }
            }
            out.push(']');
            items > 0
        } else if let Some(&(_, raw)) = mine.last() {
            if matches!(field.kind, FieldKind::Message(_)) && mine.len() > 1 {
                // Occurrences merge: not handled here.
                return Err(Fallback);
            }
            match (&field.kind, raw, &field.default) {
                (FieldKind::Enum(names), Raw::Varint(v), default) if name(names, v).is_none() => {
                    // A number the enum lacks: the default, if declared.
                    match default {
                        Some(default) => {
                            out.push_str(default);
                            true
                        }
                        None => false,
                    }
                }
                _ => {
                    write_value_of(plans, &field.kind, bytes, raw, out, scratch, depth)?;
                    true
                }
            }
        } else if let Some(default) = &field.default {
            out.push_str(default);
            true
        } else {
            false
        };
        if wrote {
            first = false;
        } else {
            out.truncate(mark);
        }
    }
    out.push('}');
    Ok(())
}

/// Writes one item of a list (an unknown enum number is left out).
/// Returns how many items it wrote.
#[allow(clippy::too_many_arguments)]
fn write_item(
    plans: &Plans,
    field: &FieldPlan,
    bytes: &[u8],
    raw: Raw,
    written: usize,
    out: &mut String,
    scratch: &mut Vec<Vec<Record>>,
    depth: usize,
) -> Result<usize, Fallback> {
    if let (FieldKind::Enum(names), Raw::Varint(v)) = (&field.kind, raw) {
        if name(names, v).is_none() {
            return Ok(0);
        }
    }
    if written > 0 {
        out.push(',');
    }
    write_value_of(plans, &field.kind, bytes, raw, out, scratch, depth)?;
    Ok(1)
}

/// The rendered name of enum number `v` (a varint read as `int32`).
fn name(names: &[(i32, Box<str>)], v: u64) -> Option<&str> {
    let number = v as i64 as i32;
    names
        .binary_search_by_key(&number, |(n, _)| *n)
        .ok()
        .map(|i| &*names[i].1)
}

fn write_float(out: &mut String, value: f64) {
    // As `serde_json` holds it: a non-finite double is `null`.
    if value.is_finite() {
        out.push_str(&super::format_double(value));
    } else {
        out.push_str("null");
    }
}

fn write_value_of(
    plans: &Plans,
    kind: &FieldKind,
    bytes: &[u8],
    raw: Raw,
    out: &mut String,
    scratch: &mut Vec<Vec<Record>>,
    depth: usize,
) -> Result<(), Fallback> {
    match (kind, raw) {
        (FieldKind::Double, Raw::Fixed64(v)) => write_float(out, f64::from_bits(v)),
        (FieldKind::Float, Raw::Fixed32(v)) => write_float(out, f64::from(f32::from_bits(v))),
        (FieldKind::Int32, Raw::Varint(v)) => {
            let _ = write!(out, "{}", v as i64 as i32);
        }
        (FieldKind::Int64, Raw::Varint(v)) => {
            let _ = write!(out, "{}", v as i64);
        }
        (FieldKind::Uint32, Raw::Varint(v)) => {
            let _ = write!(out, "{}", v as u32);
        }
        (FieldKind::Uint64, Raw::Varint(v)) => {
            let _ = write!(out, "{v}");
        }
        (FieldKind::Sint32, Raw::Varint(v)) => {
            let v = v as u32;
            let _ = write!(out, "{}", ((v >> 1) as i32) ^ -((v & 1) as i32));
        }
        (FieldKind::Sint64, Raw::Varint(v)) => {
            let _ = write!(out, "{}", ((v >> 1) as i64) ^ -((v & 1) as i64));
        }
        (FieldKind::Fixed32, Raw::Fixed32(v)) => {
            let _ = write!(out, "{v}");
        }
        (FieldKind::Sfixed32, Raw::Fixed32(v)) => {
            let _ = write!(out, "{}", v as i32);
        }
        (FieldKind::Fixed64, Raw::Fixed64(v)) => {
            let _ = write!(out, "{v}");
        }
        (FieldKind::Sfixed64, Raw::Fixed64(v)) => {
            let _ = write!(out, "{}", v as i64);
        }
        (FieldKind::Bool, Raw::Varint(v)) => out.push_str(if v != 0 { "true" } else { "false" }),
        (FieldKind::Enum(names), Raw::Varint(v)) => match name(names, v) {
            Some(name) => out.push_str(name),
            None => {
                let _ = write!(out, "{}", v as i64 as i32);
            }
        },
        (FieldKind::String, Raw::Len(start, end)) => {
            let text = std::str::from_utf8(&bytes[start..end]).map_err(|_| Fallback)?;
            write_string(out, text);
        }
        (FieldKind::Bytes, Raw::Len(start, end)) => {
            out.push('"');
            let mark = out.len();
            base64::engine::general_purpose::STANDARD.encode_string(&bytes[start..end], out);
            // Base64 has `/`, which stout escapes.
            if out[mark..].contains('/') {
                let encoded = out.split_off(mark);
                out.push_str(&encoded.replace('/', "\\/"));
            }
            out.push('"');
        }
        (FieldKind::Message(index), Raw::Len(start, end)) => {
            write_message(plans, *index, &bytes[start..end], out, scratch, depth + 1)?;
        }
        // A wire type the field's type cannot have.
        _ => return Err(Fallback),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;
    use crate::mesos::v1;

    fn both<M: prost::Message + prost::Name>(message: &M) -> (String, String) {
        let mut out = String::new();
        Transcoder::of(&M::full_name())
            .expect("type")
            .write(&mut out, &message.encode_to_vec());
        (out, crate::json::to_string(message))
    }

    #[test]
    fn a_task_is_written_as_reflection_writes_it() {
        let task = v1::Task {
            name: "a/\"b\"\n✓".into(),
            task_id: v1::TaskId { value: "t1".into() },
            framework_id: v1::FrameworkId { value: "f".into() },
            agent_id: v1::AgentId { value: "s".into() },
            state: v1::TaskState::TaskRunning as i32,
            resources: vec![v1::Resource {
                name: "cpus".into(),
                r#type: v1::value::Type::Scalar as i32,
                scalar: Some(v1::value::Scalar { value: 0.1 }),
                ..Default::default()
            }],
            statuses: vec![v1::TaskStatus {
                task_id: v1::TaskId { value: "t1".into() },
                state: v1::TaskState::TaskRunning as i32,
                data: Some(vec![0, 1, 2, 255, 0xfc]),
                timestamp: Some(1.7e9 + 0.25),
                uuid: Some(vec![9; 16]),
                ..Default::default()
            }],
            labels: Some(v1::Labels {
                labels: vec![v1::Label {
                    key: "k".into(),
                    value: Some("v".into()),
                }],
            }),
            ..Default::default()
        };
        let (fast, slow) = both(&task);
        assert_eq!(fast, slow);
    }

    #[test]
    fn unknown_enum_numbers_and_defaults_are_written_as_reflection_writes_them() {
        // `TaskStatus.source` has no default; `Value.Ranges` lists; an
        // unknown state number.
        let status = v1::TaskStatus {
            task_id: v1::TaskId { value: "t".into() },
            state: 9999,
            source: Some(9999),
            ..Default::default()
        };
        let (fast, slow) = both(&status);
        assert_eq!(fast, slow);
        // `FrameworkInfo` declares explicit defaults (`failover_timeout`,
        // `checkpoint`, `role`).
        let info = v1::FrameworkInfo {
            user: "u".into(),
            name: "n".into(),
            capabilities: vec![v1::framework_info::Capability { r#type: Some(9999) }],
            ..Default::default()
        };
        let (fast, slow) = both(&info);
        assert_eq!(fast, slow);
    }

    #[test]
    fn maps_and_malformed_bytes_fall_back_to_the_same_text() {
        let mut info = v1::FrameworkInfo {
            user: "u".into(),
            name: "n".into(),
            ..Default::default()
        };
        info.offer_filters
            .insert("b".into(), v1::OfferFilters::default());
        info.offer_filters
            .insert("a".into(), v1::OfferFilters::default());
        let (fast, slow) = both(&info);
        assert_eq!(fast, slow);
        let mut out = String::new();
        Transcoder::of("mesos.v1.Task")
            .expect("type")
            .write(&mut out, &[0x0a, 0xff]);
        assert_eq!(out, "{}");
    }

    #[test]
    fn two_members_of_a_oneof_read_as_a_decoder_reads_them() {
        // `block` (1) then `mount` (2), both empty: the last one wins.
        let name = "mesos.v1.Volume.Source.CSIVolume.VolumeCapability";
        let bytes = [0x0a, 0x00, 0x12, 0x00, 0x1a, 0x02, 0x08, 0x01];
        let mut out = String::new();
        Transcoder::of(name).expect("type").write(&mut out, &bytes);
        let desc = crate::json::descriptor(name).expect("type");
        let decoded = DynamicMessage::decode(desc, &bytes[..]).expect("decodes");
        assert_eq!(out, crate::json::render(&dynamic_to_value(&decoded)));
        assert!(!out.contains("block"), "{out}");
        // One member only goes the fast way, with the same text.
        let one = [0x12, 0x00, 0x1a, 0x02, 0x08, 0x01];
        let mut out = String::new();
        Transcoder::of(name).expect("type").write(&mut out, &one);
        assert_eq!(
            out,
            r#"{"mount":{},"access_mode":{"mode":"SINGLE_NODE_WRITER"}}"#
        );
    }

    #[test]
    fn packed_and_unpacked_lists_read_alike() {
        let check = v1::health_check::HttpCheckInfo {
            port: 80,
            statuses: vec![200, 301, 70000],
            ..Default::default()
        };
        let (fast, slow) = both(&check);
        assert_eq!(fast, slow);
        // The same statuses packed: port 80, then field 4 length-delimited.
        let packed = [0x08, 80, 0x22, 0x05, 0xc8, 0x01, 0xad, 0x02, 0x70];
        let decoded = v1::health_check::HttpCheckInfo::decode(&packed[..]).expect("packed");
        let mut out = String::new();
        Transcoder::of("mesos.v1.HealthCheck.HTTPCheckInfo")
            .expect("type")
            .write(&mut out, &packed);
        assert_eq!(out, crate::json::to_string(&decoded));
        assert!(out.contains(r#""statuses":[200,301,112]"#), "{out}");
    }
}
