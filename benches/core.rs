//! Core benchmarks (`make bench`): a seeded, repeatable harness (no criterion: fewer
//! dependencies to build). Writes its tables between the `core` markers of BENCHMARKS.md
//! (`NO_WRITE=1`: print them only).
//!
//! - records/s and ns/record through `send` + `poll` into the log: 100-byte values,
//!   16-byte keys, 16 partitions (no retention, and with a retention bound);
//! - batch encode MB/s (uncompressed input bytes per second) for each codec, 16 KB batches;
//! - ns per record of each step of the per-record path alone (placement, batch append,
//!   batch close, CRC-32C, the whole send + poll path), against the copy limit (copying
//!   the record's bytes once, nothing else);
//! - ns per record of the whole path by partition count (1 to 1,024);
//! - heap bytes held per retained record against the record's encoded size.
//!
//! `FAST=1` runs fewer records and repetitions.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use tributary::batch::{BatchBuilder, RecordRef};
use tributary::{Client, Compression, ProduceRecord, ProducerConfig, RetentionConfig, TopicConfig};

/// The time this thread has run, in seconds (`CLOCK_THREAD_CPUTIME_ID`): the bench runs
/// on one thread, so this is its work, and the time other processes take from a shared
/// machine is not counted in it (their cache and memory traffic still is). Elsewhere than
/// on Unix, the wall clock.
#[derive(Clone, Copy)]
struct Instant(f64);

impl Instant {
    #[cfg(unix)]
    fn now() -> Instant {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `t` is a valid timespec for the call to write.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
        assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
        Instant(t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9)
    }

    #[cfg(not(unix))]
    fn now() -> Instant {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        Instant(
            START
                .get_or_init(std::time::Instant::now)
                .elapsed()
                .as_secs_f64(),
        )
    }

    fn elapsed_secs(self) -> f64 {
        Instant::now().0 - self.0
    }
}

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

