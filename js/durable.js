/**
 * tributary/durable: a topic whose unacknowledged records survive reloads, offline spells
 * and closed tabs, delivered exactly once in effect through JetStream's de-duplication.
 *
 * How it works, in one page:
 *
 * - **Generations.** Each `openDurable` (each page load, each tab) is a *generation* with
 *   its own message id prefix (`msgIdPrefix`; every record's `Nats-Msg-Id` is
 *   `<prefix>-<partition>-<offset>`). Offsets restart at 0 in every page load, so the
 *   prefix must differ per load: two logs sharing a prefix would give two records the
 *   same id and JetStream would drop the second one.
 * - **The outbox.** Every record is written to the outbox store in the turn `send` is
 *   called, before it has an offset (an *unassigned* row), and again once the log gave it
 *   its partition and offset (the unassigned row removed in the same transaction); it is
 *   deleted when JetStream acknowledges it (the sink's `onAck`). Records can wait long
 *   for an offset: with `retention.unacked: "keep"` the log takes no more unacknowledged
 *   records than its retention bound, so while offline the rest wait in the producer's
 *   queue (and `send` waits). Store: IndexedDB
 *   (database `tributary-durable`, object stores `outboxes` and `records`); where there
 *   is none, localStorage (a JSON snapshot per generation, within its quota); failures
 *   (QuotaExceededError included) go to `onError` and `stats().storageErrors`, never
 *   swallowed. The records stay in the page's log either way.
 * - **Page lifecycle.** On `visibilitychange` (hidden) and `pagehide` the client is
 *   flushed (open batches appended, the sink sends what it can) and the outbox written;
 *   there is no `unload` handler (it would keep the page out of the back/forward cache).
 *   Unassigned rows are sent by the next load as new records (new ids): a record
 *   without an offset was never sent, so no id of it can be in JetStream. (The one gap:
 *   a page that crashes, without `pagehide`, in the milliseconds between a record's
 *   append and the write of its offset may have it sent twice.)
 * - **Replay.** A later load (or another open tab) finds the outbox of a generation whose
 *   page is gone and puts its records back, at their partitions and offsets, into a
 *   client of their own (`Tributary.restore`), whose sink uses that generation's prefix:
 *   the records go out with the SAME message ids as before, so a record that had reached
 *   JetStream before the page died is dropped as a duplicate, and one that had not is
 *   stored. Each record is stored exactly once, provided the replay comes within the
 *   stream's de-duplication window of the record's first send (`duplicateWindowMs`); a
 *   record replayed later than that is counted in `stats().replayLate` and reported
 *   through `onReplay` (it may be stored twice: at-least-once past the window).
 * - **Two tabs.** Each generation holds a Web Lock (`navigator.locks`) named after it for
 *   as long as its page lives. A tab replays another generation's outbox only when it can
 *   take that lock (`ifAvailable`), and holds it while replaying: a live tab's outbox is
 *   never sent by another tab, and a dead tab's outbox by one tab only. Without Web
 *   Locks, a generation counts as gone when its page said so at `pagehide` or its
 *   heartbeat (every 15 s) is older than 60 s; even when that guesses wrong (a frozen
 *   tab), both send the same ids and JetStream keeps one.
 * - **Offline.** The browser's `offline` / `online` events pause and resume the sinks
 *   (`Sink.pause()` / `resume()`); `pause()` / `resume()` here do it by hand. Starting
 *   offline (`navigator.onLine === false`) starts paused. Records accumulate in the log
 *   and the outbox meanwhile.
 *
 * ```js
 * import { Tributary } from "tributary";
 * import { openDurable } from "tributary/durable";
 * const client = new Tributary();
 * client.createTopic("clicks", { partitions: 4 });
 * const durable = await openDurable(client, "clicks", { server: "wss://nats.example:443", token });
 * const producer = durable.producer();
 * document.addEventListener("click", (e) => producer.send(sessionId, JSON.stringify({ x: e.clientX })));
 * ```
 */

const DB_VERSION = 1;
const UNASSIGNED = -1; // the partition under which records without an offset are written
const HEARTBEAT_MS = 15_000;
const STALE_MS = 60_000;

