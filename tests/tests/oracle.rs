//! Oracle tests: our encodings against encodings nobody in this project wrote.
//!
//! - The descriptors of upstream Mesos 1.11.0, extracted from the libmesos
//!   inside PyPI's `mesos.scheduler` 1.11.0, against
//!   [`mesos_proto::DESCRIPTOR_SET`]; and the same for the `mesos_pb2` module
//!   that upstream generated for PyPI's `mesos.interface` 1.11.0.
//! - Messages built and serialized by that `mesos_pb2`: decoded with our
//!   prost types and re-encoded, byte for byte.
//! - Our encodings (defaults included) parsed by `mesos_pb2`, or by
//!   protobuf's reflection over upstream's descriptors, which must find every
//!   required field and no unknown one.
//! - JSON documents from upstream's docs, in stout's rendering, parsed and
//!   rendered again by [`mesos_proto::json`].
//!
//! They need `scripts/setup-python.sh` (the venv and the extracted
//! descriptors); without it they print `SKIPPED: ...` and pass, except under
//! `CI=true`, where they fail. See `tests/interop/README.md`.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use mesos_proto::mesos;
use prost::Name;

/// What the oracles need: the venv's python and the extracted descriptors.
struct Oracle {
    python: PathBuf,
    descriptors: PathBuf,
    interop: PathBuf,
}

impl Oracle {
    /// Finds the set-up, or says why not: a panic under `CI=true`, else
    /// `SKIPPED: ...` and `None`.
    fn find() -> Option<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("tests/ is inside the repository")
            .to_path_buf();
        let oracle = Self {
            python: root.join(".venv/bin/python"),
            descriptors: root.join(".cache/interop/mesos-1.11.0-descriptors.pb"),
            interop: root.join("tests/interop"),
        };
        let missing: Vec<String> = [&oracle.python, &oracle.descriptors]
            .into_iter()
            .filter(|path| !path.exists())
            .map(|path| path.display().to_string())
            .collect();
        if missing.is_empty() {
            return Some(oracle);
        }
        let why = format!(
            "the interop oracles are not set up (missing {}); run scripts/setup-python.sh",
            missing.join(", ")
        );
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!("{why}");
        }
        println!("SKIPPED: {why}");
        None
    }

    fn script(&self, name: &str) -> PathBuf {
        self.interop.join(name)
    }

    /// Runs a script of tests/interop with the venv's python, feeding `stdin`.
    fn run(&self, script: &str, args: &[&Path], stdin: &str) -> Output {
        let mut child = Command::new(&self.python)
            .arg(self.script(script))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.python.display()));
        let mut input = child.stdin.take().expect("stdin is piped");
        let stdin = stdin.to_owned();
        let writer = std::thread::spawn(move || input.write_all(stdin.as_bytes()));
        let output = child.wait_with_output().expect("the script runs");
        writer
            .join()
            .expect("the writer thread ends")
            .expect("the script reads its input");
        output
    }

    /// `v0_messages.py check ORACLE.pb` over `lines`; panics listing the
    /// failures.
    fn check_upstream_parses(&self, lines: &[String]) {
        let output = self.run(
            "v0_messages.py",
            &[Path::new("check"), &self.descriptors],
            &(lines.join("\n") + "\n"),
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        println!("{stdout}");
        assert!(
            output.status.success(),
            "upstream's parser rejected some of our encodings:\n{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains(&format!("checked {} messages: 0 failed", lines.len())),
            "not every message was checked:\n{stdout}"
        );
    }
}

/// A file in the test target's scratch directory, unique to this process.
fn scratch(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("oracle-{}-{name}", std::process::id()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "odd-length hex: {text}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digits"))
        .collect()
}

/// `<full type name> <hex>`, as v0_messages.py reads and writes them.
fn line<M: prost::Message + Name>(message: &M) -> String {
    format!("{} {}", M::full_name(), hex(&message.encode_to_vec()))
}

