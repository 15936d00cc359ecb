//! NATS nkeys and `.creds` files, without the ed25519 arithmetic.
//!
//! An nkey is an ed25519 key written in base32 (RFC 4648 alphabet, no padding) with a
//! type prefix and a CRC-16/XMODEM checksum (little-endian) at the end:
//!
//! - a **public key** (`U...` for a user, `A...` account, `O...` operator, `N...` server,
//!   `C...` cluster) is one prefix byte, the 32-byte key, the checksum (56 characters);
//! - a **seed** (`SU...` for a user) is two prefix bytes (`S` and the key type), the
//!   32-byte ed25519 seed, the checksum (58 characters).
//!
//! A `.creds` file holds a user JWT and the user's seed, each between `-----BEGIN ...-----`
//! and `------END ...------` lines. To authenticate, the client signs the server's
//! `INFO` nonce with the seed (ed25519) and sends the JWT (or, for a plain nkey user, the
//! public key) and the signature in `CONNECT`. The signing itself is the host's job
//! (WebCrypto `Ed25519`, which imports [`NkeySeed::pkcs8_der`] and can export the public
//! key); this module decodes, checks and encodes everything around it.
//!
//! Seeds are secrets: [`NkeySeed`]'s `Debug` prints no key material, and no error here
//! carries any part of its input.

use alloc::{string::String, vec::Vec};

use crate::text::Text;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// The first 5 bits of a seed's first byte: 'S'.
const SEED_PREFIX: u8 = 18 << 3;

/// Why an nkey or a `.creds` file was refused. No variant carries any of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NkeyError {
    /// A character outside the base32 alphabet (`A`-`Z`, `2`-`7`).
    Encoding,
    /// Decodes to the wrong number of bytes for a seed or a public key.
    Length,
    /// The CRC-16 at the end does not match.
    Checksum,
    /// Not a seed (does not start with `S`).
    NotASeed,
    /// An unknown key type prefix.
    UnknownKind,
    /// A key of another type than the one needed (e.g. an account seed in user creds).
    WrongKind,
    /// The `.creds` content has no `NATS USER JWT` block.
    MissingJwt,
    /// The `.creds` content has no `USER NKEY SEED` block.
    MissingSeed,
    /// The JWT is not three base64url parts separated by dots.
    InvalidJwt,
}

impl NkeyError {
    /// The human-readable message (the same text as `Display`).
    pub fn message(&self) -> String {
        let text = match self {
            NkeyError::Encoding => "invalid nkey: not base32",
            NkeyError::Length => "invalid nkey: wrong length",
            NkeyError::Checksum => "invalid nkey: checksum mismatch",
            NkeyError::NotASeed => "invalid nkey: not a seed",
            NkeyError::UnknownKind => "invalid nkey: unknown key type",
            NkeyError::WrongKind => "invalid nkey: wrong key type (a user key is needed)",
            NkeyError::MissingJwt => "invalid credentials: no NATS USER JWT block",
            NkeyError::MissingSeed => "invalid credentials: no USER NKEY SEED block",
            NkeyError::InvalidJwt => "invalid credentials: malformed JWT",
        };
        Text::new().s(text).done()
    }
}

impl core::fmt::Display for NkeyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for NkeyError {}

/// What an nkey is the key of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `O`: an operator.
    Operator,
    /// `A`: an account.
    Account,
    /// `U`: a user.
    User,
    /// `N`: a server.
    Server,
    /// `C`: a cluster.
    Cluster,
}

impl KeyKind {
    /// The prefix byte (the letter's base32 value in the top 5 bits).
    fn prefix(self) -> u8 {
        match self {
            KeyKind::Operator => 14 << 3,
            KeyKind::Account => 0,
            KeyKind::User => 20 << 3,
            KeyKind::Server => 13 << 3,
            KeyKind::Cluster => 2 << 3,
        }
    }

    fn from_prefix(prefix: u8) -> Result<Self, NkeyError> {
        [
            KeyKind::Operator,
            KeyKind::Account,
            KeyKind::User,
            KeyKind::Server,
            KeyKind::Cluster,
        ]
        .into_iter()
        .find(|k| k.prefix() == prefix)
        .ok_or(NkeyError::UnknownKind)
    }
}

/// CRC-16/XMODEM (polynomial 0x1021, initial 0), bit by bit: nkeys are short.
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let mut bits: u32 = 0;
    let mut held = 0u32;
    for &byte in data {
        bits = (bits << 8) | u32::from(byte);
        held += 8;
        while held >= 5 {
            held -= 5;
            out.push(char::from(BASE32[((bits >> held) & 31) as usize]));
        }
    }
    if held > 0 {
        out.push(char::from(BASE32[((bits << (5 - held)) & 31) as usize]));
    }
    out
}