/** A storage failure, with a stable code like the package's own errors. */
export class DurableError extends Error {
  constructor(code, message, cause) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "DurableError";
    this.code = code;
  }
}

function storageError(op, e) {
  const quota = e?.name === "QuotaExceededError" || e?.code === 22;
  return new DurableError(quota ? "STORAGE_QUOTA" : "STORAGE_FAILED",
    `${op}: ${quota ? "storage quota exceeded" : "storage failed"} (${e?.name ?? "Error"}: ${e?.message ?? e})`, e);
}

const copy = (v) => (v instanceof Uint8Array ? v.slice() : v);

// ---- stores ---------------------------------------------------------------------------

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function completion(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new DOMException("transaction aborted", "AbortError"));
  });
}

const range = (generation, partition, below = Infinity) =>
  IDBKeyRange.bound([generation, partition, -Infinity], [generation, partition, below], false, true);
const generationRange = (generation) =>
  IDBKeyRange.bound([generation, -Infinity, -Infinity], [generation, Infinity, Infinity]);

/** IndexedDB: `outboxes` (one row per generation) and `records` ([generation, partition, offset]). */
class IdbStore {
  kind = "indexeddb";

  static async open(name) {
    const r = indexedDB.open(name, DB_VERSION);
    r.onupgradeneeded = () => {
      r.result.createObjectStore("outboxes", { keyPath: "generation" });
      r.result.createObjectStore("records", { keyPath: ["generation", "partition", "offset"] });
    };
    const db = await request(r);
    db.onversionchange = () => db.close();
    return new IdbStore(db);
  }

  constructor(db) { this.db = db; }

  /** One transaction: the journal's meta, new records, deleted ranges. Started now. */
  write(journal, { meta = false, puts = [], deletes = [], removes = [] }) {
    const tx = this.db.transaction(["outboxes", "records"], "readwrite");
    if (meta) tx.objectStore("outboxes").put(journal.meta);
    const records = tx.objectStore("records");
    for (const [partition, offset] of removes) records.delete([journal.generation, partition, offset]);
    for (const r of puts) records.put({ generation: journal.generation, ...r });
    for (const [partition, below] of deletes) records.delete(range(journal.generation, partition, below));
    tx.commit?.();
    return completion(tx);
  }

  async outboxes() {
    return request(this.db.transaction("outboxes").objectStore("outboxes").getAll());
  }

  async records(generation) {
    return request(this.db.transaction("records").objectStore("records").getAll(generationRange(generation)));
  }

  drop(generation) {
    const tx = this.db.transaction(["outboxes", "records"], "readwrite");
    tx.objectStore("records").delete(generationRange(generation));
    tx.objectStore("outboxes").delete(generation);
    tx.commit?.();
    return completion(tx);
  }

  close() { this.db.close(); }
}

// localStorage holds strings: bytes travel as base64.
function encode(v) {
  if (!(v instanceof Uint8Array)) return v;
  let s = "";
  for (let i = 0; i < v.length; i += 0x8000) s += String.fromCharCode(...v.subarray(i, i + 0x8000));
  return { b64: btoa(s) };
}
function decode(v) {
  if (v === null || typeof v !== "object" || typeof v.b64 !== "string") return v;
  return Uint8Array.from(atob(v.b64), (c) => c.charCodeAt(0));
}
const encodeRecord = (r) => ({ ...r, key: encode(r.key), value: encode(r.value),
  options: r.options && { ...r.options, headers: mapValues(r.options.headers, encode) },
  headers: mapValues(r.headers, encode) });
const decodeRecord = (r) => ({ ...r, key: decode(r.key), value: decode(r.value),
  options: r.options && { ...r.options, headers: mapValues(r.options.headers, decode) },
  headers: mapValues(r.headers, decode) });
function mapValues(o, f) {
  if (!o) return o;
  const out = {};
  for (const [k, v] of Object.entries(o)) out[k] = f(v);
  return out;
}

/** localStorage: one key per generation, `<name>:<generation>`, holding its whole outbox. */
class LocalStore {
  kind = "localstorage";

  constructor(name) { this.prefix = `${name}:`; }

