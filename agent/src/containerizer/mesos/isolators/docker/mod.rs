//! Docker isolators (upstream `isolators/docker/`).

pub mod runtime;
