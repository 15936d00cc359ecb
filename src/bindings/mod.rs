//! The JS bindings (wasm32 only): converts JS values, schedules the core's `poll`, and
//! exposes the core with wasm-bindgen. No logic lives here.

// Exported items are reached from JS through wasm-bindgen, not through Rust paths.
#![allow(unreachable_pub)]

use wasm_bindgen::prelude::*;

mod client;
mod convert;
mod error;
#[cfg(not(feature = "std"))]
mod runtime;
#[cfg(feature = "sink")]
mod sink;

#[cfg(test)]
mod tests;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
import type { TributaryError } from "./index.js";
/** Retention of each partition; every bound is per partition, absent = unbounded. */
export interface RetentionConfig {
  /** Remove a segment once its last append is older than this (ms). */
  maxAgeMs?: number;
  /** Keep at most this many encoded bytes. */
  maxBytes?: number;
  /** Keep at most this many records. */
  maxRecords?: number;
  /** Segment size in bytes; default 1 MiB, or maxBytes / 8 when smaller. */
  segmentBytes?: number;
  /** Records a sink has not acknowledged: "keep" (default; bound exceeded, reported) or "drop" (counted as lost). */
  unacked?: "keep" | "drop";
}

/** A topic's configuration. */
export interface TopicConfig {
  /** Partitions, 1..=65536 (default 1). */
  partitions?: number;
  /** Replica count carried to the sink's engine, 1..=5 (default 1). */
  replicationFactor?: number;
  /** Retention bounds (default: none). */
  retention?: RetentionConfig;
  /** Codec of the topic's batches (default "none"). */
  compression?: "none" | "gzip" | "snappy" | "lz4";
}

/** A producer's configuration. */
export interface ProducerConfig {
  /** Bytes (encoded, uncompressed) at which a batch closes (default 16384). */
  batchSize?: number;
  /** Ms a batch waits for more records after its first (default 0: the next turn of the event loop). */
  linger?: number;
  /** A larger record is rejected with RECORD_TOO_LARGE (default 1048576). */
  maxRequestSize?: number;
  /** Batches one partition may hold unsent (default 100). */
  batchQueueSize?: number;
  /** Keyed partitioner: "siphash" (Fluvio's, default) or "murmur2" (Kafka's). */
  partitioner?: "siphash" | "murmur2";
  /** Codec override; default the topic's. */
  compression?: "none" | "gzip" | "snappy" | "lz4";
  /** When a partition's batch queue is full: "wait" (default: send's promise waits for room) or "error" (QUEUE_FULL). */
  onQueueFull?: "wait" | "error";
}

/** Options of one send. */
export interface SendOptions {
  /** Headers, name to value: an object (its own enumerable properties) or a Map. */
  headers?: Record<string, string | Uint8Array> | Map<string, string | Uint8Array>;
  /** Ms since the epoch; default: now. */
  timestamp?: number;
  /** Explicit partition; out of range rejects with PARTITION_OUT_OF_RANGE. */
  partition?: number;
}

/** Where a record landed. */
export interface RecordMetadata {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
}

/** A record read back from a partition log. */
export interface ConsumedRecord {
  offset: number;
  /** null when sent without a key. */
  key: Uint8Array | null;
  value: Uint8Array;
  timestamp: number;
  headers: Record<string, Uint8Array>;
}

/** What one partition reports about itself. */
export interface PartitionInfo {
  logStartOffset: number;
  highWatermark: number;
  bytes: number;
  records: number;
  segments: number;
  evictedRecords: number;
  lostRecords: number;
  /** The sink's cursor (every offset below is acknowledged), or null without a sink. */
  ackedOffset: number | null;
  /** True while retention is held back by unacknowledged records. */
  overBound: boolean;
}

/** `send` and `sendAll` are the package's JS (`js/errors.js`); their types merge into the class. */
export interface TopicProducer {
  /**
   * Sends one record; resolves with its `RecordMetadata` once it is in the local log
   * (at the next turn of the event loop, or after `linger` ms).
   *
   * `key`: `string` (UTF-8) or `Uint8Array`; `null`/`undefined` for no key (round
   * robin). An empty key is a key. `value`: `string` or `Uint8Array`.
   * `options`: `{ headers?: Record<string, string | Uint8Array>, timestamp?: number,
   * partition?: number }`.
   *
   * Rejects with `RECORD_TOO_LARGE`, `PARTITION_OUT_OF_RANGE`, `INVALID_ARGUMENT`,
   * `INVALID_TIMESTAMP`, `CLOSED`, or `QUEUE_FULL` (with `onQueueFull: "error"`; by
   * default the promise waits for room instead). A rejected record changes nothing.
   */
  send(key: string | Uint8Array | null | undefined, value: string | Uint8Array, options?: SendOptions): Promise<RecordMetadata>;
  /**
   * Sends many records crossing into wasm once; resolves with their metadata, in order.
   *
   * Each entry is `[key, value]` or `[key, value, options]`. Every entry is checked
   * before any is queued: one bad entry rejects the call (the error's `index` names it)
   * and queues nothing. Records that find a partition queue full wait for room, whatever
   * `onQueueFull` says.
   */
  sendAll(records: Array<[string | Uint8Array | null, string | Uint8Array, SendOptions?]>): Promise<RecordMetadata[]>;
}

/** A producer's counters. */
export interface ProducerStats {
  records: number;
  bytes: number;
  batches: number;
  recordsAppended: number;
  queueDepth: number;
  queuedRecords: number;
  waiting: number;
  rejected: number;
  /** Sends that met a full batch queue (they waited or failed with QUEUE_FULL). */
  queueFull: number;
  evicted: number;
  dropped: number;
}