  /** Rewrites the journal's outbox, synchronously; rejects on QuotaExceededError. */
  write(journal) {
    try {
      const unassigned = [...journal.fresh.values()].map(({ seq, key, value, options }) =>
        ({ partition: UNASSIGNED, offset: seq, key, value, options }));
      const records = [...journal.records(), ...unassigned].map(encodeRecord);
      localStorage.setItem(this.prefix + journal.generation, JSON.stringify({ meta: journal.meta, records }));
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #read(generation) {
    const text = localStorage.getItem(this.prefix + generation);
    return text ? JSON.parse(text) : null;
  }

  async outboxes() {
    const out = [];
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k?.startsWith(this.prefix)) {
        const v = this.#read(k.slice(this.prefix.length));
        if (v?.meta) out.push(v.meta);
      }
    }
    return out;
  }

  async records(generation) {
    const v = this.#read(generation);
    return v ? v.records.map(decodeRecord) : [];
  }

  async drop(generation) { localStorage.removeItem(this.prefix + generation); }

  close() {}
}

/** Nothing persists (no IndexedDB, no localStorage): the outbox lives as long as the page. */
class NoStore {
  kind = "none";
  write() { return Promise.resolve(); }
  async outboxes() { return []; }
  async records() { return []; }
  async drop() {}
  close() {}
}

async function openStore(kind, name, report) {
  const idb = typeof indexedDB !== "undefined";
  let ls = false;
  try { ls = typeof localStorage !== "undefined" && localStorage !== null; } catch { /* denied */ }
  if ((kind === "auto" || kind === "indexeddb") && idb) {
    try {
      return await IdbStore.open(name);
    } catch (e) {
      if (kind === "indexeddb") throw storageError("opening IndexedDB", e);
      report(storageError("opening IndexedDB (falling back to localStorage)", e));
    }
  }
  if ((kind === "auto" || kind === "localstorage") && ls) return new LocalStore(name);
  if (kind !== "auto" && kind !== "none") {
    throw new DurableError("STORAGE_UNAVAILABLE", `storage "${kind}" is not available here`);
  }
  if (kind === "auto") {
    report(new DurableError("STORAGE_UNAVAILABLE",
      "neither IndexedDB nor localStorage is available: the outbox lives only as long as the page"));
  }
  return new NoStore();
}

// ---- journals ---------------------------------------------------------------------------

/**
 * The unacknowledged records of one generation, per partition in offset order, as the
 * page knows them, and the bookkeeping of what is written.
 */
class Journal {
  constructor(generation, meta) {
    this.generation = generation;
    this.meta = meta;
    this.outbox = new Map(); // partition -> records ({ partition, offset, key, value, timestamp, headers })
    this.acked = new Map(); // partition -> every offset below is acknowledged
    this.unsaved = []; // records with an offset to write
    this.fresh = new Map(); // seq -> a send without an offset yet: { seq, key, value, options, written }
    this.unsavedFresh = []; // of those, the ones to write as unassigned rows
    this.removals = []; // seqs of unassigned rows to delete (their records got offsets)
    this.nextSeq = 0;
    this.saved = 0; // rows written and not deleted since
  }

  /** A send: kept (and written) as an unassigned row until it has an offset. */
  enqueue(key, value, options) {
    const e = { seq: this.nextSeq++, key: copy(key ?? null), value: copy(value), options, written: false };
    this.fresh.set(e.seq, e);
    this.unsavedFresh.push(e);
    return e;
  }

  /** The send resolved: the record moves from its unassigned row to its offset. */
  assign(e, md) {
    this.forget(e);
    this.add({ partition: md.partition, offset: md.offset, key: e.key, value: e.value,
      timestamp: md.timestamp, headers: e.options?.headers ?? {} });
  }

  /** The send resolved or failed: its unassigned row goes. */
  forget(e) {
    this.fresh.delete(e.seq);
    if (e.written) this.saved--;
    this.removals.push(e.seq);
  }

  add(record) {
    const below = this.acked.get(record.partition) ?? -1;
    if (record.offset < below) return; // acknowledged already
    let list = this.outbox.get(record.partition);
    if (!list) this.outbox.set(record.partition, (list = []));
    list.push(record);
    this.unsaved.push(record);
  }

