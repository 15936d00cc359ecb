//! What the cargo-fuzz targets (`fuzz/`, `scripts/fuzz.sh`) found, each kept as a test.
//! The crashing inputs themselves are in the committed corpus
//! (`fuzz/corpus/<target>/regression-*`), so every fuzz run replays them too.

use tributary::batch::{decode_batch, BatchBuilder, RecordRef};
use tributary::Compression;

/// `batch_decode`: a compressed batch decoded with no limit (`usize::MAX`). The bound
/// `limit + 1` overflowed: a panic with debug assertions, and without them a limit of 0
/// bytes, so every compressed batch read as truncated.
#[test]
#[cfg(feature = "codecs")]
fn decode_with_no_decompression_limit() {
    for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4] {
        let mut b = BatchBuilder::new();
        assert!(b.push(&RecordRef {
            key: Some(b"user-1"),
            value: b"hello hello hello hello",
            timestamp: 1_700_000_000_000,
            headers: &[],
        }));
        let bytes = b.finish(codec).into_bytes();
        let (batch, used) = decode_batch(&bytes, usize::MAX).expect("decodes");
        assert_eq!(used, bytes.len());
        assert_eq!(batch.compression, codec);
        assert_eq!(batch.records[0].value, b"hello hello hello hello");
    }
}
