//! RecordIO: the framing of the v1 streaming APIs (`docs/recordio.md`).
//!
//! Each record is its length in bytes as ASCII decimal, a `\n`, then the
//! record itself: `5\nhello`. Upstream counterparts:
//! `3rdparty/stout/include/stout/recordio.hpp` and `src/common/recordio.hpp`.
//!
//! [`Decoder`] is incremental: feed it whatever a read returned and it hands
//! back the records completed so far, keeping partial ones for the next
//! call. A record longer than the configured maximum, or a malformed header,
//! is an error, after which the decoder refuses further input (upstream's
//! decoder enters a FAILED state the same way).

use bytes::{Buf, Bytes, BytesMut};

/// Upstream's default bound on one record is unbounded; ours is 64 MiB so a
/// hostile peer cannot make us allocate without limit.
pub const DEFAULT_MAX_RECORD: usize = 64 * 1024 * 1024;

/// The longest length header we accept (digits of `u64::MAX`).
const MAX_HEADER_DIGITS: usize = 20;

/// RecordIO decoding errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordIoError {
    /// The length header is not a decimal number followed by `\n`.
    #[error("failed to decode recordio header: {0}")]
    Header(String),
    /// The announced length exceeds the decoder's maximum.
    #[error("record of {length} bytes exceeds the maximum of {max} bytes")]
    TooLarge {
        /// Announced length.
        length: u64,
        /// Configured maximum.
        max: usize,
    },
    /// The decoder failed earlier and takes no more input.
    #[error("decoder is in a failed state")]
    Failed,
    /// The stream ended inside a record.
    #[error("stream ended with a partial record of {0} bytes")]
    Truncated(usize),
}

/// Frames one record.
pub fn encode(record: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(record.len() + 12);
    encode_into(record, &mut out);
    out.freeze()
}

/// Appends one framed record to `out`.
pub fn encode_into(record: &[u8], out: &mut BytesMut) {
    out.extend_from_slice(record.len().to_string().as_bytes());
    out.extend_from_slice(b"\n");
    out.extend_from_slice(record);
}

/// Incremental RecordIO decoder.
#[derive(Debug)]
pub struct Decoder {
    buffer: BytesMut,
    /// Length of the record being read, once its header is complete.
    pending: Option<usize>,
    max: usize,
    failed: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_RECORD)
    }
}

impl Decoder {
    /// Returns a decoder that refuses records longer than `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            buffer: BytesMut::new(),
            pending: None,
            max,
            failed: false,
        }
    }

    /// Feeds `data` and returns every record it completed.
    pub fn decode(&mut self, data: &[u8]) -> Result<Vec<Bytes>, RecordIoError> {
        if self.failed {
            return Err(RecordIoError::Failed);
        }
        self.buffer.extend_from_slice(data);
        let mut records = Vec::new();
        loop {
            match self.pending {
                None => {
                    let Some(newline) = self.buffer.iter().position(|b| *b == b'\n') else {
                        if self.buffer.len() > MAX_HEADER_DIGITS {
                            return Err(
                                self.fail(RecordIoError::Header("header too long".to_string()))
                            );
                        }
                        break;
                    };
                    let header = &self.buffer[..newline];
                    let length = parse_length(header).map_err(|e| self.fail(e))?;
                    if length > self.max as u64 {
                        let max = self.max;
                        return Err(self.fail(RecordIoError::TooLarge { length, max }));
                    }
                    self.buffer.advance(newline + 1);
                    self.pending = Some(length as usize);
                }
                Some(length) => {
                    if self.buffer.len() < length {
                        break;
                    }
                    records.push(self.buffer.split_to(length).freeze());
                    self.pending = None;
                }
            }
        }
        Ok(records)
    }

    /// Checks that the stream ended on a record boundary.
    pub fn finish(&self) -> Result<(), RecordIoError> {
        if self.pending.is_some() || !self.buffer.is_empty() {
            return Err(RecordIoError::Truncated(self.buffer.len()));
        }
        Ok(())
    }

    fn fail(&mut self, error: RecordIoError) -> RecordIoError {
        self.failed = true;
        self.buffer.clear();
        error
    }
}

fn parse_length(header: &[u8]) -> Result<u64, RecordIoError> {
    if header.is_empty()
        || header.len() > MAX_HEADER_DIGITS
        || !header.iter().all(u8::is_ascii_digit)
    {
        return Err(RecordIoError::Header(format!(
            "'{}' is not a decimal length",
            String::from_utf8_lossy(&header[..header.len().min(32)])
        )));
    }
    std::str::from_utf8(header)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| RecordIoError::Header("length out of range".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_length_newline_record() {
        assert_eq!(&encode(b"hello")[..], b"5\nhello");
        assert_eq!(&encode(b"")[..], b"0\n");
    }

    #[test]
    fn decodes_across_partial_reads() {
        let stream = [encode(b"hello"), encode(b""), encode(b"world!")].concat();
        for split in 0..stream.len() {
            let mut decoder = Decoder::default();
            let mut records = decoder.decode(&stream[..split]).unwrap();
            records.extend(decoder.decode(&stream[split..]).unwrap());
            assert_eq!(records, vec![&b"hello"[..], &b""[..], &b"world!"[..]]);
            decoder.finish().unwrap();
        }
    }

    #[test]
    fn byte_at_a_time() {
        let stream = [encode(b"abc"), encode(b"de")].concat();
        let mut decoder = Decoder::default();
        let mut records = Vec::new();
        for b in &stream {
            records.extend(decoder.decode(std::slice::from_ref(b)).unwrap());
        }
        assert_eq!(records, vec![&b"abc"[..], &b"de"[..]]);
    }

    #[test]
    fn oversize_record_is_refused_and_decoder_fails() {
        let mut decoder = Decoder::new(4);
        assert_eq!(
            decoder.decode(b"5\nhello"),
            Err(RecordIoError::TooLarge { length: 5, max: 4 })
        );
        assert_eq!(decoder.decode(b"1\na"), Err(RecordIoError::Failed));
    }

    #[test]
    fn malformed_headers_are_refused() {
        assert!(matches!(
            Decoder::default().decode(b"x\n"),
            Err(RecordIoError::Header(_))
        ));
        assert!(matches!(
            Decoder::default().decode(b"\n"),
            Err(RecordIoError::Header(_))
        ));
        assert!(matches!(
            Decoder::default().decode(b"-1\n"),
            Err(RecordIoError::Header(_))
        ));
        assert!(matches!(
            Decoder::default().decode(b"123456789012345678901234"),
            Err(RecordIoError::Header(_))
        ));
    }

    #[test]
    fn truncated_stream_is_reported() {
        let mut decoder = Decoder::default();
        decoder.decode(b"5\nhel").unwrap();
        assert_eq!(decoder.finish(), Err(RecordIoError::Truncated(3)));
    }
}