fn base32_decode(text: &str) -> Result<Vec<u8>, NkeyError> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut bits: u32 = 0;
    let mut held = 0u32;
    for c in text.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return Err(NkeyError::Encoding),
        };
        bits = ((bits << 5) | u32::from(value)) & 0xffff;
        held += 5;
        if held >= 8 {
            held -= 8;
            out.push((bits >> held) as u8);
        }
    }
    Ok(out)
}

/// Splits `raw` into body and checksum and checks it.
fn checked(raw: &[u8], len: usize) -> Result<&[u8], NkeyError> {
    if raw.len() != len {
        return Err(NkeyError::Length);
    }
    let (body, crc) = raw.split_at(len - 2);
    if crc16(body).to_le_bytes() != crc {
        return Err(NkeyError::Checksum);
    }
    Ok(body)
}

/// `body` followed by its checksum, in base32.
fn with_checksum(mut body: Vec<u8>) -> String {
    let crc = crc16(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    base32_encode(&body)
}

/// The public nkey string (`U...` for a user) of a 32-byte ed25519 public key.
pub fn encode_public_key(kind: KeyKind, key: &[u8; 32]) -> String {
    let mut body = Vec::with_capacity(35);
    body.push(kind.prefix());
    body.extend_from_slice(key);
    with_checksum(body)
}

/// Decodes and checks a public nkey string.
pub fn decode_public_key(text: &str) -> Result<(KeyKind, [u8; 32]), NkeyError> {
    let raw = base32_decode(text.trim())?;
    let body = checked(&raw, 35)?;
    let kind = KeyKind::from_prefix(body[0])?;
    let mut key = [0u8; 32];
    key.copy_from_slice(&body[1..]);
    Ok((kind, key))
}

/// An nkey seed: the 32-byte ed25519 seed (the private key) and its key type. A secret:
/// `Debug` shows only the type.
#[derive(Clone, PartialEq, Eq)]
pub struct NkeySeed {
    kind: KeyKind,
    seed: [u8; 32],
}

impl core::fmt::Debug for NkeySeed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NkeySeed")
            .field("kind", &self.kind)
            .field("seed", &"<redacted>")
            .finish()
    }
}

impl NkeySeed {
    /// Decodes and checks a seed string (`SU...`, surrounding whitespace ignored).
    pub fn decode(text: &str) -> Result<Self, NkeyError> {
        let raw = base32_decode(text.trim())?;
        let body = checked(&raw, 36)?;
        if body[0] & 0xf8 != SEED_PREFIX {
            return Err(NkeyError::NotASeed);
        }
        let kind = KeyKind::from_prefix(((body[0] & 0x07) << 5) | ((body[1] & 0xf8) >> 3))?;
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&body[2..]);
        Ok(NkeySeed { kind, seed })
    }

    /// A seed from its parts (for tests and key generation by the host).
    pub fn from_bytes(kind: KeyKind, seed: [u8; 32]) -> Self {
        NkeySeed { kind, seed }
    }

    /// The seed string (`SU...`). It is the secret itself: keep it out of logs.
    pub fn encode(&self) -> String {
        let prefix = self.kind.prefix();
        let mut body = Vec::with_capacity(36);
        body.push(SEED_PREFIX | (prefix >> 5));
        body.push((prefix & 31) << 3);
        body.extend_from_slice(&self.seed);
        with_checksum(body)
    }

    /// What this is the seed of.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The 32-byte ed25519 seed (RFC 8032's private key).
    pub fn seed_bytes(&self) -> &[u8; 32] {
        &self.seed
    }

    /// The seed as a PKCS#8 `PrivateKeyInfo` (DER, 48 bytes): what WebCrypto's
    /// `importKey("pkcs8", der, "Ed25519", ...)` and OpenSSL take.
    pub fn pkcs8_der(&self) -> [u8; 48] {
        const PREFIX: [u8; 16] = [
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        let mut der = [0u8; 48];
        der[..16].copy_from_slice(&PREFIX);
        der[16..].copy_from_slice(&self.seed);
        der
    }
}

/// Base64url (RFC 4648 §5) without padding, decoded; `None` for anything else (another
/// alphabet, padding, a length no encoding has, stray bits in the last character).
pub fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut bits = 0u32;
    let mut held = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        held += 6;
        if held >= 8 {
            held -= 8;
            out.push((bits >> held) as u8);
        }
    }
    (held < 6 && bits & ((1 << held) - 1) == 0).then_some(out)
}

/// Base64url (RFC 4648 §5) without padding: how `CONNECT` carries the nonce signature
/// and how JWTs encode their parts.
pub fn base64url_encode(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// The user JWT and seed of a `.creds` file.
#[derive(Clone, PartialEq, Eq)]
pub struct UserCreds {
    /// The user JWT (signed by its account; not secret alone, but a bearer JWT is).
    pub jwt: String,
    /// The user's seed.
    pub seed: NkeySeed,
}

impl core::fmt::Debug for UserCreds {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UserCreds")
            .field("jwt", &"<redacted>")
            .field("seed", &self.seed)
            .finish()
    }
}

