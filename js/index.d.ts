/// <reference lib="esnext.disposable" />
export { Tributary, TopicProducer, Sink, partitionFor } from "./tributary.js";
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
