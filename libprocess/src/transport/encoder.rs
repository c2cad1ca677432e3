//! The outbound message encoder, byte for byte as upstream's
//! `MessageEncoder::encode` (`3rdparty/libprocess/src/encoder.hpp`) in
//! releases 1.2 to 1.11:
//!
//! ```text
//! POST /<to.id>/<name> HTTP/1.1\r\n
//! User-Agent: libprocess/<from>\r\n
//! Libprocess-From: <from>\r\n
//! Connection: Keep-Alive\r\n
//! Host: \r\n
//! Transfer-Encoding: chunked\r\n        (only with a body)
//! \r\n
//! <hex length>\r\n<body>\r\n0\r\n\r\n     (only with a body)
//! ```

use std::fmt::Write as _;

use bytes::{BufMut, Bytes, BytesMut};

use crate::UPID;

/// Encodes message `name` from `from` to `to` with `body`.
pub fn encode_message(from: &UPID, to: &UPID, name: &str, body: &[u8]) -> Bytes {
    let mut head = String::with_capacity(160 + name.len());
    head.push_str("POST ");
    // An empty id would give "//name"; upstream leaves the segment out.
    if !to.id.is_empty() {
        head.push('/');
        head.push_str(&to.id);
    }
    let _ = write!(
        head,
        "/{name} HTTP/1.1\r\nUser-Agent: libprocess/{from}\r\nLibprocess-From: {from}\r\n\
         Connection: Keep-Alive\r\nHost: \r\n"
    );
    let mut out = BytesMut::with_capacity(head.len() + body.len() + 48);
    out.put_slice(head.as_bytes());
    if body.is_empty() {
        out.put_slice(b"\r\n");
    } else {
        let _ = write!(
            ChunkWriter(&mut out),
            "Transfer-Encoding: chunked\r\n\r\n{:x}\r\n",
            body.len()
        );
        out.put_slice(body);
        out.put_slice(b"\r\n0\r\n\r\n");
    }
    out.freeze()
}

struct ChunkWriter<'a>(&'a mut BytesMut);

impl std::fmt::Write for ChunkWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.put_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_with_body_is_one_chunk() {
        let from: UPID = "slave(1)@10.0.0.2:5051".parse().unwrap();
        let to: UPID = "master@10.0.0.1:5050".parse().unwrap();
        let bytes = encode_message(
            &from,
            &to,
            "mesos.internal.RegisterSlaveMessage",
            &[7u8; 26],
        );
        let mut expected = b"POST /master/mesos.internal.RegisterSlaveMessage HTTP/1.1\r\n\
User-Agent: libprocess/slave(1)@10.0.0.2:5051\r\n\
Libprocess-From: slave(1)@10.0.0.2:5051\r\n\
Connection: Keep-Alive\r\n\
Host: \r\n\
Transfer-Encoding: chunked\r\n\r\n\
1a\r\n"
            .to_vec();
        expected.extend_from_slice(&[7u8; 26]);
        expected.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(&bytes[..], &expected[..]);
    }

    #[test]
    fn empty_message_has_no_body_headers() {
        let from: UPID = "slave(1)@10.0.0.2:5051".parse().unwrap();
        let to: UPID = "slave-observer(3)@10.0.0.1:5050".parse().unwrap();
        let bytes = encode_message(&from, &to, "mesos.internal.PongSlaveMessage", b"");
        assert_eq!(
            &bytes[..],
            &b"POST /slave-observer(3)/mesos.internal.PongSlaveMessage HTTP/1.1\r\n\
User-Agent: libprocess/slave(1)@10.0.0.2:5051\r\n\
Libprocess-From: slave(1)@10.0.0.2:5051\r\n\
Connection: Keep-Alive\r\n\
Host: \r\n\r\n"[..]
        );
    }
}
