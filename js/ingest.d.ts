// tributary/ingest: the edge side of a page's records (see ingest.js for how).
import type { Tributary, SinkOptions } from "./index.js";

/** The content type of a request's body: `application/vnd.tributary.batches`. */
export declare const CONTENT_TYPE: "application/vnd.tributary.batches";

/** The defaults of `createIngest`'s limits. */
export declare const DEFAULT_LIMITS: Readonly<{
  maxBodyBytes: 65536;
  maxRecords: 2000;
  maxRecordBytes: 16384;
  maxDecodedBytes: 1048576;
  deliveryTimeoutMs: 10000;
}>;

/** One topic the ingest takes. */
export interface IngestTopic {
  /** The topic's partition count (as the page creates it); a higher partition is refused. */
  partitions: number;
  /** The JetStream stream (default: the topic's name), as the page's sink names it. */
  stream?: string;
  /** Subjects are `<subjectPrefix>.<partition>` (default prefix: the topic's name). */
  subjectPrefix?: string;
}

export interface IngestOptions {
  /** The Tributary class of "tributary" (or "tributary/full", for compressed batches). */
  Tributary: typeof Tributary;
  /** The key tokens are signed with (at least 32 bytes); the site's server signs with the same. */
  secret: string | Uint8Array | ArrayBuffer;
  /** The allow-list: topic name → its partitions (and stream / subjects). */
  topics: Record<string, IngestTopic>;
  /** The sink's options (`Tributary.connect`'s), without msgIdPrefix, onAck, stream and subjectPrefix. */
  nats: Omit<SinkOptions, "msgIdPrefix" | "onAck" | "stream" | "subjectPrefix">;
  /** Largest body taken (default 65536 bytes: 413 BODY_TOO_LARGE above). */
  maxBodyBytes?: number;
  /** Most records in one request (default 2000: 413 TOO_MANY_RECORDS above). */
  maxRecords?: number;
  /** Largest record: key, value, header names and values (default 16384 bytes: 413 RECORD_TOO_LARGE above). */
  maxRecordBytes?: number;
  /** What a request's batches may inflate to, all together, when compressed ("tributary/full"); counted as record bytes (default 1048576: 413 DECODED_TOO_LARGE above). */
  maxDecodedBytes?: number;
  /** How long JetStream has to acknowledge a request's records (default 10000 ms: 504 SINK_TIMEOUT). */
  deliveryTimeoutMs?: number;
  /** Origins whose pages may post cross-origin (CORS with credentials), or ["*"]; unset: no CORS, no origin check. */
  allowedOrigins?: string[];
}

/** Records of one partition `[fromOffset, toOffset)`. */
export interface OffsetRange {
  partition: number;
  fromOffset: number;
  toOffset: number;
}

/** 200: every record of the request acknowledged by JetStream. */
export interface IngestAccepted {
  ok: true;
  topic: string;
  prefix: string;
  /** Records acknowledged. */
  records: number;
  /** Of those, how many JetStream already had (the same message id within its window). */
  duplicates: number;
  accepted: OffsetRange[];
}

/** 4xx (refused, nothing sent) or 502 / 504 (JetStream did not acknowledge everything: send again). */
export interface IngestRefused {
  ok: false;
  code:
    | "METHOD_NOT_ALLOWED" | "WRONG_CONTENT_TYPE" | "BODY_TOO_LARGE" | "EMPTY_BODY" | "BAD_ENVELOPE"
    | "TOKEN_INVALID" | "TOKEN_EXPIRED" | "PREFIX_NOT_GRANTED" | "TOPIC_NOT_ALLOWED" | "ORIGIN_NOT_ALLOWED"
    | "PARTITION_OUT_OF_RANGE" | "BATCH_CRC" | "BATCH_TRUNCATED" | "BATCH_INVALID" | "BATCH_OVERLAP"
    | "TOO_MANY_RECORDS" | "RECORD_TOO_LARGE" | "TOO_MANY_RUNS" | "BAD_REQUEST" | "SINK_TIMEOUT" | (string & {});
  message: string;
  /** 504 SINK_TIMEOUT: the sink's last error, when it had one (e.g. SINK_NO_STREAM, SINK_CONNECT). */
  cause?: string;
  /** 502 / 504: what JetStream acknowledged before the failure. */
  accepted?: OffsetRange[];
  /** 502 / 504: what it did not. */
  undelivered?: OffsetRange[];
}

export type IngestAnswer = IngestAccepted | IngestRefused;

/** A Request → Response handler (a Worker's default export has this shape). */
export interface Ingest {
  fetch(request: Request, env?: unknown, ctx?: { waitUntil(promise: Promise<unknown>): void }): Promise<Response>;
}

/** The handler; throws a TributaryError INVALID_CONFIG for a bad option. */
export declare function createIngest(options: IngestOptions): Ingest;

/** Node's `http`: `http.createServer(toNodeListener(ingest))` (an `(IncomingMessage, ServerResponse)` listener). */
export declare function toNodeListener(ingest: Ingest): (req: unknown, res: unknown) => void;

/**
 * A token granting message-id prefix `prefix` (and `prefix-<suffix>`) until `expiresAt`
 * (default now + `ttlMs`, default 24 h), signed with `secret`: for the site's server.
 * Rejects with a TributaryError INVALID_ARGUMENT.
 */
export declare function issueToken(
  secret: string | Uint8Array | ArrayBuffer,
  options: { prefix: string; ttlMs?: number; expiresAt?: number },
): Promise<string>;

/** The prefix a token grants (the page's msgIdPrefix), unverified; null if it is not a token. */
export declare function tokenPrefix(token: string): string | null;

/** Whether a token for `grant` covers the message-id prefix `prefix`. */
export declare function grants(grant: string, prefix: string): boolean;

/** One section of a request: a partition and one record batch (`Tributary.encodeBatch`). */
export interface IngestSection {
  partition: number;
  batch: Uint8Array;
}

/** Encodes a request's body (the wire format in ingest-wire.js). */
export declare function encodeRequest(request: { token: string; topic: string; prefix: string; sections: IngestSection[] }): Uint8Array<ArrayBuffer>;

/** Decodes a request's body; throws `{ code, message }` (BAD_ENVELOPE, BATCH_TRUNCATED). */
export declare function decodeRequest(body: Uint8Array): { token: string; topic: string; prefix: string; sections: (IngestSection & { at: number })[] };
