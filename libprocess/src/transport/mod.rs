//! The libprocess wire transport: one HTTP/1.1 socket per OS process that
//! carries both messages and endpoint requests (wire facts §1).
//!
//! - [`decoder`]: incremental request decoder (fuzzed).
//! - [`encoder`]: outbound message encoding, byte-exact with upstream.
//! - `server`: inbound connections; answers 202/404 in order, never closes
//!   an idle connection.
//! - `sockets`: one outbound connection per peer address, links, exited.

pub mod decoder;
pub mod encoder;
mod server;
mod sockets;

pub use decoder::{DecodeError, Limits, RawRequest, RequestDecoder};
pub use encoder::encode_message;
pub(crate) use server::serve;
pub(crate) use sockets::SocketManager;
