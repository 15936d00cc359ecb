//! CRC-32C (Castagnoli: reflected polynomial `0x82F63B78`, initial value and final xor
//! `0xFFFFFFFF`), the checksum of a record batch's header.
//!
//! Slicing-by-8: eight bytes per step through eight 256-entry tables. The tables (8 KB)
//! are computed at first use, not shipped: they live in a zero-initialised static, which
//! costs the wasm no bytes (a table built at compile time would sit in its data segment).
//! Building them takes a few microseconds, once per process or wasm instance.
//!
//! The statics are atomics so that the core stays free of `unsafe`: two threads that
//! build at once store the same values, and a reader sees the tables complete once it
//! sees `READY` (release/acquire). On wasm32 (no threads) and x86-64 the loads are plain
//! loads.

use core::sync::atomic::{
    AtomicBool, AtomicU32, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};

const POLY: u32 = 0x82F6_3B78;

type Tables = [[AtomicU32; 256]; 8];

static TABLES: Tables = [const { [const { AtomicU32::new(0) }; 256] }; 8];
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
    for k in 1..8 {
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
    let at = |k: usize, i: u32| t[k][i as u8 as usize].load(Relaxed);
    let mut crc = !0u32;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let lo = crc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        let hi = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
        crc = at(7, lo)
            ^ at(6, lo >> 8)
            ^ at(5, lo >> 16)
            ^ at(4, lo >> 24)
            ^ at(3, hi)
            ^ at(2, hi >> 8)
            ^ at(1, hi >> 16)
            ^ at(0, hi >> 24);
    }
    for &b in chunks.remainder() {
        crc = at(0, crc ^ u32::from(b)) ^ (crc >> 8);
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
}
