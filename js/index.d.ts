/// <reference lib="esnext.disposable" />
export { Tributary, TopicProducer, partitionFor } from "./tributary.js";
// sink:begin
import type { SinkOptions, SinkStats } from "./tributary.js";

declare module "./tributary.js" {
  interface Tributary {
    /**
     * Connects `topic` to NATS JetStream over a WebSocket: a `Sink` that delivers every
     * record appended to the topic, from the first one not yet acknowledged. Throws
     * `UNKNOWN_TOPIC`, `INVALID_CONFIG`, `SINK_EXISTS` (close the topic's sink first), `CLOSED`.
     */
    connect(topic: string, options: SinkOptions): Sink;
    /** Appends every open batch, closes every sink (each connecting or connected one first waits for delivery up to `timeoutMs`, default its `closeTimeoutMs`, 5000; see `Sink.close`), then closes the client. */
    close(options?: { timeoutMs?: number }): Promise<void>;
  }
}

/** A sink: delivers one topic's records into NATS JetStream over a WebSocket. Made by `Tributary.connect`. */
export declare class Sink {
  private constructor(key: never);
  /** "connecting", "connected", "reconnecting", "offline" (paused), "failed" or "closed". */
  readonly state: string;
  /** The error that stopped the sink ("failed"), the last one it is retrying past, or why the last connection ended; null when there is none. */
  readonly error: TributaryError | null;
  /** Counters, the state and the server URL in use. */
  stats(): SinkStats;
  /** Resolves when every record appended before the call is acknowledged; rejects with `undelivered` when the sink fails or is closed first, records were given up (SINK_UNDELIVERED), or after `timeoutMs` (SINK_TIMEOUT). */
  flush(options?: { timeoutMs?: number }): Promise<void>;
  /** Goes offline: closes the connection until `resume()`. */
  pause(): void;
  /** Comes back online after `pause()`: connects at once. */
  resume(): void;
  /** Closes the sink; a connecting or connected sink first waits for delivery up to `timeoutMs` (default: the `closeTimeoutMs` option, 5000). What is still undelivered is reported by `onStateChange("closed", error)` and `sink.error` (SINK_CLOSED with `undelivered`). */
  close(options?: { timeoutMs?: number }): Promise<void>;
}
// sink:end
export type {
  TopicConfig,
  RetentionConfig,
  ProducerConfig,
  SendOptions,
  RecordMetadata,
  ConsumedRecord,
  PartitionInfo,
  ProducerStats,
  RestoredRecord,
  DecodedBatch,
  SinkOptions,
  SinkStats,
  SinkProgress,
} from "./tributary.js";

/** Records a flush could not confirm: `[fromOffset, toOffset)` of a partition. */
export interface UndeliveredRange {
  partition: number;
  fromOffset: number;
  toOffset: number;
}

/** Every failure of tributary: an Error with a stable `code`. */
export declare class TributaryError extends Error {
  constructor(code: string, message: string);
  readonly name: "TributaryError";
  /** Stable machine-readable code: RECORD_TOO_LARGE, UNKNOWN_TOPIC, OFFSET_EVICTED, QUEUE_FULL, INVALID_ARGUMENT, INVALID_CONFIG, CLOSED, SINK_AUTH, SINK_CONNECT, SINK_TIMEOUT, SINK_UNDELIVERED, ... (README) */
  readonly code: string;
  /** Set on OFFSET_EVICTED: the first offset still held. */
  readonly nextAvailable?: number;
  /** Set when sendAll rejects for one entry: its index. */
  readonly index?: number;
  /** Set when a flush rejects because of a sink: what was not acknowledged. */
  readonly undelivered?: UndeliveredRange[];
  /** Set when a flush rejects because of a sink: the sink's last error, when it has one
   *  (e.g. SINK_CONNECT under a SINK_TIMEOUT). */
  readonly cause?: unknown;
}
