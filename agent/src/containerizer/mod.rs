//! The containerizer seam (upstream `src/slave/containerizer/`).
//!
//! So far: the Mesos containerizer with the posix launcher and the
//! `posix/cpu`, `posix/mem` isolators, which isolate nothing (upstream's
//! posix isolators only report usage). A container is an executor process
//! in its own session and process group, started in its sandbox with
//! `stdout` and `stderr` there; destroying it kills the process group.

pub mod posix;

pub use posix::PosixLauncher;