/// `Client::send` of every record of `recs` into a topic of `partitions` partitions,
/// `poll` every `chunk` records (linger 0: each poll closes the open batches), then
/// `flush`. Returns records/s and records per batch.
fn produce(
    recs: &[ProduceRecord],
    partitions: u32,
    chunk: usize,
    retention: RetentionConfig,
) -> (f64, f64) {
    let mut c = Client::new(1);
    c.create_topic(
        "bench",
        TopicConfig {
            partitions,
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
        if i % chunk == chunk - 1 {
            c.poll(1_000);
        }
    }
    c.flush(1_000);
    let secs = start.elapsed_secs();
    let stats = c.producer_stats(p).unwrap();
    assert_eq!(stats.records_appended, recs.len() as u64);
    (
        recs.len() as f64 / secs,
        recs.len() as f64 / stats.batches as f64,
    )
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

/// The batch after `b`, sized as the accumulator sizes it (`src/accumulator.rs`).
fn next_batch(b: &BatchBuilder) -> BatchBuilder {
    BatchBuilder::with_capacity((b.size() + b.size() / 4).min(16_384))
}

fn encode(recs: &[ProduceRecord], codec: Compression) -> (f64, f64) {
    let start = Instant::now();
    let mut input = 0usize;
    let mut output = 0usize;
    let mut b = BatchBuilder::new();
    for r in recs {
        let rr = record_ref(r);
        if !b.push_within(&rr, 16_384) {
            input += b.size();
            let next = next_batch(&b);
            output += std::mem::replace(&mut b, next).finish(codec).bytes().len();
            b.push(&rr);
        }
    }
    input += b.size();
    output += b.finish(codec).bytes().len();
    let secs = start.elapsed_secs();
    (input as f64 / secs / 1e6, output as f64 / input as f64)
}

fn key(r: &ProduceRecord) -> &[u8] {
    r.key.as_deref().unwrap_or(&[])
}

/// The per-record steps, each timed alone over the same records: their names, in the
/// order of the table.
const STEPS: [&str; 7] = [
    "placement: SipHash-2-4 of the key (Fluvio's), 16 partitions",
    "placement: murmur2 of the key (Kafka's), 16 partitions",
    "batch append: size check + record encoding into 16 KB batches",
    "batch close: header + CRC-32C + shrink (`finish`), per record",
    "CRC-32C alone over the batches' bytes",
    "whole path: `Client::send` (checks, placement, append, close) + `poll` (log append)",
    "copy limit: key + value bytes copied once into a 16 KB buffer",
];

/// Nanoseconds per record of each of [`STEPS`] over `recs`. Placement hashes the key and
/// takes it modulo 16; append sizes and encodes each record into 16 KB batches
/// (`BatchBuilder::push_within`, each batch sized as the accumulator sizes it); close finishes those batches (header, CRC, shrink);
/// CRC-32C runs over the finished batches' CRC range again, alone; the whole path is
/// [`produce`] (`Client::send` of every record, `poll` every 1,024, then `flush`); the copy
/// limit copies each record's key and value once into a batch-sized buffer.
fn steps(recs: &[ProduceRecord]) -> [f64; 7] {
    let per = |start: Instant| start.elapsed_secs() * 1e9 / recs.len() as f64;
    // First, while the heap is as the workload rows find it (the steps below leave
    // batches of every record behind them until they return).
    let whole = 1e9 / produce(recs, 16, 1024, RetentionConfig::default()).0;

    let start = Instant::now();
    let mut sum = 0u32;
    for r in recs {
        sum = sum.wrapping_add(tributary::partition_for_key(
            std::hint::black_box(key(r)),
            16,
        ));
    }
    std::hint::black_box(sum);
    let place = per(start);

    let start = Instant::now();
    let mut sum = 0u32;
    for r in recs {
        sum = sum.wrapping_add(tributary::murmur2_partition(
            std::hint::black_box(key(r)),
            16,
        ));
    }
    std::hint::black_box(sum);
    let murmur = per(start);

    let start = Instant::now();
    let mut b = BatchBuilder::new();
    let mut batches = Vec::new();
    for r in recs {
        let rr = record_ref(r);
        if !b.push_within(&rr, 16_384) {
            let next = next_batch(&b);
            batches.push(std::mem::replace(&mut b, next));
            b.push(&rr);
        }
    }
    batches.push(b);
    let append = per(start);

    let start = Instant::now();
    let bytes: Vec<Vec<u8>> = batches
        .into_iter()
        .map(|b| b.finish(Compression::None).into_bytes())
        .collect();
    let close = per(start);

    let start = Instant::now();
    let mut crc = 0u32;
    for b in &bytes {
        crc ^= tributary::batch::crc32c(std::hint::black_box(&b[21..]));
    }
    std::hint::black_box(crc);
    let crc = per(start);
    drop(bytes);

    let start = Instant::now();
    let mut buf: Vec<u8> = Vec::with_capacity(16_384);
    let mut copied = 0usize;
    for r in recs {
        if buf.len() + r.value.len() + 16 > 16_384 {
            copied += std::hint::black_box(&buf).len();
            buf.clear();
        }
        buf.extend_from_slice(key(r));
        buf.extend_from_slice(&r.value);
    }
    std::hint::black_box(copied);
    let copy = per(start);

    [place, murmur, append, close, crc, whole, copy]
}

/// The whole path's time per record, taken apart with the steps' medians (`m`, in
/// [`STEPS`] order), each against the copy limit.
fn where_the_time_goes(m: &[f64; 7]) -> String {
    let [place, _murmur, append, close, crc, whole, copy] = *m;
    let rest = whole - place - append - close;
    let mut t = format!(
        "\nWhere the whole path's {whole:.0} ns per record go (the steps' medians above; \
         the copy limit is {copy:.1} ns, the record's 116 bytes copied once):\n\n\
         | part of the whole path | ns/record | × copy limit | share of the whole path |\n|---|---:|---:|---:|\n"
    );
    for (name, ns) in [
        ("placement (SipHash-2-4 + modulo)", place),
        ("append (sizing + varints + key and value copied in)", append),
        ("close (header, CRC-32C, shrink), per record", close),
        ("of which CRC-32C (its step measured alone)", crc),
        (
            "the rest: the client's checks and bookkeeping per send, the batch's allocation, the log's append",
            rest,
        ),
    ] {
        t.push_str(&format!(
            "| {name} | {ns:.0} | {:.1} | {:.0} % |\n",
            ns / copy,
            100.0 * ns / whole
        ));
    }
    t.push_str(&format!(
        "| whole path | {whole:.0} | {:.1} | 100 % |\n",
        whole / copy
    ));
    t.push_str(
        "\nWhat each part is, and what bounds it:\n\n\
         - **Placement** is fixed by Fluvio compatibility: SipHash-2-4 over the 8-byte length \
         and the 16-byte key is four message words of two rounds each and four finalisation \
         rounds, then a 64-bit modulo. It runs in one pass over 8-byte words (no streaming \
         buffer), its state in four locals (registers in wasm, not an array in memory); \
         Kafka's murmur2 is the cheaper hash, opt-in.\n\
         - **Append** is the copy limit itself (key and value copied once into the batch) plus \
         the record's framing: one sizing (length, deltas, key, value, headers) shared by the \
         batch-size check and the encoding, then the record written in place (the batch grown \
         once by the record's size, six varints and the key and value written at an index, no \
         push per byte), no allocation (a new batch reserves its partition's last batch size + \
         1/4, so a steady stream's batches never regrow).\n\
         - **Close** is dominated by CRC-32C over every byte of the batch: slicing-by-16, tables \
         computed at first use (a 16 KB zeroed static: no bytes in the wasm), about a cycle per \
         byte. A hardware CRC (SSE4.2, ARMv8) would be several times faster natively, but wasm \
         has no such instruction and the package is the wasm, so the core keeps the tables.\n\
         - **The rest** is `Client::send`'s own work per record (the producer looked up once, \
         its topic by index, the record sized against `max_request_size`, the offset room checked, \
         counters) and per batch (its allocation, the log's append and index entry, the poll's \
         outcome). It lives in `src/producer.rs` and `src/log.rs`.\n\
         - **By partitions** (the table below): the per-batch costs are spread over fewer records \
         as partitions grow (about 10 records per batch at 1,024 partitions with a poll per \
         10,000 records), and 1,024 open batches no longer stay in the cache.\n",
    );
    t
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
    let load_before = load();

    let mut rows = String::new();
    let bounded = RetentionConfig {
        max_records: Some(10_000),
        ..RetentionConfig::default()
    };
    let (plain, bound) = {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            a.push(produce(&recs, 16, 1024, RetentionConfig::default()).0);
            b.push(produce(&recs, 16, 1024, bounded).0);
        }
        (median(a), median(b))
    };
    rows.push_str(
        "| workload | median records/s | min – max | ns/record |\n|---|---:|---:|---:|\n",
    );
    for (name, (m, lo, hi)) in [
        ("send + poll, 16 partitions, no retention", plain),
        (
            "send + poll, 16 partitions, retention 10,000 records/partition",
            bound,
        ),
    ] {
        rows.push_str(&format!(
            "| {name} | {m:.0} | {lo:.0} – {hi:.0} | {:.0} |\n",
            1e9 / m
        ));
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

    let mut per_step: [Vec<f64>; STEPS.len()] = Default::default();
    for _ in 0..reps {
        for (v, ns) in per_step.iter_mut().zip(steps(&recs)) {
            v.push(ns);
        }
    }
    rows.push_str(
        "\n| per-record step (alone) | median ns/record | min – max |\n|---|---:|---:|\n",
    );
    let mut med = [0.0; STEPS.len()];
    for ((name, v), m) in STEPS.into_iter().zip(per_step).zip(&mut med) {
        let (mid, lo, hi) = median(v);
        *m = mid;
        rows.push_str(&format!("| {name} | {mid:.1} | {lo:.1} – {hi:.1} |\n"));
    }
    rows.push_str(&where_the_time_goes(&med));

    // Scaling: the whole path by partition count, as benches/js/scaling.mjs runs it
    // (a poll per 10,000 records, retention 10,000 records per partition).
    rows.push_str("\n| partitions (send + poll per 10,000 records, retention 10,000/partition) | median ns/record | min – max | records per batch |\n|---:|---:|---:|---:|\n");
    for partitions in [1, 16, 256, 1024] {
        let mut ns = Vec::new();
        let mut per_batch = 0.0;
        for _ in 0..reps {
            let (rate, pb) = produce(&recs, partitions, 10_000, bounded);
            ns.push(1e9 / rate);
            per_batch = pb;
        }
        let (m, lo, hi) = median(ns);
        rows.push_str(&format!(
            "| {partitions} | {m:.0} | {lo:.0} – {hi:.0} | {per_batch:.1} |\n"
        ));
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
        "<!-- core:begin -->\n## Core (native Rust)\n\nCommand: `{cmd}` (`cargo bench --bench core`). {n} records, 16-byte keys, 100-byte values, seeded; {reps} repetitions, median and min – max; times are the thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), so other processes on the machine do not stretch them (they still share its caches). Machine: {}; 1-minute load average {load_before} before, {} after (the machine's other work shares its caches and cores).\n\n{rows}<!-- core:end -->",
        machine(),
        load()
    );
    println!("{section}");
    if std::env::var_os("NO_WRITE").is_some() {
        return;
    }
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

/// The 1-minute load average (Linux), or "unknown".
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
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
