//! What the v1 HTTP APIs (scheduler, executor, operator) share: their two
//! media types and reading a call from a request body by its
//! `Content-Type`, as upstream's handlers do before anything else.

/// `application/json`: calls and events as upstream's protobuf JSON.
pub const JSON: &str = "application/json";
/// `application/x-protobuf`: calls and events as protobuf bytes.
pub const PROTOBUF: &str = "application/x-protobuf";

/// Why a call body could not be read.
#[derive(Debug, PartialEq)]
pub enum BodyError {
    /// Neither JSON nor protobuf (upstream answers 415).
    UnsupportedMediaType,
    /// It did not parse (upstream answers 400).
    Malformed(String),
}

/// Reads a `M` from `body` given as `content_type` (parameters and case
/// ignored).
pub fn decode_call<M: prost::Message + prost::Name + Default>(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<M, BodyError> {
    let media = content_type.map(|c| {
        c.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    match media.as_deref() {
        Some(JSON) => std::str::from_utf8(body)
            .map_err(|e| e.to_string())
            .and_then(|text| crate::json::from_str(text).map_err(|e| e.to_string()))
            .map_err(BodyError::Malformed),
        Some(PROTOBUF) => M::decode(body).map_err(|e| BodyError::Malformed(e.to_string())),
        _ => Err(BodyError::UnsupportedMediaType),
    }
}

/// One event of a v1 stream as its RecordIO record: `v0` (an event of the
/// v0 package the component works with) re-read as its v1 twin `V1` (the
/// packages share every tag, as upstream's `evolve` relies on), in JSON or
/// protobuf.
pub fn event_record<V1: prost::Message + prost::Name + Default>(
    v0: &impl prost::Message,
    json: bool,
) -> Result<bytes::Bytes, prost::DecodeError> {
    let bytes = v0.encode_to_vec();
    let record = if json {
        crate::json::to_string(&V1::decode(bytes.as_slice())?).into_bytes()
    } else {
        bytes
    };
    Ok(crate::recordio::encode(&record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesos::v1::scheduler::Call;
    use prost::Message as _;

    #[test]
    fn bodies_are_read_by_content_type() {
        let call: Call = decode_call(
            Some("Application/JSON; charset=utf-8"),
            br#"{"type":"TEARDOWN"}"#,
        )
        .unwrap();
        assert_eq!(call.r#type().as_str_name(), "TEARDOWN");
        let bytes = call.encode_to_vec();
        assert_eq!(decode_call::<Call>(Some(PROTOBUF), &bytes).unwrap(), call);
        assert!(matches!(
            decode_call::<Call>(Some(JSON), b"{"),
            Err(BodyError::Malformed(_))
        ));
        assert!(matches!(
            decode_call::<Call>(Some(PROTOBUF), b"\xff\xff"),
            Err(BodyError::Malformed(_))
        ));
        assert_eq!(
            decode_call::<Call>(Some("text/plain"), b""),
            Err(BodyError::UnsupportedMediaType)
        );
        assert_eq!(
            decode_call::<Call>(None, b""),
            Err(BodyError::UnsupportedMediaType)
        );
    }

    #[test]
    fn v0_events_become_v1_records() {
        use crate::mesos::scheduler::{event, Event};
        let v0 = Event {
            r#type: Some(event::Type::Heartbeat as i32),
            ..Default::default()
        };
        let json = event_record::<crate::mesos::v1::scheduler::Event>(&v0, true).unwrap();
        assert_eq!(&json[..], b"20\n{\"type\":\"HEARTBEAT\"}");
        let binary = event_record::<crate::mesos::v1::scheduler::Event>(&v0, false).unwrap();
        assert_eq!(&binary[..], b"2\n\x08\x08");
    }
}
