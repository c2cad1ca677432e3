//! JSON rendering and parsing of real Mesos types.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

use mesos_proto::json::{from_str, to_string};
use mesos_proto::mesos::{self, value, FrameworkInfo, Resource};

#[test]
fn unset_fields_with_explicit_defaults_are_rendered_unless_deprecated() {
    let info = FrameworkInfo {
        user: "root".into(),
        name: "test".into(),
        ..Default::default()
    };
    // `failover_timeout` and `checkpoint` have explicit defaults; `role`
    // has one too but is deprecated, so it is left out, as upstream does.
    assert_eq!(
        to_string(&info),
        r#"{"user":"root","name":"test","failover_timeout":0.0,"checkpoint":false}"#
    );
}

#[test]
fn enums_render_by_name_and_scalars_as_doubles() {
    let cpus = Resource {
        name: "cpus".into(),
        r#type: value::Type::Scalar as i32,
        scalar: Some(value::Scalar { value: 2.0 }),
        ..Default::default()
    };
    let rendered = to_string(&cpus);
    assert!(
        rendered.starts_with(r#"{"name":"cpus","type":"SCALAR","scalar":{"value":2.0}"#),
        "{rendered}"
    );
    let parsed: Resource = from_str(&rendered).unwrap();
    // `role` is deprecated: not rendered, so it does not come back.
    assert_eq!(parsed, cpus);
}

#[test]
fn parsing_follows_stout() {
    // Unknown keys ignored, null leaves a field unset, integers as strings.
    let info: mesos::TaskStatus = from_str(
        r#"{"task_id":{"value":"t1"},"state":"TASK_RUNNING","unknown":1,"message":null,
            "timestamp":"1700000000.5","data":"aGVsbG8="}"#,
    )
    .unwrap();
    assert_eq!(info.task_id.value, "t1");
    assert_eq!(info.state(), mesos::TaskState::TaskRunning);
    assert_eq!(info.message, None);
    assert_eq!(info.timestamp, Some(1_700_000_000.5));
    assert_eq!(info.data.as_deref(), Some(&b"hello"[..]));

    // A required field missing, a wrong JSON type, an unknown enum name in a
    // required field: clear errors.
    let error = from_str::<mesos::TaskStatus>(r#"{"task_id":{"value":"t1"}}"#).unwrap_err();
    assert_eq!(error.to_string(), "Missing required fields: state");
    let error =
        from_str::<mesos::TaskStatus>(r#"{"task_id":"t1","state":"TASK_RUNNING"}"#).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Not expecting a JSON string for field 'task_id'"
    );
    let error =
        from_str::<mesos::TaskStatus>(r#"{"task_id":{"value":"t"},"state":"NOPE"}"#).unwrap_err();
    assert_eq!(error.to_string(), "Failed to find enum for 'NOPE'");
    assert!(from_str::<mesos::TaskStatus>("[1,2]").is_err());
    assert!(from_str::<mesos::TaskStatus>("{").is_err());
}

#[test]
fn bytes_are_base64_and_unknown_optional_enums_are_dropped() {
    let status = mesos::TaskStatus {
        task_id: mesos::TaskId { value: "t".into() },
        state: mesos::TaskState::TaskFinished as i32,
        data: Some(b"\x00\xffdata".to_vec()),
        ..Default::default()
    };
    let rendered = to_string(&status);
    assert!(rendered.contains(r#""data":"AP9kYXRh""#), "{rendered}");
    assert_eq!(
        from_str::<mesos::TaskStatus>(&rendered).unwrap().data,
        status.data
    );

    let parsed: mesos::TaskStatus =
        from_str(r#"{"task_id":{"value":"t"},"state":"TASK_FAILED","reason":"NOT_A_REASON"}"#)
            .unwrap();
    assert_eq!(parsed.reason, None);
}

#[test]
fn enum_numbers_unknown_to_the_type_are_left_out_like_cpp_unknown_fields() {
    use prost::Message as _;
    // v0 MasterInfo has QUOTA_V2 = 3; upstream 1.11's v1 twin does not. A
    // v0 encoding read as v1 keeps 3 as an unknown field in C++, so the
    // capability renders as `{}`.
    let v0 = mesos::MasterInfo {
        id: "m".into(),
        capabilities: vec![
            mesos::master_info::Capability { r#type: Some(1) },
            mesos::master_info::Capability { r#type: Some(3) },
        ],
        ..Default::default()
    };
    let v1 = mesos_proto::mesos::v1::MasterInfo::decode(v0.encode_to_vec().as_slice()).unwrap();
    let rendered = to_string(&v1);
    assert!(
        rendered.ends_with(r#""capabilities":[{"type":"AGENT_UPDATE"},{}]}"#),
        "{rendered}"
    );
}
