//! The fuzz targets' checks, one module per target (`fuzz_targets/<name>.rs` calls
//! `<name>::check`), and the seed corpus they start from ([`seeds`], written by
//! `examples/gen_corpus.rs`). (The NATS codec and its targets `nats_parser` and
//! `nats_text` left the crate with issue 13: the wire is JS, its parser's properties are
//! fast-check tests in tests/js/sink/parser.test.mjs.)
//!
//! Every check asserts an invariant that can fail (a round trip, a valid config working
//! end to end), not only "does not panic".

pub mod batch_decode;
pub mod config;
pub mod seeds;
