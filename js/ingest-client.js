/**
 * The page side of `tributary/ingest`: records of a client's log sent over HTTP to the
 * ingest with the ids they have in the page (`<prefix>-<partition>-<offset>`), so that
 * JetStream keeps each once whichever copy arrives first. Used by `tributary/durable`
 * (its `ingest` option); no imports but the wire format, so it loads in any page.
 *
 * - `connectIngest(client, topic, options)`: a transport that does what
 *   `client.connect` does over a WebSocket, over plain HTTP instead: the page holds a
 *   token, no NATS credentials. It reads the topic's log from its acknowledged cursor,
 *   sends what it finds (batched: `linger` ms after the first record, up to
 *   `maxBodyBytes` and `maxRecords` a request), moves the cursor on the ingest's 200,
 *   and sends again after a failure, with backoff, under the same ids.
 * - `beaconUnacked(client, topic, options)`: on the way out (`pagehide`,
 *   `visibilitychange` to hidden), the records the sink has not had acknowledged go to the
 *   ingest with `navigator.sendBeacon` (or `fetch` with `keepalive`), as many as fit the
 *   browser's 64 KB for requests that outlive the page; the rest stay where they are
 *   (the outbox) for a later visit.
 */
import { CONTENT_TYPE, checkReceivers, encodeRequest, headerSize, partitionCount, sectionSize, tokenPrefix } from "./ingest-wire.js";

/** The browser's limit on the bodies of requests that outlive their page (sendBeacon, keepalive). */
export const KEEPALIVE_LIMIT = 65_536;

/** Error of this module: an Error with a stable `code` (the ingest's, or INGEST_*). */
/** `o[k]` when `o` is an object that has `k` as its own property, else undefined. */
const own = (o, k) => (o !== null && typeof o === "object" && Object.hasOwn(o, k) ? o[k] : undefined);

export class IngestError extends Error {
  // Fields and defined properties (never through a setter on Object.prototype).
  name = "IngestError";
  code;
  constructor(code, message, extra = {}) {
    super(message);
    this.code = code;
    for (const [k, value] of Object.entries(extra)) {
      // A descriptor without a prototype (a `get` on Object.prototype is not read as its own).
      const d = Object.create(null);
      d.value = value;
      d.writable = d.enumerable = d.configurable = true;
      Object.defineProperty(this, k, d);
    }
  }
}

/**
 * Packs records into one request of at most `maxBytes` and `maxRecords`: `runs` is
 * [[partition, records in offset order from `from`]]. Returns `{ body, taken: Map
 * partition → count, records }`, or null when not even one record fits.
 */
function pack(Tributary, { token, topic, prefix, runs, maxBytes, maxRecords }) {
  let size = headerSize(token, topic, prefix);
  const sections = [];
  const taken = new Map();
  let count = 0;
  for (const [partition, records] of runs) {
    let n = 0;
    // Consecutive offsets only: a gap (evicted records) ends the run.
    while (n < records.length && (n === 0 || records[n].offset === records[n - 1].offset + 1)) n++;
    let fit = Math.min(n, maxRecords - count);
    while (fit > 0) {
      const batch = Tributary.encodeBatch(records.slice(0, fit).map(strip));
      if (size + sectionSize(batch) <= maxBytes) {
        sections.push({ partition, batch });
        size += sectionSize(batch);
        taken.set(partition, fit);
        count += fit;
        break;
      }
      // Too big: try with as many records as the room left suggests (at least one fewer).
      fit = Math.min(fit - 1, Math.floor(fit * (maxBytes - size) / sectionSize(batch)));
    }
    if (count >= maxRecords || size >= maxBytes) break;
  }
  if (count === 0) return null;
  return { body: encodeRequest({ token, topic, prefix, sections }), taken, records: count };
}

const strip = ({ offset, key, value, timestamp, headers }) => ({ offset, key, value, timestamp, headers });

/**
 * Reads `topic`'s log: `(partition, fromOffset, max)` → up to `max` records from
 * `fromOffset` (from the next one retention kept, if it removed that one).
 */
