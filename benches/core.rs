//! Core benchmarks (`make bench`): a seeded, repeatable harness (no criterion: fewer
//! dependencies to build). Writes its tables between the `core` markers of BENCHMARKS.md.
//!
//! - records/s through `send` + `poll` into the log: 100-byte values, 16-byte keys,
//!   16 partitions (no retention, and with a retention bound);
//! - batch encode MB/s (uncompressed input bytes per second) for each codec, 16 KB batches;
//! - ns per record of each step of the per-record path alone (placement, batch append,
//!   CRC-32C), against the copy limit (copying the record's bytes, nothing else);
//! - heap bytes held per retained record against the record's encoded size.
//!
//! `FAST=1` runs fewer records and repetitions.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use tributary::batch::{BatchBuilder, RecordRef};
use tributary::{Client, Compression, ProduceRecord, ProducerConfig, RetentionConfig, TopicConfig};

struct Counting;
static HELD: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator and only counts sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        HELD.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// `n` records with 16-byte keys and 100-byte values, from a fixed seed.
fn records(n: usize) -> Vec<ProduceRecord> {
    let mut rng = Rng(0x5eed);
    (0..n)
        .map(|_| {
            let key = format!("user-{:011}", rng.next() % 100_000).into_bytes();
            let value: Vec<u8> = (0..100).map(|_| b'a' + (rng.next() % 26) as u8).collect();
            ProduceRecord::keyed(key, value)
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn produce(recs: &[ProduceRecord], retention: RetentionConfig) -> f64 {
    let mut c = Client::new(1);
    c.create_topic(
        "bench",
        TopicConfig {
            partitions: 16,
            retention,
            ..TopicConfig::default()
        },
    )
    .unwrap();
    let p = c
        .topic_producer("bench", ProducerConfig::default())
        .unwrap();
    let start = Instant::now();
    for (i, r) in recs.iter().enumerate() {
        c.send(p, r, 1_000).unwrap();
        if i % 1024 == 1023 {
            c.poll(1_000);
        }
    }
    c.flush(1_000);
    let secs = start.elapsed().as_secs_f64();
    recs.len() as f64 / secs
}

/// `r` as the batch encoder takes it, at timestamp 1,000.
fn record_ref(r: &ProduceRecord) -> RecordRef<'_> {
    RecordRef {
        key: r.key.as_deref(),
        value: &r.value,
        timestamp: 1_000,
        headers: &[],
    }
}

fn encode(recs: &[ProduceRecord], codec: Compression) -> (f64, f64) {
    let start = Instant::now();
    let mut input = 0usize;
    let mut output = 0usize;
    let mut b = BatchBuilder::new();
    for r in recs {
        let rr = record_ref(r);
        if b.size_with(&rr).is_none_or(|s| s > 16_384) {
            input += b.size();
            output += std::mem::take(&mut b).finish(codec).bytes().len();
        }
        b.push(&rr);
    }
    input += b.size();
    output += b.finish(codec).bytes().len();
    let secs = start.elapsed().as_secs_f64();
    (input as f64 / secs / 1e6, output as f64 / input as f64)
}

/// Nanoseconds per record of each step of the per-record path, each timed alone over
/// `recs`: placement (Fluvio's SipHash of the key, 16 partitions), batch append (size
/// check and encoding into 16 KB batches), CRC-32C of the encoded bytes, and the copy
/// limit (copying the key and value bytes into a batch-sized buffer, nothing else).
fn steps(recs: &[ProduceRecord]) -> [f64; 4] {
    let per = |start: Instant| start.elapsed().as_secs_f64() * 1e9 / recs.len() as f64;
    let start = Instant::now();
    let mut sum = 0u32;
    for r in recs {
        sum = sum.wrapping_add(tributary::partition_for_key(
            r.key.as_deref().unwrap_or(&[]),
            16,
        ));
    }
    std::hint::black_box(sum);
    let place = per(start);

    let start = Instant::now();
    let mut b = BatchBuilder::new();
    let mut batches = Vec::new();
    for r in recs {
        let rr = record_ref(r);
        if b.size_with(&rr).is_none_or(|s| s > 16_384) {
            batches.push(std::mem::take(&mut b));
        }
        b.push(&rr);
    }
    let append = per(start);
    let bytes: Vec<Vec<u8>> = batches
        .into_iter()
        .map(|b| b.finish(Compression::None).into_bytes())
        .collect();

    let start = Instant::now();
    let mut crc = 0u32;
    for b in &bytes {
        crc ^= tributary::batch::crc32c(&b[21..]);
    }
    std::hint::black_box(crc);
    let crc = per(start);

    let start = Instant::now();
    let mut buf: Vec<u8> = Vec::with_capacity(16_384);
    let mut copied = 0usize;
    for r in recs {
        if buf.len() + r.value.len() + 16 > 16_384 {
            copied += std::hint::black_box(&buf).len();
            buf.clear();
        }
        buf.extend_from_slice(r.key.as_deref().unwrap_or(&[]));
        buf.extend_from_slice(&r.value);
    }
    std::hint::black_box(copied);
    let copy = per(start);
    [place, append, crc, copy]
}

fn memory(recs: &[ProduceRecord]) -> (f64, f64) {
    let before = HELD.load(Ordering::Relaxed);
    let mut c = Client::new(1);
    c.create_topic(
        "mem",
        TopicConfig {
            partitions: 16,
            ..TopicConfig::default()
        },
    )
    .unwrap();
    let p = c.topic_producer("mem", ProducerConfig::default()).unwrap();
    for (i, r) in recs.iter().enumerate() {
        c.send(p, r, 1_000).unwrap();
        if i % 1024 == 1023 {
            c.poll(1_000);
        }
    }
    c.flush(1_000);
    let held = (HELD.load(Ordering::Relaxed) - before) as f64;
    let stats = c.producer_stats(p).unwrap();
    let encoded_record = stats.bytes as f64 / recs.len() as f64;
    drop(c);
    (held / recs.len() as f64, encoded_record)
}

fn main() {
    let fast = std::env::var("FAST").is_ok_and(|v| !v.is_empty() && v != "0");
    let n = if fast { 200_000 } else { 1_000_000 };
    let reps = if fast { 3 } else { 7 };
    let recs = records(n);

    let mut rows = String::new();
    let bounded = RetentionConfig {
        max_records: Some(10_000),
        ..RetentionConfig::default()
    };
    let (plain, bound) = {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            a.push(produce(&recs, RetentionConfig::default()));
            b.push(produce(&recs, bounded));
        }
        (median(a), median(b))
    };
    rows.push_str("| workload | median records/s | min – max |\n|---|---:|---:|\n");
    for (name, (m, lo, hi)) in [
        ("send + poll, 16 partitions, no retention", plain),
        (
            "send + poll, 16 partitions, retention 10,000 records/partition",
            bound,
        ),
    ] {
        rows.push_str(&format!("| {name} | {m:.0} | {lo:.0} – {hi:.0} |\n"));
    }

    rows.push_str("\n| codec | median encode MB/s (input) | min – max | compressed / input |\n|---|---:|---:|---:|\n");
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
    ] {
        let mut speeds = Vec::new();
        let mut ratio = 0.0;
        for _ in 0..reps {
            let (s, r) = encode(&recs, codec);
            speeds.push(s);
            ratio = r;
        }
        let (m, lo, hi) = median(speeds);
        rows.push_str(&format!(
            "| {} | {m:.0} | {lo:.0} – {hi:.0} | {ratio:.3} |\n",
            codec.name()
        ));
    }

    let mut per_step: [Vec<f64>; 4] = Default::default();
    for _ in 0..reps {
        for (v, ns) in per_step.iter_mut().zip(steps(&recs)) {
            v.push(ns);
        }
    }
    rows.push_str(
        "\n| per-record step (alone) | median ns/record | min – max |\n|---|---:|---:|\n",
    );
    for (name, v) in [
        "placement: SipHash-2-4 of the key, 16 partitions",
        "batch append: size check + encoding into 16 KB batches",
        "CRC-32C of the encoded batches (slicing-by-8)",
        "copy limit: key + value bytes copied into a 16 KB buffer",
    ]
    .into_iter()
    .zip(per_step)
    {
        let (m, lo, hi) = median(v);
        rows.push_str(&format!("| {name} | {m:.1} | {lo:.1} – {hi:.1} |\n"));
    }

    let (held, encoded) = memory(&recs[..n.min(200_000)]);
    rows.push_str(&format!(
        "\n| memory | bytes |\n|---|---:|\n| heap held per retained record (log + index) | {held:.1} |\n| encoded record in its batch (framing included) | {encoded:.1} |\n| ratio | {:.3} |\n",
        held / encoded
    ));

    let cmd = if fast {
        "make bench FAST=1"
    } else {
        "make bench"
    };
    let section = format!(
        "<!-- core:begin -->\n## Core (native Rust)\n\nCommand: `{cmd}` (`cargo bench --bench core`). {n} records, 16-byte keys, 100-byte values, seeded; {reps} repetitions, median and min – max. Machine: {}.\n\n{rows}<!-- core:end -->",
        machine()
    );
    println!("{section}");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/BENCHMARKS.md");
    let doc = std::fs::read_to_string(path).unwrap_or_else(|_| "# Benchmarks\n".to_owned());
    let doc = match (
        doc.find("<!-- core:begin -->"),
        doc.find("<!-- core:end -->"),
    ) {
        (Some(a), Some(b)) => format!(
            "{}{}{}",
            &doc[..a],
            section,
            &doc[b + "<!-- core:end -->".len()..]
        ),
        _ => format!("{}\n{}\n", doc.trim_end(), section),
    };
    std::fs::write(path, doc).expect("write BENCHMARKS.md");
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{cpu}, {cores} cores, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}
