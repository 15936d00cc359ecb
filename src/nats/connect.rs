//! `CONNECT`: the client's first operation after the server's `INFO`, with its options
//! and credentials.
//!
//! The credentials are token, user and password, an nkey user (seed), or a `.creds` file
//! (user JWT and seed). The last two sign the nonce from `INFO` with ed25519; the host
//! does the signing (see [`super::nkey`]) and hands back a [`SignedNonce`]. Every
//! credential is a secret: `Debug` of [`Credentials`] redacts them, and no error carries
//! any of them.

use alloc::{string::String, vec::Vec};

use super::json::ObjectWriter;
use super::nkey::{base64url_encode, encode_public_key, KeyKind, NkeyError, NkeySeed, UserCreds};
use super::proto::ProtoError;

/// How the client identifies itself.
#[derive(Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Credentials {
    /// No credentials.
    #[default]
    None,
    /// `auth_token`.
    Token(String),
    /// `user` and `pass`.
    UserPassword {
        /// The user name (shown by `Debug`).
        user: String,
        /// The password (never shown).
        password: String,
    },
    /// A plain nkey user: `nkey` (the public key) and `sig` (the signed nonce).
    Nkey(NkeySeed),
    /// A `.creds` file: `jwt` and `sig`.
    Jwt(UserCreds),
}

impl core::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Credentials::None => f.write_str("None"),
            Credentials::Token(_) => f.write_str("Token(<redacted>)"),
            Credentials::UserPassword { user, .. } => f
                .debug_struct("UserPassword")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            Credentials::Nkey(seed) => f.debug_tuple("Nkey").field(seed).finish(),
            Credentials::Jwt(creds) => f.debug_tuple("Jwt").field(creds).finish(),
        }
    }
}

impl Credentials {
    /// The credentials of a sink's options: at most one of `token`, `user` (with
    /// `password`, empty if absent), the text of a `.creds` file, a user nkey seed.
    /// `INVALID_CONFIG` names what is wrong (a mix, a bad `.creds`, a bad seed); the
    /// message never contains a credential.
    pub fn from_options(
        token: Option<String>,
        user: Option<String>,
        password: Option<String>,
        creds: Option<&str>,
        nkey_seed: Option<&str>,
    ) -> Result<Self, crate::Error> {
        let invalid = |field: &'static str, reason: &'static str| crate::Error::InvalidConfig {
            field,
            reason,
        };
        match (token, user, creds, nkey_seed) {
            (Some(t), None, None, None) => Ok(Credentials::Token(t)),
            (None, Some(user), None, None) => Ok(Credentials::UserPassword {
                user,
                password: password.unwrap_or_default(),
            }),
            (None, None, Some(text), None) => Credentials::from_creds_file(text)
                .map_err(|_| invalid("creds", "is not a valid .creds file (JWT and seed)")),
            (None, None, None, Some(text)) => Credentials::from_nkey_seed(text)
                .map_err(|_| invalid("nkeySeed", "is not a valid user nkey seed")),
            (None, None, None, None) => Ok(Credentials::None),
            _ => Err(invalid(
                "credentials",
                "give one of token, user/pass, creds, nkeySeed",
            )),
        }
    }

    /// Credentials from the content of a `.creds` file.
    pub fn from_creds_file(text: &str) -> Result<Self, NkeyError> {
        UserCreds::parse(text).map(Credentials::Jwt)
    }

    /// An nkey user from its seed string (`SU...`).
    pub fn from_nkey_seed(seed: &str) -> Result<Self, NkeyError> {
        let seed = NkeySeed::decode(seed)?;
        if seed.kind() != KeyKind::User {
            return Err(NkeyError::WrongKind);
        }
        Ok(Credentials::Nkey(seed))
    }

    /// The seed that must sign the server's nonce, for nkey and JWT credentials.
    pub fn signing_seed(&self) -> Option<&NkeySeed> {
        match self {
            Credentials::Nkey(seed) => Some(seed),
            Credentials::Jwt(creds) => Some(&creds.seed),
            _ => None,
        }
    }
}

