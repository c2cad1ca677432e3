//! Helpers shared by the fuzz targets in `fuzz_targets/`.
//!
//! Input layout used by the incremental-decoder targets:
//!
//! ```text
//! byte 0        control: bits 0-2 = L, the number of piece-size bytes (0..=7)
//!                        bits 3-4 = limits preset (target specific)
//!                        bits 5-7 = unused
//! bytes 1..=L   piece sizes, used cyclically; 0 feeds an empty slice
//! the rest      the byte stream handed to the decoder
//! ```
//!
//! With L = 0 the "pieces" run feeds the stream one byte at a time.

/// The parsed control prefix of an input.
pub struct Split<'a> {
    /// Bits 3-4 of the control byte.
    pub preset: usize,
    /// Piece sizes, cycled; never all zero.
    sizes: Vec<usize>,
    /// The stream itself.
    pub stream: &'a [u8],
}

impl<'a> Split<'a> {
    /// Splits `data` into control prefix and stream; `None` when too short.
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        let (&control, rest) = data.split_first()?;
        let count = usize::from(control & 0x07);
        if rest.len() < count {
            return None;
        }
        let (sizes, stream) = rest.split_at(count);
        let mut sizes: Vec<usize> = sizes.iter().map(|&b| usize::from(b)).collect();
        if sizes.iter().all(|&s| s == 0) {
            // No progress otherwise (and L = 0 means byte-at-a-time).
            sizes.push(1);
        }
        Some(Self {
            preset: usize::from((control >> 3) & 0x03),
            sizes,
            stream,
        })
    }

    /// The stream cut into pieces by the cycled sizes (including empty
    /// pieces); their concatenation is the stream.
    pub fn pieces(&self) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        let mut rest = self.stream;
        let mut i = 0;
        while !rest.is_empty() {
            let size = self.sizes[i % self.sizes.len()].min(rest.len());
            let (piece, tail) = rest.split_at(size);
            out.push(piece);
            rest = tail;
            i += 1;
        }
        out
    }
}

/// Every one-byte piece of `stream`.
pub fn bytewise(stream: &[u8]) -> Vec<&[u8]> {
    stream.chunks(1).collect()
}