export function logReader(client, topic) {
  return (partition, offset, max) => {
    try {
      return client.read(topic, partition, offset, max);
    } catch (e) {
      if (e?.code === "OFFSET_OUT_OF_RANGE") return []; // past the end: nothing new
      if (e?.code !== "OFFSET_EVICTED") throw e;
      return client.read(topic, partition, e.nextAvailable, max);
    }
  };
}

/**
 * The records from `from` (Map partition → offset, moved past what `read` no longer
 * has) on: [[partition, records]].
 */
function unsent(read, from, limit) {
  const runs = [];
  for (const [partition, offset] of from) {
    const records = read(partition, offset, limit);
    if (!records.length) continue;
    if (records[0].offset > offset) from.set(partition, records[0].offset);
    runs.push([partition, records]);
  }
  return runs;
}

/**
 * Sends, in one request that may outlive the page, as many of `topic`'s records not yet
 * acknowledged (from each partition's `ackedOffset`, or `from`) as fit `limit` bytes.
 * `options`: `{ url, token, msgIdPrefix, from?: Map partition → offset, limit?, read? }`
 * (`read(partition, fromOffset, max)`: where the records are read, default the log).
 * Returns `{ records, bytes, method: "beacon" | "fetch" | null, sent: [{ partition,
 * fromOffset, toOffset }] }`; nothing is removed anywhere (the records stay in the log and
 * the outbox until acknowledged; a copy the ingest stores first makes the later one a
 * duplicate).
 */
export function beaconUnacked(client, topic, options) {
  const url = own(options, "url"), token = own(options, "token"), limit = own(options, "limit") ?? KEEPALIVE_LIMIT;
  const prefix = own(options, "msgIdPrefix") ?? tokenPrefix(token);
  const Tributary = client.constructor;
  let from = own(options, "from");
  if (!from) {
    from = new Map();
    for (let p = 0, n = partitionCount(client, topic); p < n; p++) {
      const info = client.partitionInfo(topic, p);
      from.set(p, info.ackedOffset ?? info.logStartOffset);
    }
  }
  const none = { records: 0, bytes: 0, method: null, sent: [] };
  const read = own(options, "read") ?? logReader(client, topic);
  const runs = unsent(read, new Map(from), Math.max(1, Math.floor(limit / 8)));
  if (!runs.length) return none;
  const packed = pack(Tributary, { token, topic, prefix, runs, maxBytes: limit, maxRecords: Infinity });
  if (!packed) return none;
  const sent = runs.filter(([p]) => packed.taken.has(p)).map(([partition, records]) =>
    ({ partition, fromOffset: records[0].offset, toOffset: records[0].offset + packed.taken.get(partition) }));
  let method = null;
  const nav = globalThis.navigator;
  if (typeof nav?.sendBeacon === "function") {
    try {
      if (nav.sendBeacon(url, new Blob([packed.body], { type: CONTENT_TYPE }))) method = "beacon";
    } catch { /* refused: try fetch */ }
  }
  if (!method && typeof fetch === "function") {
    fetch(url, { method: "POST", body: packed.body, keepalive: true, headers: { "content-type": CONTENT_TYPE } })
      .catch(() => { /* the page is going away: the outbox keeps the records */ });
    method = "fetch";
  }
  return { records: packed.records, bytes: packed.body.length, method, sent };
}

/**
 * A sink over HTTP: sends `topic`'s records to the ingest at `options.url` and reports
 * acknowledgements like `client.connect`'s sink (`onAck(progress)`, `onStateChange`,
 * `state`, `error`, `stats()`, `flush()`, `pause()`, `resume()`, `close()`).
 *
 * `options`: `url`, `token` (from the site's server), `msgIdPrefix` (default: the
 * token's grant), `linger` (ms a request waits for more records after the first; 20),
 * `maxBodyBytes` (65536) and `maxRecords` (2000) per request (the ingest's limits or
 * less), `backoffInitialMs` (100), `backoffMaxMs` (5000), `requestTimeoutMs` (15000),
 * `onAck`, `onStateChange`, `fetch` (default the global one), `read(partition,
 * fromOffset, max)` (where the records are read; default the topic's log).
 */
export function connectIngest(client, topic, options) {
  return new IngestSink(client, topic, options);
}