impl UserCreds {
    /// Parses the content of a `.creds` file: the first line inside the
    /// `-----BEGIN NATS USER JWT-----` block and the first inside the
    /// `-----BEGIN USER NKEY SEED-----` block (text outside the blocks is ignored; CRLF
    /// line ends are fine). The seed must be a user seed.
    pub fn parse(text: &str) -> Result<Self, NkeyError> {
        let mut jwt = None;
        let mut seed = None;
        let mut lines = text.lines().map(str::trim);
        while let Some(line) = lines.next() {
            if !(line.starts_with("---") && line.contains("BEGIN")) {
                continue;
            }
            let content = lines.by_ref().find(|l| !l.is_empty()).unwrap_or_default();
            if content.starts_with("---") {
                continue; // an empty block
            }
            if line.contains("JWT") && jwt.is_none() {
                jwt = Some(content);
            } else if line.contains("SEED") && seed.is_none() {
                seed = Some(content);
            }
        }
        let jwt = jwt.ok_or(NkeyError::MissingJwt)?;
        let parts = jwt.split('.');
        let valid_part = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'=')
        };
        if parts.clone().count() != 3 || !parts.clone().all(valid_part) {
            return Err(NkeyError::InvalidJwt);
        }
        let seed = NkeySeed::decode(seed.ok_or(NkeyError::MissingSeed)?)?;
        if seed.kind() != KeyKind::User {
            return Err(NkeyError::WrongKind);
        }
        Ok(UserCreds {
            jwt: String::from(jwt),
            seed,
        })
    }
}

