// tributary/durable: a topic whose unacknowledged records survive reloads, offline spells
// and closed tabs (see durable.js for how).
import type {
  Tributary, Sink, SinkOptions, ProducerConfig, SendOptions, RecordMetadata, ProducerStats,
} from "./index.js";

/** A storage or replay failure (STORAGE_QUOTA, STORAGE_FAILED, STORAGE_UNAVAILABLE, REPLAY_FAILED), records the sink gave up (SINK_UNDELIVERED), records another producer's appends kept out of the log (LOG_CONFLICT), or sends not in the log when the topic was closed (CLOSED). */
export declare class DurableError extends Error {
  constructor(code: string, message: string, cause?: unknown);
  readonly name: "DurableError";
  readonly code: "STORAGE_QUOTA" | "STORAGE_FAILED" | "STORAGE_UNAVAILABLE" | "REPLAY_FAILED" | "SINK_UNDELIVERED" | "LOG_CONFLICT" | "CLOSED" | "INVALID_CONFIG" | "BEACON_FAILED";
  /** SINK_UNDELIVERED: the records given up (after `maxRetries`, or larger than the server's max payload). */
  readonly records?: { partition: number; offset: number; key: Uint8Array | string | null; value: Uint8Array | string; timestamp: number; headers: Record<string, unknown> }[];
}

/** An older generation's outbox being sent again (`done: false`), or delivered (`done: true`). */
export interface ReplayEvent {
  /** The generation's message id prefix. */
  generation: string;
  /** Records put back at their offsets (sent with their old message ids). */
  records: number;
  /** Records that never had an id (moved into this page's outbox and sent as its records). */
  fresh: number;
  /** Records older than the de-duplication window: stored twice if their first send had arrived. */
  late: number;
  done: boolean;
}

/** One write to a store: all of it or nothing, resolved once durable. */
export interface DurableStoreChange {
  /** Write the journal's `meta` (its `outboxes` row). */
  meta?: boolean;
  /** Rows to put (each `{ seq, partition, offset, key, value, timestamp, headers }`, or `options` for a row without an id, at partition -1). */
  puts?: Record<string, unknown>[];
  /** `[partition, below]`: delete the journal's rows of `partition` with offsets below. */
  deletes?: [number, number][];
  /** `[partition, offset]`: delete one row of the journal. */
  removes?: [number, number][];
  /** `[generation, partition, offset]`: delete one row of another generation (a record moved into this one). */
  foreign?: [string, number, number][];
}

/** Where an outbox is kept, for environments without IndexedDB and for tests: asynchronous, each write atomic. */
export interface DurableStore {
  /** A name of its own (not "indexeddb", "localstorage" or "none"): `DurableTopic.storage`. */
  readonly kind: string;
  write(journal: { generation: string; meta: Record<string, unknown> }, change: DurableStoreChange): Promise<void>;
  /** Every generation's meta (`{ generation, topic, partitions, created, lastSeen, closed, ... }`). */
  outboxes(): Promise<Record<string, unknown>[]>;
  /** A generation's rows. */
  records(generation: string): Promise<Record<string, unknown>[]>;
  /** Deletes a generation's meta and rows, at once. */
  drop(generation: string): Promise<void>;
  close(): void;
}

export interface DurableOptions extends SinkOptions {
  /** Where the outbox is kept: "auto" (default: IndexedDB, else localStorage), "indexeddb", "localstorage", "none", or a store of your own. */
  storage?: "auto" | "indexeddb" | "localstorage" | "none" | DurableStore;
  /** The IndexedDB database name / localStorage key prefix (default "tributary-durable"). */
  name?: string;
  /** Storage and replay failures, and records the sink gave up; default `console.error`. */
  onError?: (error: DurableError) => void;
  /** An older generation's outbox is being sent again, or was delivered. */
  onReplay?: (event: ReplayEvent) => void;
  /** How often an open page looks for outboxes of closed tabs (default 10000 ms). */
  scanIntervalMs?: number;
  /** Start paused, as after `pause()`: nothing is sent (not even older outboxes) until `resume()` (default false). */
  paused?: boolean;
  /** The global whose events are followed (default `globalThis`). */
  window?: unknown;
  /** The page's side of `tributary/ingest`: beacons on the way out, or HTTP as the whole transport. */
  ingest?: DurableIngest;
  /** A beacon went out (on `visibilitychange` to hidden or on `pagehide`). */
  onBeacon?: (event: BeaconEvent) => void;
}

export interface DurableIngest {
  /** The ingest's URL (`tributary/ingest`'s handler). */
  url: string;
  /** A token from the site's server (`issueToken`): it grants the generations' message-id prefix (`msgIdPrefix` defaults to its grant). */
  token: string;
  /** "http": everything goes through the ingest, no NATS credentials in the page (default without `server`); "websocket": NATS as usual, the ingest for beacons (default with `server`). */
  transport?: "http" | "websocket";
  /** Send the records not acknowledged yet by beacon when the page is hidden or left (default true). */
  beacon?: boolean;
  /** HTTP transport: ms a request waits for more records after the first (default 20). */
  linger?: number;
  /** HTTP transport: largest request body (default 65536; the ingest's limit or less). */
  maxBodyBytes?: number;
}