const FATAL = new Set(["TOKEN_INVALID", "TOKEN_EXPIRED", "PREFIX_NOT_GRANTED", "TOPIC_NOT_ALLOWED",
  "ORIGIN_NOT_ALLOWED", "WRONG_CONTENT_TYPE", "METHOD_NOT_ALLOWED", "PARTITION_OUT_OF_RANGE"]);

const sinks = new WeakSet(); // the IngestSinks made by their constructor

export class IngestSink {
  constructor(client, topic, options) {
    sinks.add(this);
    // Own properties only: nothing inherited from Object.prototype.
    const o = (k, d) => own(options, k) ?? d;
    const url = o("url"), token = o("token"), msgIdPrefix = o("msgIdPrefix"), linger = o("linger", 20);
    const maxBodyBytes = o("maxBodyBytes", KEEPALIVE_LIMIT), maxRecords = o("maxRecords", 2000);
    const backoffInitialMs = o("backoffInitialMs", 100), backoffMaxMs = o("backoffMaxMs", 5000);
    const requestTimeoutMs = o("requestTimeoutMs", 15_000), onAck = o("onAck"), onStateChange = o("onStateChange");
    const fetchFn = o("fetch", globalThis.fetch?.bind(globalThis)), read = o("read");
    this.client = client;
    this.topic = topic;
    this.url = url;
    this.token = token;
    this.prefix = msgIdPrefix ?? tokenPrefix(token);
    if (!url || !this.prefix) throw new IngestError("INVALID_CONFIG", "connectIngest needs { url, token } (and msgIdPrefix unless the token grants it)");
    this.linger = linger;
    this.maxBodyBytes = maxBodyBytes;
    this.maxRecords = maxRecords;
    this.backoffInitialMs = backoffInitialMs;
    this.backoffMaxMs = backoffMaxMs;
    this.requestTimeoutMs = requestTimeoutMs;
    this._fetch = fetchFn;
    this._read = read ?? logReader(client, topic);
    this._onAck = onAck;
    this._onStateChange = onStateChange;
    this.cursor = new Map();
    for (let p = 0, n = partitionCount(client, topic); p < n; p++) this.cursor.set(p, client.partitionInfo(topic, p).logStartOffset);
    this._stats = { published: 0, acked: 0, duplicates: 0, resent: 0, timeouts: 0, errors: 0, failedRecords: 0,
      requests: 0, connects: 0, disconnects: 0, inFlight: 0 };
    // HTTP holds no connection: "connected" while no request failed since the last one
    // that succeeded, "reconnecting" after a failure (retrying), "offline" when paused.
    this.state = "connected";
    this.error = null;
    this._paused = false;
    this._closed = false;
    this._waiters = new Set();
    this._wake = null;
    this._sent = new Map(); // partition -> offset below which records were sent at least once
    this._loop = this._run();
  }

  _setState(state, error = null) {
    if (error) this.error = error;
    if (state === this.state) return;
    this.state = state;
    this._onStateChange?.(state, error ?? undefined);
  }

