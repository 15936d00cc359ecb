//! What the cargo-fuzz targets (`fuzz/`, `scripts/fuzz.sh`) found, each kept as a test.
//! The crashing inputs themselves are in the committed corpus
//! (`fuzz/corpus/<target>/regression-*`), so every fuzz run replays them too.

use tributary::batch::{decode_batch, BatchBuilder, RecordRef};
use tributary::nats::{Parser, ParserLimits, ProtoError, ServerOp};
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

fn ops(limits: ParserLimits, chunks: &[&[u8]]) -> Result<Vec<ServerOp>, ProtoError> {
    let mut parser = Parser::with_limits(limits);
    let mut ops = Vec::new();
    for chunk in chunks {
        parser.decode(chunk, &mut ops)?;
    }
    Ok(ops)
}

/// `nats_parser`: a control line of exactly `max_control_line` bytes whose CRLF arrived
/// split (a read ending between CR and LF) was refused as too long, while the same line
/// arriving whole was taken.
#[test]
fn control_line_at_the_limit_cut_between_cr_and_lf() {
    let limits = ParserLimits {
        max_control_line: 16,
        max_payload: 1024,
    };
    let line: &[u8] = b"-ERR 'abcdefghi'\r\nPING\r\n";
    assert_eq!(line.iter().position(|&c| c == b'\r'), Some(16));
    let whole = ops(limits, &[line]).expect("whole");
    assert_eq!(whole.len(), 2);
    assert_eq!(ops(limits, &[&line[..17], &line[17..]]), Ok(whole.clone()));
    assert_eq!(
        ops(limits, &[&line[..16], &line[16..17], &line[17..]]),
        Ok(whole)
    );
    // One byte more is too long, however it arrives.
    let long: &[u8] = b"-ERR 'abcdefghij'\r\n";
    let too_long = Err(ProtoError::ControlLineTooLong { limit: 16 });
    assert_eq!(ops(limits, &[long]), too_long);
    assert_eq!(ops(limits, &[&long[..18], &long[18..]]), too_long);

    // The fuzzer's input: limit 8, a 7-byte line, then CR LF, cut after the CR.
    let limits = ParserLimits {
        max_control_line: 8,
        max_payload: 0,
    };
    let stream: &[u8] = &[0, 8, 79, 250, 71, 13, 71, 13, 10];
    let whole = ops(limits, &[stream]);
    assert_eq!(whole, Err(ProtoError::UnknownOperation));
    assert_eq!(ops(limits, &[&stream[..8], &stream[8..]]), whole);
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(ops(limits, &bytes), whole);
}