/** The HTTP transport's sink (`ingest.transport: "http"`), with the WebSocket sink's methods. */
export interface IngestSink {
  readonly state: string;
  readonly error: Error | null;
  stats(): { published: number; acked: number; duplicates: number; resent: number; errors: number; failedRecords: number; requests: number; state: string; server: string };
  flush(options?: { timeoutMs?: number }): Promise<void>;
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

/** What one beacon carried. */
export interface BeaconEvent {
  reason: "hidden" | "pagehide";
  records: number;
  bytes: number;
  /** "beacon" (navigator.sendBeacon) or "fetch" (keepalive). */
  method: "beacon" | "fetch" | null;
  sent: { partition: number; fromOffset: number; toOffset: number }[];
}

export interface DurableStats {
  /** This page's message id prefix. */
  generation: string;
  storage: string;
  online: boolean;
  /** `pause()` (or the `paused` option) holds the sinks. */
  paused: boolean;
  /** The sink's state. */
  state: string;
  /** Records not acknowledged yet (with or without an offset). */
  pending: number;
  /** Records sent and not in the log yet: without an id, their row being written, or waiting for room. */
  unassigned: number;
  /** Records written to storage and not acknowledged yet. */
  saved: number;
  /** Records waiting to be written. */
  unsaved: number;
  storageErrors: number;
  /** Storage writes (IndexedDB transactions, localStorage snapshots, spills) since the page opened. */
  storageWrites: number;
  /** Rows those writes put or deleted (a deleted range counts once). */
  storageRows: number;
  /** Older generations being replayed now. */
  replaying: number;
  replayedGenerations: number;
  replayedRecords: number;
  replayAcked: number;
  replayPending: number;
  replayLate: number;
  /** Records of older generations that had no id, moved into this page's outbox and sent as its records. */
  replayFresh: number;
  replayFailed: number;
  /** Messages JetStream reported as duplicates (already stored under their id), this page's sink and the replays'. */
  duplicates: number;
  /** Of those, the replays' (records an earlier page had delivered before it went away). */
  replayDuplicates: number;
  /** Records the sink gave up (reported through `onError` as SINK_UNDELIVERED). */
  undelivered: number;
  /** Of those, records of older generations' replays. */
  replayUndelivered: number;
  /** Beacons sent (`ingest.beacon`), the records and bytes they carried (copies: each stays in the outbox until acknowledged). */
  beacons: number;
  beaconRecords: number;
  beaconBytes: number;
}

/** A producer whose records go through the outbox. */
export declare class DurableProducer {
  /** The staging producer that numbers the records (partitioner, batching, checks). */
  readonly producer: import("./index.js").TopicProducer;
  /**
   * Resolves once the record's row (holding its final id) is written and it is in the log.
   * The key, value and options are read once: the journal keeps what the log gets. One
   * that cannot be read (a throwing getter, a detached buffer) rejects with
   * `INVALID_ARGUMENT` and journals nothing; the staging producer's own checks reject
   * as `TopicProducer.send`'s.
   */
  send(key: string | Uint8Array | null | undefined, value: string | Uint8Array, options?: SendOptions): Promise<RecordMetadata>;
  /** `send` for many records; one that cannot be read rejects the call (its `index` named) and nothing is journaled or sent. */
  sendAll(records: Array<[string | Uint8Array | null, string | Uint8Array, SendOptions?]>): Promise<RecordMetadata[]>;
  flush(): Promise<void>;
  stats(): ProducerStats;
  close(): Promise<void>;
}

export declare class DurableTopic {
  readonly client: Tributary;
  readonly topic: string;
  /** The sink delivering this page's records. */
  readonly sink: Sink | IngestSink;
  /** This page's message id prefix (`Nats-Msg-Id` is `<generation>-<partition>-<offset>`). */
  readonly generation: string;
  /** "indexeddb", "localstorage", "none", or a store object's `kind`. */
  readonly storage: string;
  /** The browser is online and `pause()` was not called. */
  readonly online: boolean;
  /** `pause()` (or the `paused` option) holds the sinks. */
  readonly paused: boolean;
  /** Resolves once the first look for older outboxes started their replays. */
  readonly ready: Promise<void>;
  readonly lastError: DurableError | null;
  producer(config?: ProducerConfig): DurableProducer;
  /** Goes offline by hand (the sinks close their connections); `resume()` comes back. */
  pause(): void;
  resume(): void;
  /** Looks for outboxes of pages that are gone and sends them again. */
  scan(): Promise<void>;
  /** Appends the open batches, waits until every record is written and in the log, then until JetStream acknowledged them all. */
  flush(): Promise<void>;
  stats(): DurableStats;
  close(): Promise<void>;
}

/** Connects `topic` to JetStream with a persistent outbox. */
export declare function openDurable(client: Tributary, topic: string, options: DurableOptions): Promise<DurableTopic>;
