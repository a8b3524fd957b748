//! The deterministic bytes every connection sends, so each echoed byte can be checked
//! without keeping a copy of what was sent.

/// Length of the repeating pseudo-random sequence; prime, so no message size lines up
/// with it and consecutive messages differ.
const PERIOD: usize = 65_521;

/// Longest slice [`Pattern::slice`] hands out; writes and reads are capped to it.
pub const MAX_CHUNK: usize = 64 * 1024;

/// A pseudo-random byte stream, stored once with a tail so any chunk is contiguous.
pub struct Pattern {
    bytes: Box<[u8]>,
}

impl Pattern {
    /// Builds the sequence (xorshift32) and its wrap-around tail.
    pub fn new() -> Self {
        let mut state: u32 = 0x9E37_79B9;
        let mut bytes = Vec::with_capacity(PERIOD + MAX_CHUNK);
        for _ in 0..PERIOD {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            bytes.push((state >> 24) as u8);
        }
        for i in 0..MAX_CHUNK {
            bytes.push(bytes[i]);
        }
        Pattern {
            bytes: bytes.into_boxed_slice(),
        }
    }

    /// The `len` bytes at stream `offset`.
    ///
    /// # Panics
    ///
    /// If `len` exceeds [`MAX_CHUNK`].
    pub fn slice(&self, offset: u64, len: usize) -> &[u8] {
        let start = (offset % PERIOD as u64) as usize;
        &self.bytes[start..start + len]
    }

    /// Where connection `index` starts in the stream: spread apart so connections differ.
    pub fn base(index: usize) -> u64 {
        index as u64 * 7_919
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_wrap_around_the_period_seamlessly() {
        let p = Pattern::new();
        let whole: Vec<u8> = (0..200u64)
            .map(|i| p.slice(PERIOD as u64 - 100 + i, 1)[0])
            .collect();
        assert_eq!(p.slice(PERIOD as u64 - 100, 200), &whole[..]);
        assert_ne!(
            p.slice(0, 64),
            p.slice(64, 64),
            "consecutive messages differ"
        );
        assert_ne!(p.slice(Pattern::base(0), 64), p.slice(Pattern::base(1), 64));
    }
}
