//! Placing records in partitions.
//!
//! - **Keyed** (default, Fluvio's): `SipHash-2-4(k0 = 0, k1 = 0)` over the key's length as
//!   a little-endian `u64` followed by the key bytes, then `hash % partition_count`. This is
//!   what Fluvio's 64-bit producer computes when it hashes a `&[u8]` through `Hash` (a
//!   `usize` length prefix, then the bytes). We feed the prefix as an explicit `u64`, never
//!   through `Hash`, so wasm32 (where `usize` is 4 bytes) places every key exactly where a
//!   native Fluvio producer does.
//! - **Keyed, Kafka's** (opt-in): `toPositive(murmur2(key)) % partition_count`, as Kafka's
//!   Java client and kafkajs's default partitioner compute it.
//! - **Keyless**: round robin over the partitions from a random start per producer, so
//!   that many short-lived edge isolates do not all begin at partition 0.
//! - **Explicit**: a record may name its partition; out of range is an error.
//!
//! Golden rule: two records with the same key always go to the same partition.

use crate::config::PartitionerKind;
use crate::error::Error;

/// The partition Fluvio places `key` in, for a topic of `partition_count` partitions.
///
/// `partition_count` of 0 is treated as 1 (there is no partition to choose from but 0).
///
/// ```
/// assert_eq!(tributary::partition_for_key(b"user-1", 7), 5);
/// assert_eq!(tributary::partition_for_key(b"", 3), 2);
/// ```
pub fn partition_for_key(key: &[u8], partition_count: u32) -> u32 {
    (siphash_key(key) % u64::from(partition_count.max(1))) as u32
}

/// Fluvio's key hash: SipHash-2-4 with zero keys over `len as u64 (LE) ++ key`.
///
/// One pass over the key in 8-byte words, written for this one input shape (what
/// `siphasher`'s streaming `Hasher` computes for the two writes; a test compares them):
/// no buffer for partial words, no calls per word, no bounds checks.
pub fn siphash_key(key: &[u8]) -> u64 {
    // The initial state for k0 = k1 = 0: "somepseudorandomlygeneratedbytes". Four
    // locals, not an array: in wasm an array lives in memory, locals in registers.
    let (mut v0, mut v1, mut v2, mut v3) = (
        0x736f_6d65_7073_6575_u64,
        0x646f_7261_6e64_6f6d_u64,
        0x6c79_6765_6e65_7261_u64,
        0x7465_6462_7974_6573_u64,
    );
    macro_rules! rounds {
        ($n:expr) => {
            for _ in 0..$n {
                v0 = v0.wrapping_add(v1);
                v1 = v1.rotate_left(13) ^ v0;
                v0 = v0.rotate_left(32);
                v2 = v2.wrapping_add(v3);
                v3 = v3.rotate_left(16) ^ v2;
                v0 = v0.wrapping_add(v3);
                v3 = v3.rotate_left(21) ^ v0;
                v2 = v2.wrapping_add(v1);
                v1 = v1.rotate_left(17) ^ v2;
                v2 = v2.rotate_left(32);
            }
        };
    }
    // The message words: the length, the key's 8-byte words, then the 0-7 bytes left with
    // the message length (mod 256) in the top byte. Two compression rounds per word (the
    // "2" of SipHash-2-4).
    let mut rest = key;
    let mut m = key.len() as u64;
    let mut last = false;
    loop {
        v3 ^= m;
        rounds!(2);
        v0 ^= m;
        if last {
            break;
        }
        if let Some((w, tail)) = rest.split_first_chunk::<8>() {
            m = u64::from_le_bytes(*w);
            rest = tail;
        } else {
            m = (8 + key.len() as u64) << 56;
            for (i, &b) in rest.iter().enumerate() {
                m |= u64::from(b) << (8 * i);
            }
            last = true;
        }
    }
    // Four finalisation rounds (the "4").
    v2 ^= 0xff;
    rounds!(4);
    v0 ^ v1 ^ v2 ^ v3
}

