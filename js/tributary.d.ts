// The types of tributary.js (the classes over the wasm core), written by hand; the
// lines between `sink:begin` and `sink:end` (and those ending in `// sink`) are left out of
// `tributary/local` by scripts/build_pkg.py.
// sink:begin
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
    /** Subjects are `<subjectPrefix>.<partition>` (default prefix: the topic's name; at most 1024 bytes of UTF-8, no blanks or wildcards). */
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
    /** Replies come to `<inboxPrefix>.<random>.>` (default "_INBOX"; at most 1024 bytes): the credentials must be allowed to subscribe there. */
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




// sink:end
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

/** `send` and `sendAll` are the package's JS (`js/tributary.js`); their types merge into the class. */
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




/**
 * A producer for one topic, made by `Tributary.topicProducer`.
 *
 * `send` and `sendAll` are defined by the package's JS (`js/tributary.js`): it writes the
 * records into the client's staging area and calls `_push` (or `_send` / `_sendAll`,
 * which convert here, for what its fast path does not take), and keeps their promises.
 */
export class TopicProducer {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Appends its open batches, then closes this producer: later calls reject with
     * `CLOSED`. Records that cannot be appended now (the outbox is full behind a sink
     * under `unacked: "keep"`) and records waiting for queue room reject with `CLOSED`:
     * `await producer.flush()` first to wait for them. Closing twice does nothing.
     */
    close(): Promise<void>;
    /**
     * Closes this producer's open batches and appends them (all producers' batches are
     * appended: the log is shared); resolves when every record sent before is in the log
     * and, with a sink, acknowledged. The same as `Tributary.flush`.
     */
    flush(): Promise<void>;
    /**
     * Counters: records, bytes, batches, recordsAppended, queueDepth, queuedRecords,
     * waiting (records waiting for queue room), rejected, queueFull (sends that met a
     * full queue), evicted, dropped.
     */
    stats(): ProducerStats;
    /**
     * The topic this producer writes to.
     */
    readonly topic: any;
}

/**
 * A tributary client: topics with in-memory partition logs, and the producers writing
 * to them.
 *
 * ```ts
 * import { Tributary } from "tributary";
 * const client = new Tributary();
 * client.createTopic("clicks", { partitions: 4 });
 * const producer = client.topicProducer("clicks");
 * const md = await producer.send("user-42", "hello");
 * ```
 */
export class Tributary {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Appends every open batch, closes every sink (the package's JS first waits for
     * delivery up to `timeoutMs`, see `Sink.close`; pending sink flushes reject with
     * `SINK_CLOSED`), then closes the client: every later call fails with `CLOSED`,
     * except those with nothing left to do: `close()` again and `flush()` (of the client
     * or a producer) resolve at once (what was not delivered, the close reported: a later
     * flush does not wait for it), `topics()` is empty.
     *
     * Closing releases the client's memory (logs, producers) at once, whatever JS objects
     * still refer to it; records still waiting for queue room reject with `CLOSED`.
     */
    close(): Promise<void>;
    /**
     * Creates a topic. Throws `TOPIC_EXISTS`, `INVALID_TOPIC_NAME` or `INVALID_CONFIG`.
     *
     * Defaults: `partitions` 1, `replicationFactor` 1, no retention bound,
     * `compression` "none".
     */
    createTopic(name: string, config?: TopicConfig): void;
    // sink:begin
    /**
     * Decodes one Fluvio record batch from the front of `bytes` (length, magic and
     * CRC-32C checked; a compressed batch inflates to at most `maxUncompressed` bytes,
     * default 1 MiB): `{ baseOffset, records, size }`, `records` as `read` returns them
     * (ready for `restore`), `size` the bytes the batch took. Throws `CORRUPT_BATCH` with
     * `reason` "truncated" (the bytes end inside the batch), "crc" (the checksum does not
     * match), "decompress" (the compressed records are invalid or inflate past
     * `maxUncompressed`) or "invalid" (anything else). (Not in `tributary/local`.)
     */
    static decodeBatch(bytes: Uint8Array, maxUncompressed?: number): DecodedBatch;
    /**
     * Encodes `records` (`[{ offset, key, value, timestamp, headers? }]`, consecutive
     * offsets) as one uncompressed Fluvio record batch whose base offset is the first
     * record's: the bytes `decodeBatch` reads back. Throws `INVALID_ARGUMENT` (no
     * records, offsets not consecutive, timestamps more than 2^31 - 1 ms apart).
     * (Not in `tributary/local`.)
     */
    static encodeBatch(records: RestoredRecord[]): Uint8Array;
    // sink:end
    /**
     * Closes every open batch of every producer and appends it to the log; resolves when
     * every record sent before the call is in the log and, for topics with a sink,
     * acknowledged by JetStream (rejecting like `Sink.flush` when a sink fails).
     */
    flush(): Promise<void>;
    /**
     * A client with no topics (local mode: in-memory topics only).
     *
     * `options.seed` (integer) fixes the random start of the keyless round robin, for
     * reproducible tests; by default it is random.
     */
    constructor(options?: { seed?: number });
    /**
     * What one partition reports: log start offset, high watermark, bytes and records
     * held, segments, evicted and lost records, the sink's cursor, and whether retention
     * is held back by unacknowledged records.
     */
    partitionInfo(topic: string, partition: number): PartitionInfo;
    /**
     * Up to `maxRecords` records of `topic`/`partition` from `fromOffset`. Throws
     * `OFFSET_EVICTED` (with `nextAvailable`) for an offset retention removed.
     */
    read(topic: string, partition: number, fromOffset: number, maxRecords: number): ConsumedRecord[];
    // sink:begin
    /**
     * Puts records back at the offsets they had (a persisted outbox after a reload):
     * `records` is `[{ offset, key, value, timestamp, headers? }]` with consecutive
     * offsets; the partition must be empty or end exactly at the first offset (an empty
     * one then starts there). A sink connected afterwards sends them again with the same
     * message ids (use the same `msgIdPrefix`), so JetStream keeps each once. Throws
     * `OFFSET_OUT_OF_RANGE`, `PARTITION_OUT_OF_RANGE`, `INVALID_TIMESTAMP`,
     * `INVALID_ARGUMENT`, `UNKNOWN_TOPIC`, `CLOSED`; nothing changes then. (Not in
     * `tributary/local`: it serves the sink's resends.)
     */
    restore(topic: string, partition: number, records: RestoredRecord[]): void;
    // sink:end
    /**
     * A producer for `topic`. Throws `UNKNOWN_TOPIC` or `INVALID_CONFIG`.
     *
     * Defaults: `batchSize` 16384 bytes, `linger` 0 ms (batches close at the next turn of
     * the event loop), `maxRequestSize` 1 MiB, `batchQueueSize` 100 batches per
     * partition, `partitioner` "siphash" (Fluvio's), `onQueueFull` "wait".
     */
    topicProducer(topic: string, config?: ProducerConfig): TopicProducer;
    /**
     * The names of the topics, sorted.
     */
    topics(): string[];
}

/**
 * The partition a keyed record lands in, for a topic of `partitionCount` partitions:
 * the same number as Rust's `tributary::partition_for_key` and Fluvio's producer.
 *
 * ```ts
 * partitionFor("user-1", 7); // 5
 * ```
 */
export function partitionFor(key: string | Uint8Array, partitionCount: number): number;