/// The server's nonce signed with the user's seed, as the host computed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNonce {
    /// The ed25519 signature of the nonce's bytes (as the `INFO` string has them).
    pub signature: [u8; 64],
    /// The user's ed25519 public key (needed for a plain nkey user; unused with a JWT,
    /// which names its user).
    pub public_key: [u8; 32],
}

/// The options of `CONNECT` other than credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// A name for this connection, shown in the server's monitoring.
    pub name: Option<String>,
    /// The client's language/implementation (default `tributary`).
    pub lang: String,
    /// The client's version (default this crate's).
    pub version: String,
    /// Whether the server may deliver our own messages back to our subscriptions
    /// (default `true`, the protocol's default).
    pub echo: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            name: None,
            lang: String::from("tributary"),
            version: String::from(env!("CARGO_PKG_VERSION")),
            echo: true,
        }
    }
}

/// Appends `CONNECT {json}\r\n`: `verbose` and `pedantic` off, protocol 1 (so the server
/// sends cluster updates in `INFO`), headers and no-responders on, the options and the
/// credentials.
///
/// Nkey and JWT credentials need `signed` (the `INFO` nonce signed with their seed):
/// without it this is [`ProtoError::SignatureRequired`] and nothing is appended.
pub fn encode_connect(
    out: &mut Vec<u8>,
    options: &ConnectOptions,
    credentials: &Credentials,
    signed: Option<&SignedNonce>,
) -> Result<(), ProtoError> {
    let signed = match (credentials.signing_seed(), signed) {
        (Some(_), None) => return Err(ProtoError::SignatureRequired),
        (Some(_), Some(s)) => Some(s),
        (None, _) => None,
    };
    out.extend_from_slice(b"CONNECT ");
    let mut w = ObjectWriter::new(out);
    w.bool("verbose", false);
    w.bool("pedantic", false);
    w.bool("tls_required", false);
    if let Some(name) = &options.name {
        w.str("name", name);
    }
    w.str("lang", &options.lang);
    w.str("version", &options.version);
    w.u64("protocol", 1);
    w.bool("echo", options.echo);
    w.bool("headers", true);
    w.bool("no_responders", true);
    match credentials {
        Credentials::None => {}
        Credentials::Token(token) => w.str("auth_token", token),
        Credentials::UserPassword { user, password } => {
            w.str("user", user);
            w.str("pass", password);
        }
        Credentials::Nkey(_) => {
            if let Some(s) = signed {
                w.str("nkey", &encode_public_key(KeyKind::User, &s.public_key));
            }
        }
        Credentials::Jwt(creds) => w.str("jwt", &creds.jwt),
    }
    if let Some(s) = signed {
        w.str("sig", &base64url_encode(&s.signature));
    }
    w.finish();
    out.extend_from_slice(b"\r\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nats::json;
    use alloc::format;

    fn connect(credentials: &Credentials, signed: Option<&SignedNonce>) -> json::Value {
        let mut out = Vec::new();
        encode_connect(&mut out, &ConnectOptions::default(), credentials, signed).unwrap();
        let line = out.strip_prefix(b"CONNECT ").unwrap();
        let line = line.strip_suffix(b"\r\n").unwrap();
        assert!(!line.contains(&b'\n') && !line.contains(&b'\r'));
        json::parse(line).unwrap()
    }

    #[test]
    fn connect_without_credentials() {
        let mut out = Vec::new();
        let options = ConnectOptions {
            name: Some("edge \"1\"".into()),
            lang: "tributary".into(),
            version: "0.1.0".into(),
            echo: false,
        };
        encode_connect(&mut out, &options, &Credentials::None, None).unwrap();
        assert_eq!(
            core::str::from_utf8(&out).unwrap(),
            "CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"name\":\"edge \\\"1\\\"\",\"lang\":\"tributary\",\"version\":\"0.1.0\",\"protocol\":1,\"echo\":false,\"headers\":true,\"no_responders\":true}\r\n"
        );
    }

    #[test]
    fn connect_with_token_and_password_escapes_them() {
        let v = connect(&Credentials::Token("to\"k\nen".into()), None);
        assert_eq!(v.get("auth_token").unwrap().as_str(), Some("to\"k\nen"));
        let v = connect(
            &Credentials::UserPassword {
                user: "ann".into(),
                password: "p\\w\r\u{1}".into(),
            },
            None,
        );
        assert_eq!(v.get("user").unwrap().as_str(), Some("ann"));
        assert_eq!(v.get("pass").unwrap().as_str(), Some("p\\w\r\u{1}"));
        assert_eq!(v.get("headers").unwrap().as_bool(), Some(true));
        assert_eq!(v.get("no_responders").unwrap().as_bool(), Some(true));
        assert_eq!(v.get("protocol").unwrap().as_u64(), Some(1));
        assert_eq!(v.get("verbose").unwrap().as_bool(), Some(false));
    }

    #[test]
    fn connect_with_nkey_and_jwt_needs_a_signature() {
        let seed = NkeySeed::from_bytes(KeyKind::User, [3; 32]);
        let nkey = Credentials::Nkey(seed.clone());
        let mut out = Vec::new();
        assert_eq!(
            encode_connect(&mut out, &ConnectOptions::default(), &nkey, None),
            Err(ProtoError::SignatureRequired)
        );
        assert!(out.is_empty());
        let signed = SignedNonce {
            signature: [0xff; 64],
            public_key: [5; 32],
        };
        let v = connect(&nkey, Some(&signed));
        assert_eq!(
            v.get("nkey").unwrap().as_str(),
            Some(encode_public_key(KeyKind::User, &[5; 32]).as_str())
        );
        let sig = format!("{}w", "_".repeat(85));
        assert_eq!(v.get("sig").unwrap().as_str(), Some(sig.as_str()));
        assert!(v.get("jwt").is_none());

        let jwt = Credentials::Jwt(UserCreds {
            jwt: "a.b.c".into(),
            seed,
        });
        assert_eq!(
            encode_connect(&mut out, &ConnectOptions::default(), &jwt, None),
            Err(ProtoError::SignatureRequired)
        );
        let v = connect(&jwt, Some(&signed));
        assert_eq!(v.get("jwt").unwrap().as_str(), Some("a.b.c"));
        assert_eq!(
            v.get("sig").unwrap().as_str(),
            Some(base64url_encode(&[0xff; 64]).as_str())
        );
        assert!(v.get("nkey").is_none());
        // A signature handed in for credentials that need none is not sent.
        let v = connect(&Credentials::None, Some(&signed));
        assert!(v.get("sig").is_none());
    }

    #[test]
    fn debug_redacts_secrets() {
        let seed = NkeySeed::from_bytes(KeyKind::User, [0xab; 32]);
        let all = [
            Credentials::Token("tok-secret".into()),
            Credentials::UserPassword {
                user: "ann".into(),
                password: "pw-secret".into(),
            },
            Credentials::Nkey(seed.clone()),
            Credentials::Jwt(UserCreds {
                jwt: "jwt.secret.x".into(),
                seed: seed.clone(),
            }),
        ];
        let seed_text = seed.encode();
        for c in &all {
            let debug = format!("{c:?}");
            for secret in [
                "tok-secret",
                "pw-secret",
                "jwt.secret.x",
                &seed_text,
                "171",
                "ab, ",
            ] {
                assert!(!debug.contains(secret), "{debug}");
            }
        }
        assert_eq!(
            format!("{:?}", all[1]),
            "UserPassword { user: \"ann\", password: \"<redacted>\" }"
        );
    }

    #[test]
    fn from_seed_strings() {
        let user = NkeySeed::from_bytes(KeyKind::User, [1; 32]);
        assert_eq!(
            Credentials::from_nkey_seed(&user.encode()).unwrap(),
            Credentials::Nkey(user.clone())
        );
        let account = NkeySeed::from_bytes(KeyKind::Account, [1; 32]).encode();
        assert_eq!(
            Credentials::from_nkey_seed(&account),
            Err(NkeyError::WrongKind)
        );
        assert_eq!(Credentials::None.signing_seed(), None);
        assert_eq!(Credentials::Nkey(user.clone()).signing_seed(), Some(&user));
    }
}
