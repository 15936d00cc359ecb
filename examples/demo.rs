//! The native demo (`make demo` until the demo page exists): 100,000 keyed records into a
//! 4-partition topic with a retention bound, then, per partition, its offsets, bytes held
//! and records evicted.

use tributary::{Client, ProduceRecord, ProducerConfig, RetentionConfig, TopicConfig};

fn main() -> Result<(), tributary::Error> {
    const RECORDS: u64 = 100_000;
    let mut client = Client::new(0x7472_6962);
    let retention = RetentionConfig {
        max_records: Some(10_000),
        max_bytes: Some(1 << 20),
        ..RetentionConfig::default()
    };
    client.create_topic(
        "clicks",
        TopicConfig {
            partitions: 4,
            retention,
            ..TopicConfig::default()
        },
    )?;
    let producer = client.topic_producer("clicks", ProducerConfig::default())?;
    let mut now = 1_767_225_600_000i64; // 2026-01-01T00:00:00Z
    for i in 0..RECORDS {
        let key = format!("session-{:03}", i % 500);
        let value = format!(
            r#"{{"type":"click","target":"button#buy-{}","x":{},"y":{},"seq":{i}}}"#,
            i % 7,
            (i * 37) % 1280,
            (i * 91) % 800
        );
        client.send(producer, &ProduceRecord::keyed(key, value), now)?;
        if i % 1_000 == 999 {
            now += 10;
            client.poll(now);
        }
    }
    let outcome = client.flush(now);
    assert!(outcome.rejected.is_empty());
    let stats = client.producer_stats(producer)?;
    println!(
        "tributary demo: {} keyed records into topic `clicks` (4 partitions, retention {} records / {} bytes per partition)",
        stats.records,
        retention.max_records.unwrap_or(0),
        retention.max_bytes.unwrap_or(0)
    );
    println!(
        "{:>9} {:>11} {:>11} {:>9} {:>10} {:>9} {:>8}",
        "partition", "log start", "high water", "records", "bytes", "evicted", "segments"
    );
    for p in 0..4 {
        let info = client.partition_info("clicks", p)?;
        println!(
            "{:>9} {:>11} {:>11} {:>9} {:>10} {:>9} {:>8}",
            p,
            info.log_start_offset,
            info.high_watermark,
            info.records,
            info.bytes,
            info.evicted_records,
            info.segments
        );
    }
    println!(
        "batches appended: {}, records evicted: {}, dropped unacknowledged: {}",
        stats.batches, stats.evicted, stats.dropped
    );
    let p = tributary::partition_for_key(b"session-042", 4);
    let info = client.partition_info("clicks", p)?;
    let last = client.read("clicks", p, info.high_watermark - 1, 1)?;
    println!(
        "last record of partition {p}: offset {} value {}",
        last[0].offset,
        String::from_utf8_lossy(&last[0].value)
    );
    Ok(())
}
