//! Container I/O (upstream `src/slave/containerizer/mesos/io/`): the
//! [`switchboard::IOSwitchboard`] the containerizer consults for every
//! launch, the `mesos-io-switchboard` server ([`server`]) it starts for
//! TTY and DEBUG containers, and the HTTP-over-unix-socket client
//! ([`client`]) the agent's attach calls use to reach that server.
//!
//! The records on every stream are `mesos.agent.ProcessIO` (v1 on the
//! wire, same tags), in RecordIO, JSON or protobuf as the client asked.

pub mod client;
pub mod server;
pub mod switchboard;

use bytes::Bytes;
use mesos_proto::mesos::agent::ProcessIo;
use prost::Message as _;

/// `application/recordio`.
pub const RECORDIO: &str = "application/recordio";
/// The header naming a streaming request's record type.
pub const MESSAGE_CONTENT_TYPE: &str = "Message-Content-Type";
/// The header naming the record types a streaming response may carry.
pub const MESSAGE_ACCEPT: &str = "Message-Accept";

/// Renders `record` in JSON or protobuf.
pub fn serialize(record: &ProcessIo, json: bool) -> Bytes {
    if json {
        Bytes::from(mesos_proto::json::to_string(record))
    } else {
        Bytes::from(record.encode_to_vec())
    }
}

/// Parses a message in JSON or protobuf.
pub fn deserialize<M>(bytes: &[u8], json: bool) -> Result<M, String>
where
    M: prost::Message + prost::Name + Default,
{
    if json {
        let text =
            std::str::from_utf8(bytes).map_err(|e| format!("record is not UTF-8 JSON: {e}"))?;
        mesos_proto::json::from_str(text).map_err(|e| format!("failed to parse JSON record: {e}"))
    } else {
        M::decode(bytes).map_err(|e| format!("failed to parse protobuf record: {e}"))
    }
}

/// Whether a media type header names JSON (else protobuf).
pub fn is_json(media: &str) -> bool {
    media
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .eq_ignore_ascii_case(mesos_proto::api::JSON)
}
