//! Filesystem isolators (upstream `isolators/filesystem/`).

pub mod linux;
