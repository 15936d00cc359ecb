//! Batch compression codecs, pure Rust, the same formats Fluvio uses: gzip (deflate level 6,
//! via `flate2`'s Rust backend), Snappy in its framing format (`snap`), LZ4 in its frame
//! format (`lz4_flex`). Decompression is bounded by a caller-given limit, so a hostile
//! batch cannot inflate without bound.
//!
//! The codecs are the `codecs` cargo feature (on by default). A build without it (the npm
//! package's small default build) knows only `Compression::None`:
//! [`Compression::available`] says which a build has, and configuring another is an
//! `INVALID_CONFIG` error, never a silent fallback.

use alloc::vec::Vec;

use crate::config::Compression;
use crate::error::DecodeError;

impl Compression {
    /// True when this build has the codec.
    pub fn available(self) -> bool {
        self == Compression::None || cfg!(feature = "codecs")
    }
}

/// Compresses `data` with `codec`. `Compression::None` copies.
///
/// # Panics
/// If the codec is not [`Compression::available`] (configuration refuses such codecs).
pub fn compress(codec: Compression, data: &[u8]) -> Vec<u8> {
    match codec {
        Compression::None => data.to_vec(),
        #[cfg(feature = "codecs")]
        other => codecs::compress(other, data),
        #[cfg(not(feature = "codecs"))]
        // Config validation refuses codecs this build lacks.
        _ => unreachable!(),
    }
}

/// Decompresses `data`, failing if the output would pass `limit` bytes. A codec this
/// build does not have is `UnsupportedCompression`.
pub fn decompress(codec: Compression, data: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    match codec {
        Compression::None => {
            if data.len() > limit {
                return Err(DecodeError::Decompress);
            }
            Ok(data.to_vec())
        }
        #[cfg(feature = "codecs")]
        other => codecs::decompress(other, data, limit),
        #[cfg(not(feature = "codecs"))]
        other => Err(DecodeError::UnsupportedCompression(other as i16)),
    }
}

#[cfg(feature = "codecs")]
mod codecs {
    use std::io::{Read, Write};

    use crate::config::Compression;
    use crate::error::DecodeError;

    pub(super) fn compress(codec: Compression, data: &[u8]) -> Vec<u8> {
        // Writing into a Vec cannot fail; the codecs only fail on their writer's errors.
        match codec {
            Compression::None => data.to_vec(),
            Compression::Gzip => {
                let mut enc = flate2::write::GzEncoder::new(
                    Vec::with_capacity(data.len() / 2 + 64),
                    flate2::Compression::default(),
                );
                enc.write_all(data).expect("writing to a Vec");
                enc.finish().expect("writing to a Vec")
            }
            Compression::Snappy => {
                let mut enc = snap::write::FrameEncoder::new(Vec::with_capacity(data.len() + 64));
                enc.write_all(data).expect("writing to a Vec");
                enc.into_inner().map_err(|_| ()).expect("writing to a Vec")
            }
            Compression::Lz4 => {
                let mut enc =
                    lz4_flex::frame::FrameEncoder::new(Vec::with_capacity(data.len() + 64));
                enc.write_all(data).expect("writing to a Vec");
                enc.finish().expect("writing to a Vec")
            }
        }
    }

    pub(super) fn decompress(
        codec: Compression,
        data: &[u8],
        limit: usize,
    ) -> Result<Vec<u8>, DecodeError> {
        fn bounded(mut r: impl Read, limit: usize) -> Result<Vec<u8>, DecodeError> {
            let mut out = Vec::new();
            // One byte past the limit tells "too large" from "exactly the limit"; a limit
            // of `usize::MAX` (no limit) must not overflow (found by fuzzing).
            (&mut r)
                .take((limit as u64).saturating_add(1))
                .read_to_end(&mut out)
                .map_err(|_| DecodeError::Decompress)?;
            if out.len() > limit {
                return Err(DecodeError::Decompress);
            }
            Ok(out)
        }
        match codec {
            Compression::None => bounded(data, limit),
            Compression::Gzip => bounded(flate2::read::GzDecoder::new(data), limit),
            Compression::Snappy => bounded(snap::read::FrameDecoder::new(data), limit),
            Compression::Lz4 => bounded(lz4_flex::frame::FrameDecoder::new(data), limit),
        }
    }
}

#[cfg(all(test, feature = "codecs"))]
mod tests {
    use super::*;

    #[test]
    fn round_trip_each_codec() {
        let data: Vec<u8> = (0..10_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
        ] {
            let c = compress(codec, &data);
            if codec != Compression::None {
                assert!(c.len() < data.len(), "{codec:?} did not compress");
            }
            assert_eq!(decompress(codec, &c, data.len()).unwrap(), data);
            assert_eq!(
                decompress(codec, &c, data.len() - 1),
                Err(DecodeError::Decompress),
                "{codec:?} limit not enforced"
            );
        }
    }

    #[test]
    fn garbage_is_an_error() {
        for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4] {
            assert!(decompress(codec, b"not compressed at all", 1 << 20).is_err());
        }
    }
}