// proptest is a native dev-dependency; these run natively.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use alloc::format;
    use proptest::prelude::*;

    // The example user of the NATS documentation (nkey authentication).
    const DOC_SEED: &str = "SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY";
    const DOC_PUBLIC: &str = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";

    #[test]
    fn crc16_xmodem_check_value() {
        assert_eq!(crc16(b"123456789"), 0x31c3);
        assert_eq!(crc16(b""), 0);
    }

    #[test]
    fn base32_matches_rfc4648_vectors() {
        let vectors: &[(&[u8], &str)] = &[
            (b"", ""),
            (b"f", "MY"),
            (b"fo", "MZXQ"),
            (b"foo", "MZXW6"),
            (b"foob", "MZXW6YQ"),
            (b"fooba", "MZXW6YTB"),
            (b"foobar", "MZXW6YTBOI"),
        ];
        for (raw, text) in vectors {
            assert_eq!(base32_encode(raw), *text);
            assert_eq!(base32_decode(text).unwrap(), *raw);
        }
        assert_eq!(base32_decode("MZXw6"), Err(NkeyError::Encoding));
        assert_eq!(base32_decode("MZ=="), Err(NkeyError::Encoding));
    }

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        let vectors: &[(&[u8], &str)] = &[
            (b"", ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg"),
            (b"fooba", "Zm9vYmE"),
            (b"foobar", "Zm9vYmFy"),
            (&[0xfb, 0xff, 0xfe], "-__-"),
        ];
        for (raw, text) in vectors {
            assert_eq!(base64url_encode(raw), *text);
        }
        assert_eq!(base64url_encode(&[0u8; 64]).len(), 86);
    }

    #[test]
    fn decodes_the_documented_user_seed() {
        let seed = NkeySeed::decode(DOC_SEED).unwrap();
        assert_eq!(seed.kind(), KeyKind::User);
        assert_eq!(seed.encode(), DOC_SEED);
        let (kind, key) = decode_public_key(DOC_PUBLIC).unwrap();
        assert_eq!(kind, KeyKind::User);
        assert_eq!(encode_public_key(KeyKind::User, &key), DOC_PUBLIC);
        assert_eq!(&seed.pkcs8_der()[16..], seed.seed_bytes());
    }

    #[test]
    fn refuses_bad_keys() {
        assert_eq!(NkeySeed::decode(DOC_PUBLIC), Err(NkeyError::Length));
        assert_eq!(NkeySeed::decode("SUAC"), Err(NkeyError::Length));
        assert_eq!(NkeySeed::decode("su"), Err(NkeyError::Encoding));
        let mut flipped = String::from(DOC_SEED);
        flipped.replace_range(10..11, if &DOC_SEED[10..11] == "A" { "B" } else { "A" });
        assert_eq!(NkeySeed::decode(&flipped), Err(NkeyError::Checksum));
        assert_eq!(decode_public_key(DOC_SEED), Err(NkeyError::Length));
        // A public key's bytes with a seed's length are not a seed.
        let not_seed = with_checksum([&[KeyKind::User.prefix(), 0][..], &[7u8; 32]].concat());
        assert_eq!(NkeySeed::decode(&not_seed), Err(NkeyError::NotASeed));
        let unknown = with_checksum([&[SEED_PREFIX | 7, 0xf8][..], &[7u8; 32]].concat());
        assert_eq!(NkeySeed::decode(&unknown), Err(NkeyError::UnknownKind));
    }

    #[test]
    fn every_kind_round_trips() {
        for kind in [
            KeyKind::Operator,
            KeyKind::Account,
            KeyKind::User,
            KeyKind::Server,
            KeyKind::Cluster,
        ] {
            let seed = NkeySeed::from_bytes(kind, [42; 32]);
            let text = seed.encode();
            assert_eq!(text.len(), 58);
            assert!(text.starts_with('S'));
            assert_eq!(NkeySeed::decode(&text).unwrap(), seed);
            let public = encode_public_key(kind, &[9; 32]);
            assert_eq!(public.len(), 56);
            assert_eq!(decode_public_key(&public).unwrap(), (kind, [9; 32]));
        }
        assert!(NkeySeed::from_bytes(KeyKind::Operator, [0; 32])
            .encode()
            .starts_with("SO"));
        assert!(NkeySeed::from_bytes(KeyKind::Account, [0; 32])
            .encode()
            .starts_with("SA"));
        assert!(encode_public_key(KeyKind::Server, &[0; 32]).starts_with('N'));
        assert!(encode_public_key(KeyKind::Cluster, &[0; 32]).starts_with('C'));
    }

    const JWT: &str =
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVIn0.c2lnLW5vdC1jaGVja2Vk";

    fn creds_file(jwt: &str, seed: &str) -> String {
        format!(
            "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\
             NKEYs are sensitive and should be treated as secrets.\n\n\
             -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
             *************************************************************\n"
        )
    }

    #[test]
    fn parses_creds_files() {
        let creds = UserCreds::parse(&creds_file(JWT, DOC_SEED)).unwrap();
        assert_eq!(creds.jwt, JWT);
        assert_eq!(creds.seed, NkeySeed::decode(DOC_SEED).unwrap());
        let crlf = creds_file(JWT, DOC_SEED).replace('\n', "\r\n");
        assert_eq!(UserCreds::parse(&crlf).unwrap(), creds);
        let indented = creds_file(&format!("  {JWT}  "), &format!("\t{DOC_SEED} "));
        assert_eq!(UserCreds::parse(&indented).unwrap(), creds);
    }

    #[test]
    fn refuses_bad_creds_without_echoing_them() {
        assert_eq!(UserCreds::parse(""), Err(NkeyError::MissingJwt));
        let no_seed =
            format!("-----BEGIN NATS USER JWT-----\n{JWT}\n------END NATS USER JWT------\n");
        assert_eq!(UserCreds::parse(&no_seed), Err(NkeyError::MissingSeed));
        assert_eq!(
            UserCreds::parse(&creds_file("a.b", DOC_SEED)),
            Err(NkeyError::InvalidJwt)
        );
        assert_eq!(
            UserCreds::parse(&creds_file("a.b.c d", DOC_SEED)),
            Err(NkeyError::InvalidJwt)
        );
        let account = NkeySeed::from_bytes(KeyKind::Account, [1; 32]).encode();
        assert_eq!(
            UserCreds::parse(&creds_file(JWT, &account)),
            Err(NkeyError::WrongKind)
        );
        let broken = &DOC_SEED[..57];
        let err = UserCreds::parse(&creds_file(JWT, broken)).unwrap_err();
        assert!(!err.to_string().contains(broken));
        let creds = UserCreds::parse(&creds_file(JWT, DOC_SEED)).unwrap();
        let debug = format!("{creds:?}");
        assert!(!debug.contains(JWT) && !debug.contains(DOC_SEED), "{debug}");
        assert!(!debug.contains("42"), "{debug}");
        assert_eq!(debug, "UserCreds { jwt: \"<redacted>\", seed: NkeySeed { kind: User, seed: \"<redacted>\" } }");
    }

    proptest! {
        #[test]
        fn base32_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(base32_decode(&base32_encode(&bytes)).unwrap(), bytes);
        }

        #[test]
        fn decoding_never_panics(text in "[A-Z2-7a-z=]{0,80}") {
            let _ = NkeySeed::decode(&text);
            let _ = decode_public_key(&text);
            let _ = UserCreds::parse(&text);
        }

        #[test]
        fn seeds_round_trip(seed in any::<[u8; 32]>()) {
            let s = NkeySeed::from_bytes(KeyKind::User, seed);
            prop_assert_eq!(NkeySeed::decode(&s.encode()).unwrap(), s);
        }
    }
}