"#;

#[cfg(feature = "sink")]
#[wasm_bindgen(typescript_custom_section)]
const SINK_TS_TYPES: &'static str = r#"
/** A record given back to `Tributary.restore`, at the offset it had. */
export interface RestoredRecord {
  offset: number;
  /** null (or absent) for no key. */
  key?: string | Uint8Array | null;
  value: string | Uint8Array;
  timestamp: number;
  /** An object or a Map, as `SendOptions.headers`. */
  headers?: Record<string, string | Uint8Array> | Map<string, string | Uint8Array>;
}

/** One record batch read by `Tributary.decodeBatch`. */
export interface DecodedBatch {
  /** The offset of the batch's first record. */
  baseOffset: number;
  /** The records at their offsets, as `read` returns them (ready for `restore`). */
  records: ConsumedRecord[];
  /** Bytes the batch took from the front of the input. */
  size: number;
}

/** Options of `Tributary.connect`: where and how a topic's records go into NATS JetStream. */
export interface SinkOptions {
  /** Server URLs (ws:// or wss://), tried in turn on reconnect. */
  servers?: string[];
  /** One server URL (added to `servers`). */
  server?: string;
  /** The JetStream stream (default: the topic's name). */
  stream?: string;
  /** Subjects are `<subjectPrefix>.<partition>` (default prefix: the topic's name). */
  subjectPrefix?: string;
  /** Token auth. Credentials never appear in errors, logs or stats. */
  token?: string;
  /** User/password auth. */
  user?: string;
  pass?: string;
  /** The content of a NATS `.creds` file (user JWT and nkey seed; signed with WebCrypto Ed25519). */
  creds?: string;
  /** A user nkey seed (`SU...`). */
  nkeySeed?: string;
  /** "at-least-once" (default: acknowledged, resent until acknowledged) or "at-most-once". */
  delivery?: "at-least-once" | "at-most-once";
  /** Attempts per record before it is given up (default: unlimited). */
  maxRetries?: number;
  /** An unacknowledged message older than this is resent, and the server pinged (default 5000 ms). */
  ackTimeoutMs?: number;
  /** Connecting and logging in may take this long (default 10000 ms). */
  connectTimeoutMs?: number;
  /** First reconnect/retry delay, doubled per attempt, with jitter (default 100 ms). */
  backoffInitialMs?: number;
  /** Longest reconnect/retry delay (default 5000 ms). */
  backoffMaxMs?: number;
  /** Messages awaiting acknowledgement at most (default 1024). */
  maxInFlight?: number;
  /** Create the stream on connect from the topic's replication factor and retention (default false). */
  provision?: boolean;
  /** The provisioned stream's de-duplication window (default 120000 ms). */
  duplicateWindowMs?: number;
  /** First part of every Nats-Msg-Id (`<prefix>-<partition>-<offset>`; default: random, drawn once per client, so a record keeps its id across sinks). */
  msgIdPrefix?: string;
  /** Replies come to `<inboxPrefix>.<random>.>` (default "_INBOX"): the credentials must be allowed to subscribe there. */
  inboxPrefix?: string;
  /** How long `close()` waits for delivery by default (default 5000 ms). */
  closeTimeoutMs?: number;
  /** Connection name shown by the server. */
  name?: string;
  /** A WebSocket constructor (default: the global one; on Node 20 pass the `ws` package's). */
  WebSocket?: unknown;
  /** Called as acknowledgements arrive, once per partition that moved. */
  onAck?: (progress: SinkProgress[]) => void;
  /** Called when the state changes ("connecting", "connected", "reconnecting", "offline", "failed", "closed"), with why: the error that ended the connection (SINK_DISCONNECTED, SINK_CONNECT, SINK_TIMEOUT, ...), or on "closed" what was not delivered (SINK_CLOSED with `undelivered`). */
  onStateChange?: (state: string, error?: Error) => void;
}

/** Acknowledgement progress of one partition. */
export interface SinkProgress {
  partition: number;
  /** Every offset below this is settled: acknowledged, or given up (`givenUp`). */
  ackedOffset: number;
  /** JetStream's sequence of the last acknowledged message. */
  streamSeq: number;
  /** Records below `ackedOffset` given up (after `maxRetries`, or larger than the server's
   *  max payload) since the last progress of this partition: not in JetStream. */
  givenUp?: { partition: number; fromOffset: number; toOffset: number }[];
}

/** A sink's counters and state. */
export interface SinkStats {
  published: number;
  acked: number;
  duplicates: number;
  resent: number;
  timeouts: number;
  errors: number;
  failedRecords: number;
  connects: number;
  disconnects: number;
  inFlight: number;
  state: string;
  server: string;
}

"#;

/// The partition a keyed record lands in, for a topic of `partitionCount` partitions:
/// the same number as Rust's `tributary::partition_for_key` and Fluvio's producer.
///
/// ```ts
/// partitionFor("user-1", 7); // 5
/// ```
#[wasm_bindgen(js_name = "partitionFor")]
pub fn partition_for(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] key: JsValue,
    #[wasm_bindgen(js_name = "partitionCount", unchecked_param_type = "number")]
    partition_count: JsValue,
) -> Result<u32, JsValue> {
    let key = convert::bytes(&key, "key")?;
    let n = convert::integer(&partition_count, "partitionCount", 1.0, 65_536.0)
        .map_err(|m| error::invalid_argument(&m))?;
    Ok(crate::partition_for_key(&key, n as u32))
}
