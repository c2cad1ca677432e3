//! libprocess integration tests: real sockets on 127.0.0.1, raw bytes as
//! upstream peers write them, and processes on actix.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

mod support;

mod http;
mod local;
mod transport;