/// Kafka's murmur2 (seed `0x9747b28c`), as the Java client and kafkajs compute it.
pub fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = 0x9747_b28c ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let &[b0, b1, b2, b3] = c else { continue };
        let mut k = u32::from_le_bytes([b0, b1, b2, b3]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if let Some(&c) = rest.get(2) {
        h ^= u32::from(c) << 16;
    }
    if let Some(&b) = rest.get(1) {
        h ^= u32::from(b) << 8;
    }
    if let Some(&a) = rest.first() {
        h ^= u32::from(a);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Kafka's default partitioner places `key` in.
pub fn murmur2_partition(key: &[u8], partition_count: u32) -> u32 {
    (murmur2(key) as u32 & 0x7fff_ffff) % partition_count.max(1)
}

/// A producer's placement state: the keyed function and the round-robin cursor.
#[derive(Debug, Clone)]
pub struct Partitioner {
    kind: PartitionerKind,
    partition_count: u32,
    next_keyless: u32,
}

impl Partitioner {
    /// A partitioner for `partition_count` partitions whose round robin begins at
    /// `random_start % partition_count`.
    pub fn new(kind: PartitionerKind, partition_count: u32, random_start: u32) -> Self {
        let partition_count = partition_count.max(1);
        Partitioner {
            kind,
            partition_count,
            next_keyless: random_start % partition_count,
        }
    }

    /// The partition for a record with this key and optional explicit partition. Keyless
    /// records advance the round robin only when [`Partitioner::commit_keyless`] is called,
    /// so a record that is then rejected does not disturb the rotation.
    pub fn choose(&self, key: Option<&[u8]>, explicit: Option<u32>) -> Result<u32, Error> {
        if let Some(p) = explicit {
            if p >= self.partition_count {
                return Err(Error::PartitionOutOfRange {
                    partition: p,
                    partition_count: self.partition_count,
                });
            }
            return Ok(p);
        }
        Ok(match key {
            Some(k) => match self.kind {
                PartitionerKind::SipHash => partition_for_key(k, self.partition_count),
                PartitionerKind::Murmur2 => murmur2_partition(k, self.partition_count),
            },
            None => self.next_keyless,
        })
    }

    /// Advances the round robin after a keyless record was accepted.
    pub fn commit_keyless(&mut self) {
        // `partition_count` is at least 1 (see `new`); `max` spares the division by zero check.
        self.next_keyless = (self.next_keyless + 1) % self.partition_count.max(1);
    }
}

/// A small deterministic random source (xorshift64*), seeded by the caller. The bindings
/// seed it from the host's `crypto.getRandomValues`; tests seed it with a constant.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value; 0 is mapped to a fixed non-zero state).
    pub fn new(seed: u64) -> Self {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_samples() {
        for (key, want) in [("", [1, 2, 3]), ("user-1", [0, 1, 5]), ("click", [0, 1, 4])] {
            let got: Vec<u32> = [2, 3, 7]
                .iter()
                .map(|&n| partition_for_key(key.as_bytes(), n))
                .collect();
            assert_eq!(got, want, "key {key:?}");
        }
    }

    /// Fluvio hashes `&[u8]` with `Hash`, which on a 64-bit target writes the length as a
    /// `usize` (8 bytes, little-endian) and then the bytes: show that is what we compute.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn equals_hashing_through_hash_on_64_bit() {
        use core::hash::{Hash, Hasher};
        use siphasher::sip::SipHasher24;
        for key in [&b""[..], b"a", b"user-1", b"some longer key with spaces"] {
            let mut h = SipHasher24::new_with_keys(0, 0);
            key.hash(&mut h);
            assert_eq!(h.finish(), siphash_key(key));
        }
    }

    // proptest and siphasher are native dev-dependencies.
    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Any key of any length (every tail length, several words): the one-pass hash is
        /// `siphasher`'s SipHash-2-4 over the length prefix and the key, written apart.
        #[test]
        fn siphash_key_equals_siphasher(
            key in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100),
        ) {
            use core::hash::Hasher;
            let mut h = siphasher::sip::SipHasher24::new_with_keys(0, 0);
            h.write(&(key.len() as u64).to_le_bytes());
            h.write(&key);
            proptest::prop_assert_eq!(siphash_key(&key), h.finish());
        }
    }

    #[test]
    fn murmur2_known_values() {
        // Kafka's own unit test vectors (clients/src/test/.../UtilsTest.java).
        let cases: [(&[u8], i32); 7] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
            (b"", 275_646_681),
        ];
        for (data, want) in cases {
            assert_eq!(murmur2(data), want, "{:?}", String::from_utf8_lossy(data));
        }
    }

    #[test]
    fn explicit_partition_out_of_range() {
        let p = Partitioner::new(PartitionerKind::SipHash, 4, 0);
        assert_eq!(p.choose(None, Some(3)).unwrap(), 3);
        assert_eq!(
            p.choose(Some(b"k"), Some(4)).unwrap_err(),
            Error::PartitionOutOfRange {
                partition: 4,
                partition_count: 4
            }
        );
    }

    #[test]
    fn keyless_round_robin_from_random_start() {
        let mut p = Partitioner::new(PartitionerKind::SipHash, 5, 13);
        let mut seen = Vec::new();
        for _ in 0..10 {
            seen.push(p.choose(None, None).unwrap());
            p.commit_keyless();
        }
        assert_eq!(seen, [3, 4, 0, 1, 2, 3, 4, 0, 1, 2]);
    }

    #[test]
    fn random_starts_spread() {
        let mut rng = Rng::new(42);
        let mut counts = [0u32; 8];
        for _ in 0..8000 {
            counts[(rng.next_u32() % 8) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
    }
}
