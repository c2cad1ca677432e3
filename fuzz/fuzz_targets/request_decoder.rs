//! Fuzzes `libprocess::transport::RequestDecoder`.
//!
//! Input: see `fuzz/src/lib.rs` (control byte, piece sizes, stream); bits
//! 3-4 of the control byte pick one of the small `LIMITS` below.
//!
//! Checks:
//! - no panic, whatever the input and however it is split;
//! - differential: the stream fed all at once and fed in the pieces the
//!   input chooses (one byte at a time when it chooses none) give the same
//!   sequence of requests, ending in the same error kind (variant and
//!   status; the message text may differ) or in none;
//! - after an error the decoder stays failed (`next()` errs again, even
//!   after more input);
//! - every request's body is within `max_body`.
//!
//! `FUZZ_TOLERATE_KNOWN=1` in the environment lets the already reported
//! divergences through (see `known_divergence`).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use libprocess::transport::{DecodeError, Limits, RawRequest, RequestDecoder};
use mesos_rs_fuzz::Split;

const LIMITS: [Limits; 4] = [
    Limits {
        max_head: 512,
        max_headers: 16,
        max_body: 1024,
    },
    Limits {
        max_head: 64,
        max_headers: 4,
        max_body: 16,
    },
    Limits {
        max_head: 200,
        max_headers: 8,
        max_body: 100,
    },
    Limits {
        max_head: 2048,
        max_headers: 32,
        max_body: 4096,
    },
];

#[derive(Debug, PartialEq, Eq)]
enum ErrorKind {
    Malformed,
    Framing,
    Chunk,
    TooLarge { what: &'static str, limit: usize },
    Unsupported,
}

fn kind(error: &DecodeError) -> (ErrorKind, u16) {
    let kind = match error {
        DecodeError::Malformed(_) => ErrorKind::Malformed,
        DecodeError::Framing(_) => ErrorKind::Framing,
        DecodeError::Chunk(_) => ErrorKind::Chunk,
        DecodeError::TooLarge { what, limit } => ErrorKind::TooLarge {
            what,
            limit: *limit,
        },
        DecodeError::Unsupported(_) => ErrorKind::Unsupported,
    };
    (kind, error.status())
}

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    requests: Vec<RawRequest>,
    /// The error that ended decoding, with its message for the report.
    error: Option<(ErrorKind, u16, String)>,
}

impl Outcome {
    fn comparable(&self) -> (&[RawRequest], Option<(&ErrorKind, u16)>) {
        (&self.requests, self.error.as_ref().map(|(k, s, _)| (k, *s)))
    }
}

fn decode(limits: Limits, pieces: &[&[u8]]) -> Outcome {
    let mut decoder = RequestDecoder::new(limits);
    let mut requests = Vec::new();
    for piece in pieces {
        decoder.feed(piece);
        loop {
            match decoder.next() {
                Ok(Some(request)) => {
                    assert!(
                        request.body.len() <= limits.max_body,
                        "body of {} bytes over max_body {}",
                        request.body.len(),
                        limits.max_body
                    );
                    // Exercise the accessors too.
                    let _ = request.keep_alive();
                    let _ = request.header("Libprocess-From");
                    requests.push(request);
                }
                Ok(None) => break,
                Err(error) => {
                    let (kind, status) = kind(&error);
                    assert!((400..600).contains(&status), "status {status}");
                    // Failed is terminal.
                    assert!(decoder.next().is_err(), "decoder recovered after {error}");
                    decoder.feed(b"GET / HTTP/1.1\r\n\r\n");
                    assert!(decoder.next().is_err(), "decoder recovered after {error}");
                    return Outcome {
                        requests,
                        error: Some((kind, status, error.to_string())),
                    };
                }
            }
        }
    }
    let _ = decoder.in_progress();
    Outcome {
        requests,
        error: None,
    }
}

/// Whether `FUZZ_TOLERATE_KNOWN` is set (to anything but `0`).
fn tolerate_known() -> bool {
    static TOLERATE: OnceLock<bool> = OnceLock::new();
    *TOLERATE.get_or_init(|| std::env::var("FUZZ_TOLERATE_KNOWN").is_ok_and(|v| v != "0"))
}

/// The two split-dependent behaviours already reported (docs/fuzzing.md,
/// "Findings"), which `FUZZ_TOLERATE_KNOWN=1` lets through so a run can look
/// for anything else:
/// 1. the head limit is checked only while the head is incomplete: fed
///    whole, a head that goes wrong past `max_head` bytes is `Malformed`
///    (400); fed in pieces, the first piece that leaves more than
///    `max_head` bytes of incomplete head makes it `TooLarge` (431);
/// 2. a chunk-size or trailer line is refused as "chunk line too long" only
///    while its CRLF has not arrived and more than 1024 bytes are buffered:
///    fed whole, a longer line is accepted (an extension or trailer) or
///    fails differently.
fn known_divergence(whole: &Outcome, pieces: &Outcome) -> bool {
    let head_limit = whole.requests == pieces.requests
        && matches!(&whole.error, Some((ErrorKind::Malformed, ..)))
        && matches!(
            &pieces.error,
            Some((
                ErrorKind::TooLarge {
                    what: "request head",
                    ..
                },
                ..
            ))
        );
    let chunk_line = whole.requests.starts_with(&pieces.requests)
        && matches!(&pieces.error, Some((ErrorKind::Chunk, _, message)) if message.ends_with("chunk line too long"));
    head_limit || chunk_line
}

fuzz_target!(|data: &[u8]| {
    let Some(split) = Split::parse(data) else {
        return;
    };
    let limits = LIMITS[split.preset];
    let whole = decode(limits, &[split.stream]);
    let pieces = decode(limits, &split.pieces());
    if tolerate_known() && known_divergence(&whole, &pieces) {
        return;
    }
    assert_eq!(
        whole.comparable(),
        pieces.comparable(),
        "whole vs pieces differ:\nwhole:  {whole:?}\npieces: {pieces:?}"
    );
});
