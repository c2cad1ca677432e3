//! Fuzzes `mesos_proto::recordio::Decoder`.
//!
//! Input: see `fuzz/src/lib.rs` (control byte, piece sizes, stream); bits
//! 3-4 of the control byte pick the maximum record size from `MAX`.
//!
//! `Decoder::decode` returns the records a call completed, or an error; an
//! error drops the records completed earlier in the same call (as upstream's
//! stout decoder does). So the stream is decoded three ways (all at once,
//! in the input's pieces, one byte at a time) and the target checks:
//! - no panic;
//! - all three fail, with the same error kind, or none does;
//! - without an error: the same records and the same `finish()` result;
//! - with an error: the records the pieces run got before it are a prefix
//!   of those the byte-at-a-time run got (which completes every record as
//!   early as possible), and the decoder stays failed (`Failed`);
//! - every record is within the maximum, and re-encoding the records and
//!   decoding that gives them back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesos_proto::recordio::{encode_into, Decoder, RecordIoError};
use mesos_rs_fuzz::{bytewise, Split};

use bytes::{Bytes, BytesMut};

const MAX: [usize; 4] = [64, 0, 5, 4096];

#[derive(Debug, Clone, PartialEq, Eq)]
enum ErrorKind {
    Header,
    TooLarge { length: u64, max: usize },
    Failed,
    Truncated(usize),
}

fn kind(error: &RecordIoError) -> ErrorKind {
    match error {
        RecordIoError::Header(_) => ErrorKind::Header,
        RecordIoError::TooLarge { length, max } => ErrorKind::TooLarge {
            length: *length,
            max: *max,
        },
        RecordIoError::Failed => ErrorKind::Failed,
        RecordIoError::Truncated(n) => ErrorKind::Truncated(*n),
    }
}

#[derive(Debug)]
struct Outcome {
    records: Vec<Bytes>,
    /// The error that ended decoding, or `finish()`'s result.
    end: Result<Result<(), ErrorKind>, (ErrorKind, String)>,
}

fn decode(max: usize, pieces: &[&[u8]]) -> Outcome {
    let mut decoder = Decoder::new(max);
    let mut records = Vec::new();
    for piece in pieces {
        match decoder.decode(piece) {
            Ok(done) => {
                for record in &done {
                    assert!(
                        record.len() <= max,
                        "record of {} > max {max}",
                        record.len()
                    );
                }
                records.extend(done);
            }
            Err(error) => {
                assert!(
                    !matches!(error, RecordIoError::Failed | RecordIoError::Truncated(_)),
                    "first error is {error:?}"
                );
                assert_eq!(decoder.decode(b"1\na"), Err(RecordIoError::Failed));
                return Outcome {
                    records,
                    end: Err((kind(&error), error.to_string())),
                };
            }
        }
    }
    let end = Ok(decoder.finish().map_err(|e| kind(&e)));
    Outcome { records, end }
}

fuzz_target!(|data: &[u8]| {
    let Some(split) = Split::parse(data) else {
        return;
    };
    let max = MAX[split.preset];
    let whole = decode(max, &[split.stream]);
    let pieces = decode(max, &split.pieces());
    let bytes = decode(max, &bytewise(split.stream));

    let end = |o: &Outcome| match &o.end {
        Ok(finish) => Ok(finish.clone()),
        Err((kind, _)) => Err(kind.clone()),
    };
    assert_eq!(
        end(&whole),
        end(&pieces),
        "whole vs pieces end differently:\nwhole:  {whole:?}\npieces: {pieces:?}"
    );
    assert_eq!(
        end(&whole),
        end(&bytes),
        "whole vs byte-at-a-time end differently:\nwhole: {whole:?}\nbytes: {bytes:?}"
    );
    if whole.end.is_ok() {
        assert_eq!(whole.records, pieces.records, "whole vs pieces records");
        assert_eq!(
            whole.records, bytes.records,
            "whole vs byte-at-a-time records"
        );
    } else {
        assert!(whole.records.is_empty());
        assert!(
            bytes.records.starts_with(&pieces.records),
            "pieces records not a prefix of byte-at-a-time records:\npieces: {pieces:?}\nbytes: {bytes:?}"
        );
    }

    // Round trip: the records, re-framed, decode to themselves.
    let mut stream = BytesMut::new();
    for record in &bytes.records {
        encode_into(record, &mut stream);
    }
    let mut decoder = Decoder::new(max);
    assert_eq!(decoder.decode(&stream).as_ref(), Ok(&bytes.records));
    assert_eq!(decoder.finish(), Ok(()));
});