  _sleep(ms) {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this._wake = null; resolve(); }, ms);
      this._wake = () => { clearTimeout(t); this._wake = null; resolve(); };
    });
  }

  /** Whether every record up to each partition's end is acknowledged. */
  _settled(targets) {
    for (const [p, hw] of targets) if ((this.cursor.get(p) ?? 0) < hw) return false;
    return true;
  }

  _ends() {
    const ends = new Map();
    for (const p of this.cursor.keys()) ends.set(p, this.client.partitionInfo(this.topic, p).highWatermark);
    return ends;
  }

  async _run() {
    try {
      await this._work();
    } catch (e) {
      // Not expected (the log refused a read): stop, say why, keep the records.
      const error = new IngestError("INGEST_FAILED", `the HTTP transport stopped: ${e?.message ?? e}`);
      this._setState("failed", error);
      this._rejectWaiters(error);
    }
  }

  async _work() {
    let backoff = this.backoffInitialMs;
    let maxRecords = this.maxRecords;
    while (!this._closed) {
      if (this._paused) { await this._sleep(60_000); continue; }
      let runs;
      try {
        runs = unsent(this._read, this.cursor, this._readLimit(maxRecords));
      } catch (e) {
        if (this._closed || e?.code === "CLOSED") break;
        throw e;
      }
      if (!runs.length) {
        this._checkWaiters();
        await this._sleep(this.linger || 10);
        continue;
      }
      // Linger: a request waits for more records after the first.
      if (this.linger > 0 && !this._flushing && runs.reduce((n, [, r]) => n + r.length, 0) < maxRecords) {
        await this._sleep(this.linger);
        if (this._closed || this._paused) continue;
        runs = unsent(this._read, this.cursor, this._readLimit(maxRecords));
      }
      const packed = pack(this.client.constructor, {
        token: this.token, topic: this.topic, prefix: this.prefix, runs, maxBytes: this.maxBodyBytes, maxRecords,
      });
      if (!packed) {
        // One record alone does not fit a request: given up, reported like the sink's.
        const [partition, records] = runs[0];
        this._giveUp(partition, records[0].offset, "the record does not fit maxBodyBytes");
        continue;
      }
      for (const [p, n] of packed.taken) {
        const from = this.cursor.get(p);
        const resent = Math.max(0, Math.min(this._sent.get(p) ?? 0, from + n) - from);
        this._stats.resent += resent;
        this._stats.published += n - resent;
        this._sent.set(p, Math.max(this._sent.get(p) ?? 0, from + n));
      }
      this._stats.requests++;
      this._stats.inFlight = packed.records;
      let answer;
      try {
        answer = await this._post(packed.body);
      } catch (e) {
        answer = { status: 0, json: null, error: e };
      }
      this._stats.inFlight = 0;
      if (this._closed) break;
      const json = answer.json;
      if (answer.status === 200 && json?.ok) {
        if (this.state !== "connected" || this._stats.connects === 0) { this._stats.connects++; this._setState("connected"); }
        backoff = this.backoffInitialMs;
        maxRecords = this.maxRecords;
        this._stats.duplicates += json.duplicates ?? 0;
        this._acknowledge(json.accepted ?? []);
        continue;
      }
      const code = json?.code ?? (answer.error?.name === "AbortError" ? "INGEST_TIMEOUT" : "INGEST_UNREACHABLE");
      const error = new IngestError(code, json?.message ?? `the ingest did not answer: ${answer.error?.message ?? `status ${answer.status}`}`,
        { status: answer.status });
      this._stats.errors++;
      if (code === "INGEST_TIMEOUT") this._stats.timeouts++;
      if (json?.accepted) this._acknowledge(json.accepted);
      if (FATAL.has(code)) {
        // The page's token or the ingest's settings refuse it: no retry helps. The records
        // stay in the log (and the outbox) for a later transport.
        this._setState("failed", error);
        this._rejectWaiters(error);
        break;
      }
      if (code === "BODY_TOO_LARGE" || code === "TOO_MANY_RECORDS") {
        maxRecords = Math.max(1, Math.floor(packed.records / 2));
        continue;
      }
      if (code === "RECORD_TOO_LARGE" || code === "BATCH_INVALID") {
        if (packed.records === 1) {
          const [p] = packed.taken.keys();
          this._giveUp(p, this.cursor.get(p), error.message);
          maxRecords = this.maxRecords;
        } else {
          maxRecords = Math.max(1, Math.floor(packed.records / 2)); // narrow it down to the record
        }
        continue;
      }
      if (this.state === "connected") this._stats.disconnects++;
      this._setState("reconnecting", error);
      await this._sleep(backoff * (0.5 + Math.random() / 2));
      backoff = Math.min(this.backoffMaxMs, backoff * 2);
    }
  }

  /** Records to read per partition for one request: no more than could fit it. */
  _readLimit(maxRecords) {
    return Math.max(1, Math.min(maxRecords, Math.ceil(this.maxBodyBytes / 8)));
  }

  async _post(body) {
    const abort = typeof AbortController === "function" ? new AbortController() : null;
    const timer = setTimeout(() => abort?.abort(), this.requestTimeoutMs);
    try {
      const res = await this._fetch(this.url, {
        method: "POST", body, headers: { "content-type": CONTENT_TYPE }, signal: abort?.signal,
      });
      let json = null;
      try { json = await res.json(); } catch { /* not the ingest */ }
      return { status: res.status, json };
    } finally {
      clearTimeout(timer);
    }
  }

  _acknowledge(ranges) {
    const progress = [];
    for (const { partition, fromOffset, toOffset } of ranges) {
      const at = this.cursor.get(partition);
      if (at === undefined || fromOffset > at || toOffset <= at) continue;
      this._stats.acked += toOffset - at;
      this.cursor.set(partition, toOffset);
      progress.push({ partition, ackedOffset: toOffset, streamSeq: 0 });
    }
    if (progress.length) this._onAck?.(progress);
    this._checkWaiters();
  }

  _giveUp(partition, offset, why) {
    this._stats.failedRecords++;
    this.cursor.set(partition, offset + 1);
    const givenUp = [{ partition, fromOffset: offset, toOffset: offset + 1 }];
    this.error = new IngestError("SINK_UNDELIVERED", `record ${partition}@${offset} given up: ${why}`, { undelivered: givenUp });
    this._onAck?.([{ partition, ackedOffset: offset + 1, streamSeq: 0, givenUp }]);
    for (const w of this._waiters) w.givenUp.push(...givenUp);
    this._checkWaiters();
  }

  _checkWaiters() {
    for (const w of [...this._waiters]) {
      if (!this._settled(w.targets)) continue;
      this._waiters.delete(w);
      clearTimeout(w.timer);
      if (w.givenUp.length) {
        w.reject(new IngestError("SINK_UNDELIVERED", "records were given up", { undelivered: w.givenUp }));
      } else {
        w.resolve();
      }
    }
    if (this._flushing && this._waiters.size === 0) this._flushing = false;
  }

  _rejectWaiters(error) {
    for (const w of this._waiters) {
      clearTimeout(w.timer);
      w.reject(Object.assign(error, { undelivered: this._undelivered(w.targets) }));
    }
    this._waiters.clear();
  }

  _undelivered(targets) {
    const out = [];
    for (const [p, hw] of targets) {
      const at = this.cursor.get(p) ?? 0;
      if (at < hw) out.push({ partition: p, fromOffset: at, toOffset: hw });
    }
    return out;
  }

  /**
   * Resolves once every record appended to the topic before the call is acknowledged;
   * rejects with SINK_UNDELIVERED (records given up), the ingest's code (a refusal no
   * retry helps), SINK_TIMEOUT after `timeoutMs`, SINK_CLOSED.
   */
  /** @param {{ timeoutMs?: number }} [options] */
  async flush(options) {
    const timeoutMs = own(options, "timeoutMs");
    await this.client.flush();
    if (this._closed) throw new IngestError("SINK_CLOSED", "the transport is closed");
    if (this.state === "failed") throw Object.assign(this.error, { undelivered: this._undelivered(this._ends()) });
    const targets = this._ends();
    if (this._settled(targets)) return;
    return new Promise((resolve, reject) => {
      const w = { targets, resolve, reject, givenUp: [], timer: null };
      if (timeoutMs !== undefined) {
        w.timer = setTimeout(() => {
          this._waiters.delete(w);
          reject(new IngestError("SINK_TIMEOUT", `not acknowledged within ${timeoutMs} ms`, { undelivered: this._undelivered(targets), cause: this.error ?? undefined }));
        }, timeoutMs);
      }
      this._waiters.add(w);
      this._flushing = true;
      this._wake?.();
    });
  }

  stats() {
    return { ...this._stats, state: this.state, server: this.url };
  }

  /** Stops sending until `resume()` (records keep accumulating in the log). */
  pause() {
    if (this._closed) return;
    this._paused = true;
    this._setState("offline");
  }

  resume() {
    if (this._closed || !this._paused) return;
    this._paused = false;
    this._setState("connected");
    this._wake?.();
  }

  /** Stops; pending flushes reject with SINK_CLOSED; records not acknowledged stay in the log. */
  close() {
    if (this._closed) return Promise.resolve();
    this._closed = true;
    this._wake?.();
    this._rejectWaiters(new IngestError("SINK_CLOSED", "the transport was closed"));
    this._setState("closed");
    return Promise.resolve();
  }
}

checkReceivers(IngestSink, sinks, ["flush", "close"], () => new IngestError("INVALID_ARGUMENT", "not an IngestSink"));
