//! CRC-32C (Castagnoli: reflected polynomial `0x82F63B78`, initial value and final xor
//! `0xFFFFFFFF`), the checksum of a record batch's header.
//!
//! Slicing-by-16: sixteen bytes per step through sixteen 256-entry tables. The tables
//! (16 KB) are computed at first use, not shipped: they live in a zero-initialised static,
//! which costs the wasm no bytes (a table built at compile time would sit in its data
//! segment, 16 KB raw). Building them takes a few microseconds, once per process or wasm
//! instance; each call after that pays one load and a predicted branch to know they are
//! there.
//!
//! The statics are atomics so that the core stays free of `unsafe`: two threads that
//! build at once store the same values, and a reader sees the tables complete once it
//! sees `READY` (release/acquire). On wasm32 (no threads) and x86-64 the loads are plain
//! loads.

use core::sync::atomic::{
    AtomicBool, AtomicU32, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};

const POLY: u32 = 0x82F6_3B78;

/// Bytes per step, and tables.
const SLICES: usize = 16;

type Tables = [[AtomicU32; 256]; SLICES];

static TABLES: Tables = [const { [const { AtomicU32::new(0) }; 256] }; SLICES];
static READY: AtomicBool = AtomicBool::new(false);

fn tables() -> &'static Tables {
    if !READY.load(Acquire) {
        build();
    }
    &TABLES
}

#[cold]
fn build() {
    for n in 0..256u32 {
        let mut c = n;
        for _ in 0..8 {
            c = (c >> 1) ^ (POLY & (c & 1).wrapping_neg());
        }
        TABLES[0][n as usize].store(c, Relaxed);
    }
    // Table k advances table k-1's entry by one more zero byte.
    for k in 1..SLICES {
        for (prev, next) in TABLES[k - 1].iter().zip(&TABLES[k]) {
            let prev = prev.load(Relaxed);
            next.store(
                TABLES[0][prev as u8 as usize].load(Relaxed) ^ (prev >> 8),
                Relaxed,
            );
        }
    }
    READY.store(true, Release);
}

/// CRC-32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    let t = tables();
    // Table `k` of byte `n` of `w`: that byte followed by `k` more bytes.
    let at = |k: usize, w: u32, n: u32| t[k][(w >> (8 * n)) as u8 as usize].load(Relaxed);
    let word =
        |c: &[u8; SLICES], i: usize| u32::from_le_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
    let mut crc = !0u32;
    let mut rest = data;
    while let Some((c, tail)) = rest.split_first_chunk::<SLICES>() {
        let (a, b, c, d) = (word(c, 0) ^ crc, word(c, 4), word(c, 8), word(c, 12));
        crc = at(15, a, 0)
            ^ at(14, a, 1)
            ^ at(13, a, 2)
            ^ at(12, a, 3)
            ^ at(11, b, 0)
            ^ at(10, b, 1)
            ^ at(9, b, 2)
            ^ at(8, b, 3)
            ^ at(7, c, 0)
            ^ at(6, c, 1)
            ^ at(5, c, 2)
            ^ at(4, c, 3)
            ^ at(3, d, 0)
            ^ at(2, d, 1)
            ^ at(1, d, 2)
            ^ at(0, d, 3);
        rest = tail;
    }
    for &b in rest {
        crc = at(0, crc ^ u32::from(b), 0) ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, one bit at a time.
    fn bitwise(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = (crc >> 1) ^ (POLY & (crc & 1).wrapping_neg());
            }
        }
        !crc
    }

    #[test]
    fn check_values() {
        // The catalogue's check value (CRC-32/ISCSI) and RFC 3720's test vectors.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
        let inc: Vec<u8> = (0..32).collect();
        assert_eq!(crc32c(&inc), 0x46DD_794E);
    }

    #[test]
    fn equals_the_bitwise_definition_at_every_length_and_alignment() {
        let data: Vec<u8> = (0..300u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for start in 0..8 {
            for end in start..data.len() {
                assert_eq!(
                    crc32c(&data[start..end]),
                    bitwise(&data[start..end]),
                    "{start}..{end}"
                );
            }
        }
    }

    // proptest is a native dev-dependency.
    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Any bytes, from any offset (a batch's CRC range starts unaligned): slicing-by-16
        /// computes the definition.
        #[test]
        fn slicing_equals_the_bitwise_definition(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096),
            start in 0usize..64,
        ) {
            let data = &data[start.min(data.len())..];
            proptest::prop_assert_eq!(crc32c(data), bitwise(data));
        }
    }
}