/// Runs compare_descriptors.py of our descriptor set against `oracle`.
fn compare_with(oracle: &Oracle, theirs: &Path) -> String {
    let ours = scratch("ours.pb");
    std::fs::write(&ours, mesos_proto::DESCRIPTOR_SET).expect("write our descriptor set");
    let output = oracle.run("compare_descriptors.py", &[&ours, theirs], "");
    let _ = std::fs::remove_file(&ours);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    println!("{stdout}");
    assert!(
        output.status.success(),
        "our .proto files differ from upstream 1.11.0's ({}):\n{}{}",
        theirs.display(),
        stdout
            .lines()
            .filter(|l| l.starts_with("DIFFERENCE") || l.starts_with("compared"))
            .collect::<Vec<_>>()
            .join("\n"),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn descriptors_match_upstream_libmesos() {
    let Some(oracle) = Oracle::find() else { return };
    let report = compare_with(&oracle, &oracle.descriptors);
    // The files every part of this project speaks must have been compared.
    for file in [
        "mesos/mesos.proto",
        "mesos/v1/mesos.proto",
        "mesos/scheduler/scheduler.proto",
        "mesos/v1/scheduler/scheduler.proto",
        "mesos/executor/executor.proto",
        "mesos/v1/executor/executor.proto",
        "messages/messages.proto",
    ] {
        assert!(
            report
                .lines()
                .any(|l| l.starts_with(file) && l.ends_with(" 0 differences")),
            "{file} was not compared"
        );
    }
}

#[test]
fn descriptors_match_upstream_mesos_pb2() {
    let Some(oracle) = Oracle::find() else { return };
    let theirs = scratch("mesos_pb2.pb");
    let output = oracle.run("v0_messages.py", &[Path::new("descriptor"), &theirs], "");
    assert!(
        output.status.success(),
        "v0_messages.py descriptor failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = compare_with(&oracle, &theirs);
    let _ = std::fs::remove_file(&theirs);
    assert!(
        report.contains("compared 1 files"),
        "mesos/mesos.proto was not compared"
    );
}

type Reencode = fn(&[u8]) -> Result<Vec<u8>, prost::DecodeError>;

fn reencode<M: prost::Message + Default>(bytes: &[u8]) -> Result<Vec<u8>, prost::DecodeError> {
    Ok(M::decode(bytes)?.encode_to_vec())
}

/// Our prost type for a full type name that v0_messages.py emits.
macro_rules! by_full_name {
    ($name:expr, $f:ident, [$($ty:ty),+ $(,)?]) => {{
        let name: &str = $name;
        let found: Option<Reencode> = None;
        $(let found = found.or_else(|| (name == <$ty>::full_name()).then_some($f::<$ty> as Reencode));)+
        found
    }};
}

#[test]
fn upstream_v0_encodings_round_trip_byte_for_byte() {
    let Some(oracle) = Oracle::find() else { return };
    let output = oracle.run("v0_messages.py", &[Path::new("emit")], "");
    assert!(
        output.status.success(),
        "v0_messages.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("ASCII output");
    let mut count = 0;
    let mut failures = Vec::new();
    for entry in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let (name, hexed) = entry.split_once(' ').unwrap_or((entry, ""));
        let bytes = unhex(hexed.trim());
        let reencode = by_full_name!(
            name,
            reencode,
            [
                mesos::FrameworkInfo,
                mesos::FrameworkId,
                mesos::TaskInfo,
                mesos::Resource,
                mesos::Offer,
                mesos::offer::Operation,
                mesos::TaskStatus,
                mesos::SlaveInfo,
                mesos::MasterInfo,
                mesos::Labels,
                mesos::HealthCheck,
                mesos::CommandInfo,
                mesos::ExecutorInfo,
                mesos::ContainerInfo,
                mesos::Task,
                mesos::Filters,
                mesos::DomainInfo,
            ]
        )
        .unwrap_or_else(|| panic!("no prost type mapped for {name}: add it to the list"));
        count += 1;
        match reencode(&bytes) {
            Ok(ours) if ours == bytes => {}
            Ok(ours) => failures.push(format!(
                "{name}: re-encoded differently\n  upstream {}\n  ours     {}",
                hex(&bytes),
                hex(&ours)
            )),
            Err(e) => failures.push(format!("{name}: does not decode: {e}")),
        }
    }
    println!("{count} upstream v0 messages decoded and re-encoded");
    assert!(count >= 20, "v0_messages.py emitted only {count} messages");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn our_encodings_parse_and_are_initialized_upstream() {
    let Some(oracle) = Oracle::find() else { return };
    use mesos::internal;
    use mesos_proto::mesos::v1;

    let register = internal::RegisterSlaveMessage::default();
    let task_with_parts = mesos::TaskInfo {
        resources: vec![mesos::Resource::default()],
        command: Some(mesos::CommandInfo {
            uris: vec![mesos::command_info::Uri::default()],
            ..Default::default()
        }),
        container: Some(mesos::ContainerInfo {
            docker: Some(mesos::container_info::DockerInfo::default()),
            volumes: vec![mesos::Volume::default()],
            ..Default::default()
        }),
        health_check: Some(mesos::HealthCheck::default()),
        labels: Some(mesos::Labels {
            labels: vec![mesos::Label::default()],
        }),
        ..Default::default()
    };
    let offer_with_parts = mesos::Offer {
        resources: vec![mesos::Resource::default()],
        attributes: vec![mesos::Attribute::default()],
        executor_ids: vec![mesos::ExecutorId::default()],
        ..Default::default()
    };
    let lines = vec![
        // mesos.* types nested in internal messages: parsed by mesos_pb2.
        line(&register.slave),
        line(&internal::StatusUpdate::default().status),
        line(&internal::RunTaskMessage::default().framework),
        // v0 public types: mesos_pb2.
        line(&mesos::FrameworkInfo::default()),
        line(&mesos::TaskInfo::default()),
        line(&task_with_parts),
        line(&mesos::TaskStatus::default()),
        line(&mesos::Offer::default()),
        line(&offer_with_parts),
        line(&mesos::Resource::default()),
        line(&mesos::ExecutorInfo::default()),
        line(&mesos::SlaveInfo::default()),
        line(&mesos::MasterInfo::default()),
        line(&mesos::ContainerInfo::default()),
        line(&mesos::Task::default()),
        // Internal messages: protobuf's reflection over upstream descriptors.
        line(&register),
        line(&internal::ReregisterSlaveMessage::default()),
        line(&internal::StatusUpdate::default()),
        line(&internal::StatusUpdateMessage::default()),
        line(&internal::RunTaskMessage::default()),
        line(&internal::RunTaskMessage {
            task: task_with_parts.clone(),
            ..Default::default()
        }),
        line(&internal::RunTaskGroupMessage::default()),
        line(&internal::RegisterFrameworkMessage::default()),
        line(&internal::FrameworkRegisteredMessage::default()),
        line(&internal::ResourceOffersMessage {
            offers: vec![offer_with_parts.clone()],
            ..Default::default()
        }),
        line(&internal::UpdateFrameworkMessage::default()),
        line(&internal::ExecutorRegisteredMessage::default()),
        line(&internal::SlaveRegisteredMessage::default()),
        // Reservations and persistent volumes: what the master tells agents
        // to checkpoint, and the offer operations that make them.
        line(&internal::CheckpointResourcesMessage {
            resources: vec![mesos::Resource {
                reservations: vec![mesos::resource::ReservationInfo {
                    r#type: Some(mesos::resource::reservation_info::Type::Dynamic as i32),
                    role: Some("web".into()),
                    principal: Some("ops".into()),
                    ..Default::default()
                }],
                disk: Some(mesos::resource::DiskInfo {
                    persistence: Some(mesos::resource::disk_info::Persistence::default()),
                    volume: Some(mesos::Volume::default()),
                    ..Default::default()
                }),
                ..Default::default()
            }],
        }),
        line(&mesos::offer::Operation {
            reserve: Some(mesos::offer::operation::Reserve::default()),
            create: Some(mesos::offer::operation::Create::default()),
            destroy: Some(mesos::offer::operation::Destroy::default()),
            unreserve: Some(mesos::offer::operation::Unreserve::default()),
            ..Default::default()
        }),
        // v0 and v1 HTTP API types.
        line(&mesos::scheduler::Call::default()),
        line(&mesos::scheduler::Event::default()),
        line(&mesos::executor::Call::default()),
        line(&mesos::executor::Event::default()),
        line(&v1::scheduler::Call::default()),
        line(&v1::scheduler::Event::default()),
        line(&v1::executor::Call::default()),
        line(&v1::executor::Event::default()),
        line(&v1::master::Call::default()),
        line(&v1::master::Response::default()),
        line(&v1::TaskInfo::default()),
        line(&v1::FrameworkInfo::default()),
    ];
    oracle.check_upstream_parses(&lines);
}

type JsonRoundTrip = fn(&str) -> Result<(String, String), String>;

/// Parses `text` as `M` with our stout-compatible parser, and returns our
/// rendering and a `<type> <hex>` line of the binary encoding.
fn json_round_trip<M: prost::Message + Name + Default>(
    text: &str,
) -> Result<(String, String), String> {
    let message: M = mesos_proto::json::from_str(text).map_err(|e| e.to_string())?;
    Ok((mesos_proto::json::to_string(&message), line(&message)))
}

#[test]
fn upstream_json_documents_round_trip() {
    let Some(oracle) = Oracle::find() else { return };
    let dir = oracle.script("json");
    let index = std::fs::read_to_string(dir.join("index.tsv")).expect("read json/index.tsv");
    let mut failures = Vec::new();
    let mut encodings = Vec::new();
    for entry in index
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut columns = entry.split('\t');
        let (Some(file), Some(type_name)) = (columns.next(), columns.next()) else {
            panic!("malformed index.tsv line: {entry}");
        };
        let document = std::fs::read_to_string(dir.join(file))
            .unwrap_or_else(|e| panic!("read json/{file}: {e}"));
        let document = document.trim_end_matches('\n');
        let round_trip: JsonRoundTrip = match type_name {
            "mesos.v1.scheduler.Call" => json_round_trip::<mesos::v1::scheduler::Call>,
            "mesos.v1.scheduler.Event" => json_round_trip::<mesos::v1::scheduler::Event>,
            "mesos.v1.executor.Call" => json_round_trip::<mesos::v1::executor::Call>,
            "mesos.v1.executor.Event" => json_round_trip::<mesos::v1::executor::Event>,
            "mesos.v1.master.Call" => json_round_trip::<mesos::v1::master::Call>,
            "mesos.v1.master.Response" => json_round_trip::<mesos::v1::master::Response>,
            other => panic!("json/{file}: no prost type mapped for {other}: add it"),
        };
        match round_trip(document) {
            Ok((rendered, encoded)) => {
                if rendered != document {
                    failures.push(format!(
                        "json/{file}: rendered differently\n  upstream {document}\n  ours     {rendered}"
                    ));
                }
                encodings.push(encoded);
            }
            Err(e) => failures.push(format!("json/{file}: does not parse: {e}")),
        }
    }
    println!(
        "{} upstream JSON documents parsed, {} rendered differently or failed",
        encodings.len(),
        failures.len()
    );
    assert!(
        encodings.len() >= 20,
        "only {} JSON documents",
        encodings.len()
    );
    // What the documents decode to is also a complete upstream message.
    oracle.check_upstream_parses(&encodings);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
