//! Mesos protobuf types, JSON as upstream renders it, and RecordIO framing.
//!
//! The `.proto` files under `include/` (public API, laid out like upstream's
//! `include/mesos/**`) and `internal/` (upstream's `src/messages/**`) are ours;
//! package, message and field names, numbers, types, defaults and enum values
//! match upstream Mesos 1.11 exactly, which the oracle tests in
//! `tests/` check against upstream-generated code. `build.rs` compiles them
//! with `protox` and generates prost types, so nothing is downloaded and no
//! `protoc` is needed.
//!
//! - [`mesos`], [`mesos::v1`], [`mesos::internal`], ...: the prost types, each
//!   implementing [`prost::Name`] with the upstream full type name (the
//!   libprocess message name).
//! - [`Message`]: what libprocess sends; required fields are present by
//!   construction (see its doc).
//! - [`api`]: the v1 HTTP APIs' media types and call decoding.
//! - [`json`]: stout's `JSON::protobuf` rendering and `protobuf::parse`.
//! - [`model`]: JSON writers shared by the master's and agent's endpoints.
//! - [`recordio`]: the `<length>\n<record>` framing of the v1 streaming APIs.
//! - [`resources`]: `Resources` arithmetic, parsing, validation and printing.
//! - [`conversions`]: what offer operations (RESERVE, CREATE, ...) turn
//!   resources into, and checkpointed resources applied to an agent's total.
//! - [`values`]: scalar, ranges and set arithmetic and the text form of values.
//! - [`validation`]: health check, check and command validation shared by
//!   the master and the executors (upstream `src/common/validation.cpp`).

#![warn(missing_docs)]

pub mod api;
pub mod conversions;
pub mod json;
pub mod model;
pub mod recordio;
pub mod resources;
pub mod validation;
pub mod values;

#[allow(missing_docs, clippy::all, clippy::pedantic, rust_2018_idioms)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/_includes.rs"));
}

pub use generated::*;

/// The serialized `FileDescriptorSet` of every `.proto` in this crate.
pub const DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor_set.bin"));

/// A protobuf message as this project sends it: prost encoding and the
/// upstream full type name (the libprocess message name).
///
/// proto2 `required` fields: upstream's C++ parser drops a message that
/// lacks one (wire facts §1.6). prost generates every required field as a
/// plain value (a scalar, or a nested message struct, never an `Option`)
/// and always encodes it, so a message built from these types cannot lack
/// one at any depth; `tests/tests/oracle.rs` checks this against upstream's
/// generated Python parser.
pub trait Message: prost::Message + prost::Name + Default {}

impl<T: prost::Message + prost::Name + Default> Message for T {}

impl mesos::TaskState {
    /// Returns whether a task in this state will not change state again
    /// (upstream's `protobuf::isTerminalState`): FINISHED, FAILED, KILLED,
    /// ERROR, LOST, DROPPED, GONE and GONE_BY_OPERATOR. UNREACHABLE and
    /// UNKNOWN are not terminal.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::TaskFinished
                | Self::TaskFailed
                | Self::TaskKilled
                | Self::TaskError
                | Self::TaskLost
                | Self::TaskDropped
                | Self::TaskGone
                | Self::TaskGoneByOperator
        )
    }
}