  /** Drops what `ackedOffset` covers; returns whether anything moved. */
  ack(partition, ackedOffset) {
    if ((this.acked.get(partition) ?? -1) >= ackedOffset) return false;
    this.acked.set(partition, ackedOffset);
    const list = this.outbox.get(partition);
    if (list) {
      let n = 0;
      while (n < list.length && list[n].offset < ackedOffset) {
        if (list[n].saved) this.saved--;
        n++;
      }
      list.splice(0, n);
    }
    return true;
  }

  *records() {
    for (const list of this.outbox.values()) yield* list;
  }

  get pending() {
    let n = this.fresh.size;
    for (const list of this.outbox.values()) n += list.length;
    return n;
  }
}

// ---- the durable topic ----------------------------------------------------------------

function randomHex(digits) {
  const bytes = new Uint8Array(digits / 2);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function partitionCount(client, topic) {
  let n = 0;
  for (;;) {
    try {
      client.partitionInfo(topic, n);
      n++;
    } catch (e) {
      if (e?.code === "PARTITION_OUT_OF_RANGE" || n > 0) return n;
      throw e;
    }
  }
}

/**
 * Connects `topic` of `client` to JetStream with a persistent outbox (see the module's
 * documentation). `options` are `Tributary.connect`'s (`server`, `token`, `provision`,
 * `duplicateWindowMs`, `onAck`, `onStateChange`, ...; `msgIdPrefix`, when given, starts
 * every generation's prefix) plus:
 * - `storage`: "auto" (default: IndexedDB, else localStorage), "indexeddb",
 *   "localstorage", or "none";
 * - `name`: the IndexedDB database / localStorage key prefix (default "tributary-durable");
 * - `onError(error)`: storage and replay failures (`DurableError` with `code`
 *   STORAGE_QUOTA, STORAGE_FAILED, STORAGE_UNAVAILABLE, REPLAY_FAILED); without it they
 *   go to `console.error`;
 * - `onReplay(event)`: an older generation's outbox was found and is being sent again
 *   (`{ generation, records, fresh, late, done: false }`), or is delivered
 *   (`{ ..., done: true }`);
 * - `scanIntervalMs`: how often an open page looks for outboxes of closed tabs (default
 *   10000; also on load, on `online` and when the page becomes visible);
 * - `window`: the global to listen on (default `globalThis`).
 */
export async function openDurable(client, topic, options = {}) {
  const durable = new DurableTopic(client, topic, options);
  await durable._open();
  return durable;
}

export class DurableTopic {
  constructor(client, topic, options) {
    const {
      storage = "auto", name = "tributary-durable", onError, onReplay, scanIntervalMs = 10_000,
      window: win = globalThis, msgIdPrefix, onAck, onStateChange, ...sinkOptions
    } = options;
    this.client = client;
    this.topic = topic;
    this.name = name;
    this._storageKind = storage;
    this._onError = onError;
    this._onReplay = onReplay;
    this._onAck = onAck;
    this._onStateChange = onStateChange;
    this._scanIntervalMs = scanIntervalMs;
    this._win = win;
    this._sinkOptions = sinkOptions;
    this._windowMs = sinkOptions.duplicateWindowMs ?? 120_000;
    const stamp = Date.now().toString(36);
    /** This page's message id prefix: `<msgIdPrefix>-<time><random>` or `<time><random>`. */
    this.generation = `${msgIdPrefix ? `${msgIdPrefix}-` : ""}${stamp}${randomHex(12)}`;
    this._partitions = partitionCount(client, topic);
    this._journal = new Journal(this.generation, {
      generation: this.generation, topic, partitions: this._partitions,
      created: Date.now(), lastSeen: Date.now(), closed: false,
    });
    this._manualOffline = false;
    this._replays = new Map(); // generation -> { sinks: Set<Sink>, clients }
    this._replaySinks = new Set();
    this._saveQueued = false;
    this._writes = new Set();
    this._counts = {
      storageErrors: 0, replayedGenerations: 0, replayedRecords: 0, replayAcked: 0,
      replayLate: 0, replayFresh: 0, replayFailed: 0, undelivered: 0, replayUndelivered: 0,
    };
    this.lastError = null;
    this._closed = false;
  }

  async _open() {
    this._store = await openStore(this._storageKind, this.name, (e) => this._report(e));
    /** Where the outbox is kept: "indexeddb", "localstorage" or "none". */
    this.storage = this._store.kind;
    this._locks = this._win.navigator?.locks ?? globalThis.navigator?.locks ?? null;
    if (this._locks) {
      // Held until the page goes away (or close()): other tabs leave this outbox alone.
      this._releaseLock = await new Promise((granted, failed) => {
        let release;
        const held = new Promise((r) => { release = r; });
        this._locks.request(this._lockName(this.generation), () => { granted(release); return held; })
          .catch(failed);
      });
    }
    await this._write({ meta: true });
    this.sink = this.client.connect(this.topic, {
      ...this._sinkOptions,
      msgIdPrefix: this.generation,
      onAck: (progress) => {
        const { deletes } = this._progress(this._journal, progress);
        if (deletes.length) this._write({ deletes });
        this._onAck?.(progress);
      },
      onStateChange: (state, error) => this._onStateChange?.(state, error),
    });
    if (!this.online) this.sink.pause();
    this._listen();
    this.ready = this.scan();
  }

  _lockName(generation) { return `${this.name}:${generation}`; }

  /** Whether the sinks may connect: the browser is online and `pause()` was not called. */
  get online() {
    const nav = this._win.navigator ?? globalThis.navigator;
    return !this._manualOffline && nav?.onLine !== false;
  }

  _listen() {
    const w = this._win;
    if (typeof w.addEventListener !== "function") return;
    const doc = w.document;
    this._handlers = [
      [w, "offline", () => this._applyOnline()],
      [w, "online", () => { this._applyOnline(); this.scan(); }],
      [w, "pagehide", (e) => this._hide(true, e.persisted)],
    ];
    if (doc) {
      this._handlers.push([doc, "visibilitychange", () => {
        if (doc.visibilityState === "hidden") this._hide(false, false);
        else this.scan();
      }]);
    }
    for (const [target, type, f] of this._handlers) target.addEventListener(type, f);
    const every = this._locks ? this._scanIntervalMs : Math.min(this._scanIntervalMs, HEARTBEAT_MS);
    this._timer = setInterval(() => {
      if (!this._locks) this._heartbeat();
      this.scan();
    }, every);
  }

  _applyOnline() {
    const up = this.online;
    for (const sink of [this.sink, ...this._replaySinks]) {
      if (sink.state === "closed" || sink.state === "failed") continue;
      if (up && sink.state === "offline") sink.resume();
      else if (!up && sink.state !== "offline") sink.pause();
    }
  }

  /** Goes offline by hand: the sinks close their connections; records keep accumulating. */
  pause() { this._manualOffline = true; this._applyOnline(); }

  /** Comes back after `pause()` (if the browser is online). */
  resume() { this._manualOffline = false; this._applyOnline(); this.scan(); }

  /**
   * The page is being hidden (`visibilitychange`) or left (`pagehide`): append the open
   * batches (the sink sends what it can while the page lasts) and write the outbox. The
   * writes are started after the sends' reactions ran (they give records their offsets),
   * in microtasks of this same event, while the page still exists.
   */
  _hide(leaving, persisted) {
    this.client.flush().catch(() => {
      // A flush is only a push here; failures are the sink's (reported through its state),
      // and the records stay in the outbox whatever happens.
    });
    queueMicrotask(() => queueMicrotask(() => {
      this._journal.meta.lastSeen = Date.now();
      this._journal.meta.closed = leaving && !persisted;
      this._save({ meta: true });
    }));
  }

  _heartbeat() {
    this._journal.meta.lastSeen = Date.now();
    this._write({ meta: true });
  }

  /**
   * A sink's progress applied to `journal`: records given up are reported (`_givenUp`),
   * records acknowledged leave it. Returns the storage deletes to write, and how many
   * of its records arrived and were given up.
   */
  _progress(journal, progress) {
    const deletes = [];
    let arrived = 0;
    let gone = 0;
    for (const { partition, ackedOffset, givenUp } of progress) {
      const g = givenUp ? this._givenUp(journal, partition, givenUp) : 0;
      const before = journal.pending;
      if (journal.ack(partition, ackedOffset)) {
        deletes.push([partition, ackedOffset]);
        arrived += before - journal.pending - g;
        gone += g;
      }
    }
    return { deletes, arrived, gone };
  }

  /**
   * Records a sink gave up (onAck's `givenUp`: after `maxRetries`, or larger than the
   * server's max payload) are not in JetStream. They leave the outbox with the progress
   * that passes them (a record the server refuses would be refused at every replay), but
   * never silently: counted in `undelivered` and reported through `onError` as a
   * SINK_UNDELIVERED DurableError whose `records` are the records themselves.
   */
  _givenUp(journal, partition, ranges) {
    const inRange = (offset) => ranges.some((g) => offset >= g.fromOffset && offset < g.toOffset);
    const records = (journal.outbox.get(partition) ?? []).filter((r) => inRange(r.offset))
      .map(({ partition, offset, key, value, timestamp, headers }) => ({ partition, offset, key, value, timestamp, headers }));
    const count = ranges.reduce((n, g) => n + (g.toOffset - g.fromOffset), 0);
    this._counts.undelivered += count;
    const error = new DurableError("SINK_UNDELIVERED",
      `${count} record${count === 1 ? "" : "s"} of partition ${partition} (generation ${journal.generation}) ` +
      "given up by the sink, not delivered: see error.records");
    error.records = records;
    this._report(error);
    return records.length;
  }

  _report(error) {
    this.lastError = error;
    if (error.code?.startsWith("STORAGE")) this._counts.storageErrors++;
    if (this._onError) this._onError(error);
    else console.error(error);
  }

  /** Starts one write of a journal now; failures are reported; resolves either way. */
  _write(change, journal = this._journal) {
    if (this._closed && journal === this._journal && !change.final) return Promise.resolve();
    const p = this._store.write(journal, change).then(
      () => true,
      (e) => { this._report(storageError(`writing the outbox of ${journal.generation}`, e)); return false; });
    this._writes.add(p);
    p.finally(() => this._writes.delete(p));
    return p;
  }

  /** Writes the records not written yet (after this turn's sends got their offsets). */
  _queueSave() {
    if (this._saveQueued) return;
    this._saveQueued = true;
    queueMicrotask(() => { this._saveQueued = false; this._save({}); });
  }

  _save({ meta = false }) {
    const j = this._journal;
    const notAcked = (r) => r.offset >= (j.acked.get(r.partition) ?? -1);
    const puts = j.unsaved.filter(notAcked);
    const fresh = j.unsavedFresh.filter((e) => j.fresh.has(e.seq));
    const removals = j.removals;
    j.unsaved = [];
    j.unsavedFresh = [];
    j.removals = [];
    const rows = puts.map(({ partition, offset, key, value, timestamp, headers }) =>
      ({ partition, offset, key, value, timestamp, headers }));
    for (const { seq, key, value, options } of fresh) rows.push({ partition: UNASSIGNED, offset: seq, key, value, options });
    if (!rows.length && !removals.length && !meta) return;
    this._write({ meta, puts: rows, removes: removals.map((seq) => [UNASSIGNED, seq]) }).then((ok) => {
      if (ok) {
        for (const r of puts) if (notAcked(r) && !r.saved) { r.saved = true; j.saved++; }
        for (const e of fresh) if (j.fresh.has(e.seq) && !e.written) { e.written = true; j.saved++; }
      } else {
        // Kept in memory (and in the log); written again with the next save.
        j.unsaved.push(...puts.filter(notAcked));
        j.unsavedFresh.push(...fresh.filter((e) => j.fresh.has(e.seq)));
        j.removals.push(...removals);
      }
    });
  }

  /** Tracks one send: written as unassigned now, at its offset once it has one. */
  _track(promise, key, value, options) {
    const j = this._journal;
    const e = j.enqueue(key, value, options);
    this._queueSave();
    return promise.then((md) => {
      j.assign(e, md);
      this._queueSave();
      return md;
    }, (err) => {
      j.forget(e); // a rejected send changed nothing: nothing to deliver
      this._queueSave();
      throw err;
    });
  }

  /** A producer for the topic whose records go through the outbox. */
  producer(config) {
    return new DurableProducer(this, this.client.topicProducer(this.topic, config));
  }

  /**
   * Looks for outboxes of pages that are gone (reloaded, closed, crashed) and sends them
   * again with their own message ids. Runs on open, on `online`, when the page becomes
   * visible and every `scanIntervalMs`; resolves once the replays found are started.
   */
  scan() {
    if (this._closed) return Promise.resolve();
    this._scanning ??= this._scan().catch((e) =>
      this._report(new DurableError("REPLAY_FAILED", `looking for older outboxes: ${e?.message ?? e}`, e)))
      .finally(() => { this._scanning = null; });
    return this._scanning;
  }

  async _scan() {
    const metas = await this._store.outboxes();
    for (const meta of metas) {
      const g = meta.generation;
      if (g === this.generation || meta.topic !== this.topic || this._replays.has(g) || this._closed) continue;
      if (this._locks) {
        await new Promise((started) => {
          this._locks.request(this._lockName(g), { ifAvailable: true }, (lock) => {
            started();
            return lock ? this._replay(meta) : undefined; // the lock is held until the replay ends
          }).catch((e) => { started(); this._report(new DurableError("REPLAY_FAILED", `lock of ${g}: ${e?.message ?? e}`, e)); });
        });
      } else if (meta.closed || Date.now() - (meta.lastSeen ?? 0) > STALE_MS) {
        this._replay(meta);
      }
    }
  }

  /** Sends generation `meta`'s outbox again, with its message ids, then forgets it. */
  async _replay(meta) {
    const g = meta.generation;
    const state = { sinks: new Set(), clients: new Set() };
    this._replays.set(g, state);
    let event = null;
    try {
      const rows = await this._store.records(g);
      const fresh = rows.filter((r) => r.partition === UNASSIGNED);
      const byPartition = new Map();
      for (const r of rows) {
        if (r.partition === UNASSIGNED) continue;
        if (!byPartition.has(r.partition)) byPartition.set(r.partition, new Map());
        byPartition.get(r.partition).set(r.offset, r); // de-duplicated by offset
      }
      const total = [...byPartition.values()].reduce((n, m) => n + m.size, 0);
      if (total + fresh.length === 0) {
        await this._store.drop(g);
        return;
      }
      const now = Date.now();
      let late = 0;
      for (const m of byPartition.values()) for (const r of m.values()) if (now - r.timestamp > this._windowMs) late++;
      this._counts.replayedGenerations++;
      this._counts.replayedRecords += total;
      this._counts.replayLate += late;
      event = { generation: g, records: total, fresh: fresh.length, late, done: false };
      this._onReplay?.(event);
      const runs = [...byPartition].map(([p, m]) => [p, [...m.values()].sort((a, b) => a.offset - b.offset)]);
      // Each round restores, per partition, one run of consecutive offsets (a gap would
      // only come from a lost write) into a client of its own, and waits for its acks.
      while (runs.some(([, list]) => list.length) && !this._closed) {
        await this._replayRound(meta, runs, state);
      }
      if (this._closed) return;
      // Records that never had an offset: sent now as new records of this generation.
      if (fresh.length) {
        const producer = this._freshProducer ??= this.producer();
        await Promise.all(fresh.map((r) => producer.send(r.key, r.value, r.options)));
        await Promise.all(this._writes); // in this generation's outbox before they leave the old one
        this._counts.replayFresh += fresh.length;
      }
      await this._store.drop(g);
      this._onReplay?.({ ...event, done: true });
    } catch (e) {
      this._counts.replayFailed++;
      this._report(new DurableError("REPLAY_FAILED", `replaying the outbox of ${g}: ${e?.message ?? e}`, e));
    } finally {
      for (const c of state.clients) c.close().catch(() => {});
      this._replays.delete(g);
    }
  }

  async _replayRound(meta, runs, state) {
    const g = meta.generation;
    const Client = this.client.constructor;
    const client = new Client();
    state.clients.add(client);
    client.createTopic(meta.topic, { partitions: Math.max(meta.partitions, ...runs.map(([p]) => p + 1)) });
    const journal = new Journal(g, meta);
    for (const [p, list] of runs) {
      if (!list.length) continue;
      let n = 1;
      while (n < list.length && list[n].offset === list[n - 1].offset + 1) n++;
      const run = list.splice(0, n);
      client.restore(meta.topic, p, run.map(({ offset, key, value, timestamp, headers }) =>
        ({ offset, key, value, timestamp, headers })));
      journal.outbox.set(p, run);
    }
    const sink = client.connect(meta.topic, {
      ...this._sinkOptions,
      msgIdPrefix: g,
      onAck: (progress) => {
        const { deletes, arrived, gone } = this._progress(journal, progress);
        this._counts.replayAcked += arrived;
        this._counts.replayUndelivered += gone;
        if (deletes.length && this._store.kind === "indexeddb") this._write({ deletes }, journal);
      },
    });
    state.sinks.add(sink);
    this._replaySinks.add(sink);
    if (!this.online) sink.pause();
    try {
      // Records given up were reported by `_givenUp` and left the outbox: the round
      // goes on. Anything else (the sink failed or closed) fails the round.
      await client.flush().catch((e) => { if (e?.code !== "SINK_UNDELIVERED") throw e; });
      await Promise.all(this._writes);
      // localStorage keeps a generation as one snapshot: rewrite it with what is left.
      if (this._store.kind === "localstorage") {
        const rest = new Journal(g, meta);
        for (const [p, list] of runs) if (list.length) rest.outbox.set(p, list);
        await this._write({}, rest);
      }
    } finally {
      this._replaySinks.delete(sink);
      await sink.close().catch(() => {});
    }
  }

  /** Appends every open batch and resolves once JetStream acknowledged every record. */
  flush() { return this.client.flush(); }

  /** What the outbox holds and what the replays did. */
  stats() {
    const j = this._journal;
    const replayPending = this._counts.replayedRecords - this._counts.replayAcked - this._counts.replayUndelivered;
    return {
      generation: this.generation,
      storage: this.storage,
      online: this.online,
      state: this.sink.state,
      pending: j.pending,
      unassigned: j.fresh.size,
      saved: j.saved,
      unsaved: j.unsaved.length,
      replaying: this._replays.size,
      replayPending,
      ...this._counts,
    };
  }

  /**
   * Stops listening, writes what is not written, closes the sink (records not
   * acknowledged stay in the outbox: a later page sends them) and the replays, releases
   * the lock. The client stays open.
   */
  async close() {
    if (this._closed) return;
    this._save({ meta: true });
    this._closed = true;
    clearInterval(this._timer);
    for (const [target, type, f] of this._handlers ?? []) target.removeEventListener(type, f);
    for (const { clients } of this._replays.values()) for (const c of clients) await c.close().catch(() => {});
    await this.sink?.close();
    await Promise.all(this._writes);
    if (this._journal.pending === 0) await this._store.drop(this.generation).catch(() => {});
    this._releaseLock?.();
  }
}

/** A `TopicProducer` whose records go through the outbox. */
export class DurableProducer {
  constructor(durable, producer) {
    this.durable = durable;
    this.producer = producer;
  }

  /** `TopicProducer.send`; the record is written to the outbox once it has its offset. */
  send(key, value, options) {
    return this.durable._track(this.producer.send(key, value, options), key, value, options);
  }

  /** `TopicProducer.sendAll`, each record written to the outbox. */
  sendAll(records) {
    const d = this.durable;
    const j = d._journal;
    const entries = records.map(([key, value, options]) => j.enqueue(key, value, options));
    d._queueSave();
    return this.producer.sendAll(records).then((mds) => {
      mds.forEach((md, i) => j.assign(entries[i], md));
      d._queueSave();
      return mds;
    }, (err) => {
      for (const e of entries) j.forget(e);
      d._queueSave();
      throw err;
    });
  }

  flush() { return this.producer.flush(); }
  stats() { return this.producer.stats(); }
  close() { return this.producer.close(); }
}
