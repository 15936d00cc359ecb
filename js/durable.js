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
 * - **The outbox, write-ahead.** No record reaches the network under an id the outbox
 *   could not reproduce. A send is first numbered by a *staging* client of the same topic
 *   (the producer's partitioner, batching and checks, no sink): its partition and staging
 *   offset give its final id, `<generation>-<partition>-<base + offset>`. That id and the
 *   record are written to the outbox (one row; IndexedDB writes are group-committed, one
 *   transaction at a time), and only once the write has committed is the record put into
 *   the real log at exactly that offset (`Tributary.restore`), where the sink publishes it.
 *   `send` resolves then. The row is deleted when JetStream acknowledges the record (the
 *   sink's `onAck`). Under `retention.unacked: "keep"` a partition over its bound takes
 *   more records only as acknowledgements come (they wait, written, outside the log).
 *   Store: IndexedDB (database `tributary-durable`, object stores `outboxes` and
 *   `records`); where there is none, localStorage (a JSON snapshot per generation, written
 *   synchronously, within its quota). Failures (QuotaExceededError included) go to
 *   `onError` and `stats().storageErrors`, never swallowed; a record whose write failed is
 *   delivered all the same (exactly-once across a reload is not promised for it).
 * - **Page lifecycle.** On `visibilitychange` (hidden) the open batches are numbered, so
 *   their rows are written while the page still runs. On `pagehide` nothing more enters
 *   the log (the browser may abort IndexedDB writes of a page being unloaded: a record
 *   must not be published before its row is safe), and what IndexedDB has not committed,
 *   records with or without an id, goes to a *spill* in localStorage, synchronously, with
 *   the `closed` flag; a send after `pagehide` (a click on a link or on Reload, a `send`
 *   in a `pagehide` handler) is added to the spill in its own turn. The next page merges
 *   the spill into the outbox by send sequence (`seq`) before sending anything. There is
 *   no `unload` handler (it would keep the page out of the back/forward cache);
 *   `pageshow` from that cache undoes the freeze.
 * - **Replay.** A later load (or another open tab) finds the outbox of a generation whose
 *   page is gone and takes it in steps, each safe if the page dies at any point: *claim*
 *   (the generation's Web Lock), *normalize* (the spill imported into IndexedDB in one
 *   transaction that marks it imported), *send* (the records with an id are put back at
 *   their partitions and offsets into a client of their own, `Tributary.restore`, whose
 *   sink uses that generation's prefix: the same message ids as before, so JetStream drops
 *   those that had arrived; acknowledgements delete their rows), *move* (records that
 *   never had an id were never sent: each is moved into this generation in the one
 *   transaction that writes its new id and deletes its old row, then sent as this page's),
 *   *drop*. Each record is stored exactly once, provided the replay comes within the
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
 *   offline (`navigator.onLine === false`) starts paused, and so does the `paused`
 *   option (an app's own offline switch across reloads). Records accumulate in the outbox
 *   meanwhile; while paused, older outboxes wait too.
 * - **The way out: `ingest`.** With `ingest: { url, token }` (a `tributary/ingest`
 *   handler), on `visibilitychange` to hidden and on `pagehide` the records not
 *   acknowledged yet go to it by beacon (`navigator.sendBeacon`, or `fetch` with
 *   `keepalive`), at most 64 KB, with their ids: a visitor who never comes back still
 *   delivers them, and whichever copy arrives second is dropped by JetStream. Nothing
 *   leaves the outbox for it. The `pagehide` beacon goes after the spill, so it may carry
 *   records with an id not committed yet; records without an id stay for a later page.
 *   With `transport: "http"` (the default without `server`) the sink itself is HTTP
 *   through the ingest (`connectIngest`): no NATS credentials in the page.
 * - **One writer.** The topic's log takes records from the durable producers only:
 *   another producer's appends would take offsets the outbox has given out (the records
 *   concerned are rejected, `LOG_CONFLICT`).
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

import { partitionCount, tokenPrefix } from "./ingest-wire.js";

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
/** A record as the outbox stores it (`seq`: its place among the page's sends). */
const row = ({ seq, partition, offset, key, value, timestamp, headers }) =>
  ({ seq, partition, offset, key, value, timestamp, headers });

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

  /**
   * One transaction: the journal's meta, new records, deleted rows and ranges, and rows
   * of other generations (`foreign`: `[generation, partition, offset]`, records moved into
   * this one). Started now; all or nothing.
   */
  write(journal, { meta = false, puts = [], deletes = [], removes = [], foreign = [] }) {
    // "relaxed": committed once the browser has it (a tab or browser crash keeps it), not
    // waiting for the disk to flush (an OS crash may lose the last writes).
    const tx = this.db.transaction(["outboxes", "records"], "readwrite", { durability: "relaxed" });
    if (meta) tx.objectStore("outboxes").put(journal.meta);
    const records = tx.objectStore("records");
    for (const [partition, offset] of removes) records.delete([journal.generation, partition, offset]);
    for (const key of foreign) records.delete(key);
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

  /**
   * Rewrites the journal's outbox, synchronously (the write is done when this returns);
   * rejects on QuotaExceededError. Records moved from another generation are in it once
   * their write is this one (`puts`), and leave that generation's snapshot right after,
   * in the same task (`foreign`).
   */
  write(journal, { puts = [], foreign = [] } = {}) {
    try {
      const writing = new Set(puts.map((r) => r.seq));
      const unassigned = [...journal.fresh.values()].filter((e) => !e.movedFrom).map(({ seq, key, value, options }) =>
        ({ partition: UNASSIGNED, offset: seq, seq, key, value, options }));
      const held = [...journal.records()].filter((r) => !r.movedFrom || r.saved || writing.has(r.seq)).map(row);
      const records = [...held, ...unassigned].map(encodeRecord);
      localStorage.setItem(this.prefix + journal.generation, JSON.stringify({ meta: journal.meta, records }));
      const byGeneration = new Map();
      for (const [g, p, o] of foreign) {
        if (!byGeneration.has(g)) byGeneration.set(g, new Set());
        byGeneration.get(g).add(`${p}/${o}`);
      }
      for (const [g, keys] of byGeneration) {
        const v = this.#read(g);
        if (!v) continue;
        v.records = v.records.filter((r) => !keys.has(`${r.partition}/${r.offset}`));
        localStorage.setItem(this.prefix + g, JSON.stringify(v));
      }
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

/**
 * Nothing persists (no IndexedDB, no localStorage): the outbox lives as long as the page.
 *
 * A store is `{ kind, write(journal, change), outboxes(), records(generation),
 * drop(generation), close() }`; `openDurable`'s `storage` may be such an object (its own
 * `kind`), e.g. a store of another environment or a test's. `write` applies `change` (see
 * `IdbStore.write`) all or nothing and resolves once it is durable.
 */
class NoStore {
  kind = "none";
  write() { return Promise.resolve(); }
  async outboxes() { return []; }
  async records() { return []; }
  async drop() {}
  close() {}
}

// ---- the spill: what IndexedDB had not committed when the page went away ------------------

/**
 * localStorage, written synchronously in `pagehide` (and again for a send after it):
 * the records of an IndexedDB outbox whose write had not committed (the browser may abort
 * it while unloading) and the `closed` flag. The next replay of that generation merges it
 * into IndexedDB (by `seq`) before anything of it is sent.
 */
const spillKey = (name, generation) => `${name}~spill:${generation}`;

/** The spill of `generation`: its main key and one key per send after `pagehide` (`<key>+<seq>`). */
function readSpill(name, generation) {
  try {
    const key = spillKey(name, generation);
    const text = localStorage.getItem(key);
    const v = text ? JSON.parse(text) : null;
    const extra = [];
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k?.startsWith(`${key}+`)) extra.push(JSON.parse(localStorage.getItem(k)));
    }
    if (!v && !extra.length) return null;
    return { closed: v?.closed === true || extra.length > 0, lastSeen: v?.lastSeen ?? 0,
      records: [...(v?.records ?? []), ...extra].map(decodeRecord) };
  } catch {
    return null;
  }
}

function hasLocalStorage() {
  try { return typeof localStorage !== "undefined" && localStorage !== null; } catch { return false; }
}

function removeSpill(name, generation) {
  try {
    const key = spillKey(name, generation);
    const keys = [];
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k === key || k?.startsWith(`${key}+`)) keys.push(k);
    }
    for (const k of keys) localStorage.removeItem(k);
  } catch { /* no localStorage */ }
}

const isStore = (s) => s !== null && typeof s === "object" &&
  ["write", "outboxes", "records", "drop"].every((f) => typeof s[f] === "function");

async function openStore(kind, name, report) {
  if (isStore(kind)) {
    if (typeof kind.kind !== "string" || ["indexeddb", "localstorage", "none"].includes(kind.kind)) {
      throw new DurableError("STORAGE_UNAVAILABLE", "a storage object needs its own `kind` name (not indexeddb, localstorage or none)");
    }
    return kind;
  }
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
 * The unacknowledged records of one generation as the page knows them: sends without an
 * id yet (`fresh`), and records with their final id (partition and offset), per partition
 * in offset order, from the moment the id is chosen until JetStream acknowledges them.
 */
class Journal {
  constructor(generation, meta) {
    this.generation = generation;
    this.meta = meta;
    this.outbox = new Map(); // partition -> records ({ seq, partition, offset, key, value, timestamp, headers, saved, logged })
    this.acked = new Map(); // partition -> every offset below is acknowledged
    this.unsaved = []; // records with an id to write
    this.fresh = new Map(); // seq -> a send without an id yet: { seq, key, value, options, movedFrom }
    this.nextSeq = 0;
    this.saved = 0; // rows written and not deleted since
  }

  /** A send: kept in memory (and in the spill, if the page goes away) until it has an id. */
  enqueue(key, value, options, movedFrom) {
    const e = { seq: this.nextSeq++, key: copy(key ?? null), value: copy(value), options, movedFrom };
    this.fresh.set(e.seq, e);
    return e;
  }

  /** The send has its id: `partition` and `offset` in the page's log, once its row is written. */
  assign(e, partition, offset, timestamp) {
    this.fresh.delete(e.seq);
    const r = { seq: e.seq, partition, offset, key: e.key, value: e.value, timestamp,
      headers: e.options?.headers ?? {}, movedFrom: e.movedFrom, saved: false, logged: false, e };
    this.add(r);
    return r;
  }

  /** The send failed: nothing to deliver. */
  forget(e) { this.fresh.delete(e.seq); }

  add(record) {
    const below = this.acked.get(record.partition) ?? -1;
    if (record.offset < below) return; // acknowledged already
    let list = this.outbox.get(record.partition);
    if (!list) this.outbox.set(record.partition, (list = []));
    let i = list.length;
    while (i > 0 && list[i - 1].offset > record.offset) i--;
    list.splice(i, 0, record);
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

  /** Removes one record (its send failed after it had an id). */
  drop(record) {
    const list = this.outbox.get(record.partition);
    const i = list ? list.indexOf(record) : -1;
    if (i >= 0) list.splice(i, 1);
    if (record.saved) this.saved--;
  }

  *records() {
    for (const list of this.outbox.values()) yield* list;
  }

  get pending() {
    let n = this.fresh.size;
    for (const list of this.outbox.values()) n += list.length;
    return n;
  }

  /** Sends not in the log yet: without an id, being written, or waiting for room. */
  get waiting() {
    let n = this.fresh.size;
    for (const list of this.outbox.values()) for (const r of list) if (!r.logged) n++;
    return n;
  }
}

// ---- the durable topic ----------------------------------------------------------------

function randomHex(digits) {
  const bytes = new Uint8Array(digits / 2);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The `ingest` option, read as own properties; null without it. */
function readIngest(ingest, sinkOptions) {
  if (ingest === undefined) return null;
  const bad = (why) => new DurableError("INVALID_CONFIG", `ingest: ${why}`);
  if (ingest === null || typeof ingest !== "object") throw bad("must be { url, token, transport?, beacon? }");
  const url = own(ingest, "url", undefined);
  const token = own(ingest, "token", undefined);
  if (typeof url !== "string" || !url) throw bad("url must be the ingest's URL");
  if (typeof token !== "string" || !tokenPrefix(token)) throw bad("token must be one the site's server issued (issueToken)");
  const ws = Object.hasOwn(sinkOptions, "server") || Object.hasOwn(sinkOptions, "servers");
  const transport = own(ingest, "transport", ws ? "websocket" : "http");
  if (transport !== "http" && transport !== "websocket") throw bad(`transport must be "http" or "websocket"`);
  if (transport === "websocket" && !ws) throw bad(`transport "websocket" needs server (or servers)`);
  const beacon = own(ingest, "beacon", true);
  if (typeof beacon !== "boolean") throw bad("beacon must be true or false");
  const linger = own(ingest, "linger", undefined);
  const maxBodyBytes = own(ingest, "maxBodyBytes", undefined);
  return { url, token, transport, beacon, linger, maxBodyBytes };
}

const RESTORE_CHUNK = 512; // records put into the log per `restore` call
const STAGING_RETENTION = { maxBytes: 64 * 1024 }; // the staging log only numbers records

/**
 * Connects `topic` of `client` to JetStream with a persistent outbox (see the module's
 * documentation). `options` are `Tributary.connect`'s (`server`, `token`, `provision`,
 * `duplicateWindowMs`, `onAck`, `onStateChange`, ...; `msgIdPrefix`, when given, starts
 * every generation's prefix) plus:
 * - `storage`: "auto" (default: IndexedDB, else localStorage), "indexeddb",
 *   "localstorage", "none", or a store object (see `NoStore`);
 * - `name`: the IndexedDB database / localStorage key prefix (default "tributary-durable");
 * - `onError(error)`: storage and replay failures (`DurableError` with `code`
 *   STORAGE_QUOTA, STORAGE_FAILED, STORAGE_UNAVAILABLE, REPLAY_FAILED, SINK_UNDELIVERED,
 *   LOG_CONFLICT); without it they go to `console.error`;
 * - `onReplay(event)`: an older generation's outbox was found and is being sent again
 *   (`{ generation, records, fresh, late, done: false }`), or is delivered
 *   (`{ ..., done: true }`);
 * - `scanIntervalMs`: how often an open page looks for outboxes of closed tabs (default
 *   10000; also on load, on `online` and when the page becomes visible);
 * - `paused`: start paused, as after `pause()` (default false): nothing is sent, not even
 *   an older page's outbox, until `resume()`;
 * - `ingest`: `{ url, token, transport?, beacon?, linger?, maxBodyBytes? }`, the page's
 *   side of `tributary/ingest` (`token` from the site's server, `issueToken`): with
 *   `beacon` (default true), on `visibilitychange` to hidden and on `pagehide` the records
 *   not acknowledged yet go to `url` with `navigator.sendBeacon` (or `fetch` with
 *   `keepalive`), as many as fit the browser's 64 KB for requests that outlive the page
 *   (the rest stay in the outbox for a later page); with `transport: "http"` (the default
 *   when no `server` / `servers` is given) everything goes through the ingest over HTTP
 *   (batched by `linger`, retried with backoff, the same ids) and the page holds no NATS
 *   credentials. The generations' prefix starts with the token's grant (`msgIdPrefix`
 *   defaults to it), and each outbox keeps its token for its replay;
 * - `onBeacon(event)`: a beacon went out (`{ reason: "hidden" | "pagehide", records,
 *   bytes, method: "beacon" | "fetch", sent: [{ partition, fromOffset, toOffset }] }`);
 * - `window`: the global to listen on (default `globalThis`).
 */
export async function openDurable(client, topic, options = {}) {
  const durable = new DurableTopic(client, topic, options);
  await durable._open();
  return durable;
}

const own = (o, k, d) => (o !== null && typeof o === "object" && Object.hasOwn(o, k) ? o[k] : d);

export class DurableTopic {
  constructor(client, topic, options) {
    const sinkOptions = {};
    const mine = new Set(["storage", "name", "onError", "onReplay", "scanIntervalMs", "paused", "window", "msgIdPrefix", "onAck", "onStateChange", "ingest", "onBeacon"]);
    if (options !== null && typeof options === "object") {
      for (const k of Object.keys(options)) if (!mine.has(k)) sinkOptions[k] = options[k];
    }
    this._ingest = readIngest(own(options, "ingest", undefined), sinkOptions);
    this._onBeacon = own(options, "onBeacon", undefined);
    this._beaconed = new Map(); // partition -> offset a beacon of this hidden spell reached
    const msgIdPrefix = own(options, "msgIdPrefix", undefined) ?? (this._ingest ? tokenPrefix(this._ingest.token) ?? undefined : undefined);
    this.client = client;
    this.topic = topic;
    this.name = own(options, "name", "tributary-durable");
    this._storageKind = own(options, "storage", "auto");
    this._onError = own(options, "onError", undefined);
    this._onReplay = own(options, "onReplay", undefined);
    this._onAck = own(options, "onAck", undefined);
    this._onStateChange = own(options, "onStateChange", undefined);
    this._scanIntervalMs = own(options, "scanIntervalMs", 10_000);
    this._win = own(options, "window", globalThis);
    this._sinkOptions = sinkOptions;
    this._windowMs = own(sinkOptions, "duplicateWindowMs", 120_000);
    const stamp = Date.now().toString(36);
    /** This page's message id prefix: `<msgIdPrefix>-<time><random>` or `<time><random>`. */
    this.generation = `${msgIdPrefix ? `${msgIdPrefix}-` : ""}${stamp}${randomHex(12)}`;
    this._partitions = partitionCount(client, topic);
    this._journal = new Journal(this.generation, {
      generation: this.generation, topic, partitions: this._partitions,
      created: Date.now(), lastSeen: Date.now(), closed: false,
      ...(this._ingest ? { ingestToken: this._ingest.token } : {}),
    });
    // Where each partition's records of this generation start, and the next offset to
    // put into the log: ids are `<generation>-<partition>-<base + staging offset>`.
    this._base = [];
    this._next = [];
    for (let p = 0; p < this._partitions; p++) {
      const hw = client.partitionInfo(topic, p).highWatermark;
      this._base.push(hw);
      this._next.push(hw);
    }
    this._manualOffline = own(options, "paused", false) === true;
    this._frozen = false; // after pagehide: nothing more enters the log
    this._replays = new Map(); // generation -> { sinks: Set<Sink>, clients }
    this._replaySinks = new Set();
    this._saveQueued = false;
    this._writes = new Set();
    this._idle = [];
    this._onlineWaiters = [];
    this._counts = {
      storageErrors: 0, storageWrites: 0, storageRows: 0, replayedGenerations: 0, replayedRecords: 0,
      replayAcked: 0, replayLate: 0, replayFresh: 0, replayFailed: 0, replayDuplicates: 0,
      undelivered: 0, replayUndelivered: 0, beacons: 0, beaconRecords: 0, beaconBytes: 0,
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
    // Sends are numbered by a staging client of the same topic (its producer's partitioner,
    // batching and checks); a record enters the real log, where the sink can publish it,
    // only once its row, holding its final id, is written.
    const Client = this.client.constructor;
    // The page side of the ingest loads only for a page that uses it.
    if (this._ingest) this._ingestClient = await import("./ingest-client.js");
    this._staging = new Client();
    this._staging.createTopic(this.topic, { partitions: this._partitions, retention: STAGING_RETENTION });
    this.sink = this._connect(this.client, this.topic, {
      ...this._sinkOptions,
      msgIdPrefix: this.generation,
      onAck: (progress) => {
        const { deletes } = this._progress(this._journal, progress);
        if (deletes.length) this._write({ deletes });
        this._pump(); // acknowledgements make room in the log
        this._onAck?.(progress);
      },
      onStateChange: (state, error) => this._onStateChange?.(state, error),
    }, { read: this._reader() });
    if (!this.online) this.sink.pause();
    this._listen();
    this.ready = this.scan();
  }

  _lockName(generation) { return `${this.name}:${generation}`; }

  /** The topic's sink: NATS over a WebSocket, or the ingest over HTTP (`ingest.transport`). */
  _connect(client, topic, options, { token, read } = {}) {
    const ingest = this._ingest;
    if (ingest?.transport !== "http") return client.connect(topic, options);
    const { msgIdPrefix, onAck, onStateChange } = options;
    return this._ingestClient.connectIngest(client, topic, {
      url: ingest.url, token: token ?? ingest.token, msgIdPrefix, onAck, onStateChange,
      ...(read ? { read } : {}),
      ...(ingest.linger !== undefined ? { linger: ingest.linger } : {}),
      ...(ingest.maxBodyBytes !== undefined ? { maxBodyBytes: ingest.maxBodyBytes } : {}),
    });
  }

  /**
   * Reads this page's records from the journal (the HTTP transport and the beacon): the
   * log's retention, which no WebSocket sink holds back under the HTTP transport, may
   * have removed some not acknowledged yet. Records in the log only, or (`written`:
   * after `pagehide` spilled every record with an id) every record with an id.
   */
  _reader(written = false) {
    const j = this._journal;
    return (partition, from, max) => {
      const out = [];
      for (const r of j.outbox.get(partition) ?? []) {
        if (r.offset < from) continue;
        if (!(r.logged || written) || out.length >= max || (out.length && r.offset !== out[out.length - 1].offset + 1)) break;
        out.push({ offset: r.offset, key: r.key, value: r.value, timestamp: r.timestamp, headers: r.headers });
      }
      return out;
    };
  }

  /** Resolves once `client`'s records are acknowledged through `sink`. */
  _delivered(client, sink) {
    return this._ingest?.transport === "http" ? sink.flush() : client.flush();
  }

  /**
   * The page is going away (or may be): the records of the log not acknowledged yet, from
   * where this hidden spell's beacons reached, go to the ingest in one request that
   * outlives the page (64 KB at most). Nothing leaves the outbox: a copy the ingest stored
   * first makes the page's own (or a later page's) a duplicate JetStream drops.
   */
  _beacon(reason, written = false) {
    const ingest = this._ingest;
    if (!ingest?.beacon || this._closed || !this.online) return;
    const from = new Map();
    for (let p = 0; p < this._partitions; p++) {
      const info = this.client.partitionInfo(this.topic, p);
      const acked = this.sink.cursor?.get(p) ?? info.ackedOffset ?? info.logStartOffset;
      from.set(p, Math.max(acked, this._beaconed.get(p) ?? 0));
    }
    let sent;
    try {
      sent = this._ingestClient.beaconUnacked(this.client, this.topic, {
        url: ingest.url, token: ingest.token, msgIdPrefix: this.generation, from, read: this._reader(written),
      });
    } catch (e) {
      this._report(new DurableError("BEACON_FAILED", `sending the beacon: ${e?.message ?? e}`, e));
      return;
    }
    if (!sent.records) return;
    for (const r of sent.sent) this._beaconed.set(r.partition, r.toOffset);
    this._counts.beacons++;
    this._counts.beaconRecords += sent.records;
    this._counts.beaconBytes += sent.bytes;
    this._onBeacon?.({ reason, ...sent });
  }

  /** Whether the sinks may connect: the browser is online and `pause()` was not called. */
  get online() {
    const nav = this._win.navigator ?? globalThis.navigator;
    return !this._manualOffline && nav?.onLine !== false;
  }

  /** Whether `pause()` (or the `paused` option) holds the sinks, whatever the browser says. */
  get paused() { return this._manualOffline; }

  _listen() {
    const w = this._win;
    if (typeof w.addEventListener !== "function") return;
    const doc = w.document;
    this._handlers = [
      [w, "offline", () => this._applyOnline()],
      [w, "online", () => { this._applyOnline(); this.scan(); }],
      [w, "pagehide", (e) => this._pagehide(e?.persisted === true)],
      [w, "pageshow", (e) => { if (e?.persisted) this._pageshow(); }],
    ];
    if (doc) {
      this._handlers.push([doc, "visibilitychange", () => {
        if (doc.visibilityState === "hidden") this._hidden();
        else { this._beaconed.clear(); this.scan(); }
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
    if (up) for (const f of this._onlineWaiters.splice(0)) f();
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
   * The page is hidden (it may be left, or killed later without `pagehide`): numbers the
   * open batches, so their rows are written (and sent) while the page still runs.
   */
  _hidden() {
    if (this._frozen || this._closed) return;
    this._staging.flush().catch(() => {}); // failures are the sends' own rejections
    this._journal.meta.lastSeen = Date.now();
    this._write({ meta: true });
    this._beacon("hidden");
  }

  /**
   * The page is being left (`pagehide`): from now on nothing more enters the log (a write
   * the browser aborts while unloading must not leave a published record without its
   * row), and what storage has not committed goes to the spill, synchronously, with the
   * `closed` flag. A later `visibilitychange` leaves that flag alone; `pageshow` from the
   * back/forward cache undoes all this.
   */
  _pagehide(persisted) {
    if (this._closed) return;
    this._frozen = true;
    const meta = this._journal.meta;
    meta.lastSeen = Date.now();
    meta.closed = !persisted;
    this._spill();
    if (this._store.kind !== "localstorage") this._write({ meta: true });
    // Every record with an id is written now (committed, or in the spill): the beacon may
    // carry those not in the log yet too. Records without an id stay for a later page.
    this._beacon("pagehide", true);
  }

  _pageshow() {
    if (this._closed) return;
    this._frozen = false;
    this._journal.meta.closed = false;
    this._journal.meta.lastSeen = Date.now();
    removeSpill(this.name, this.generation);
    this._write({ meta: true });
    this._pump();
  }

  /**
   * Writes what storage has not committed, synchronously (see `_pagehide`); `entry`: a
   * send after that, written on its own (a key of its own: no rewrite of the rest).
   */
  _spill(entry) {
    const j = this._journal;
    if (this._store.kind === "none") return;
    if (this._store.kind !== "localstorage" && !hasLocalStorage()) return; // nowhere to spill to
    if (entry) {
      if (entry.movedFrom) return;
      try {
        localStorage.setItem(`${spillKey(this.name, this.generation)}+${entry.seq}`, JSON.stringify(encodeRecord(
          { seq: entry.seq, partition: UNASSIGNED, offset: entry.seq, key: entry.key, value: entry.value, options: entry.options })));
        this._counts.storageWrites++;
        this._counts.storageRows++;
      } catch (e) {
        this._report(storageError(`writing the spill of ${this.generation}`, e));
      }
      return;
    }
    if (this._store.kind === "localstorage") {
      // The store itself is synchronous: its snapshot holds sends without an id too.
      const puts = j.unsaved;
      j.unsaved = [];
      this._write({ meta: true, puts }, j, { final: true }).then((ok) => this._saved(j, puts, ok));
      return;
    }
    const records = [];
    for (const e of j.fresh.values()) {
      if (!e.movedFrom) records.push({ seq: e.seq, partition: UNASSIGNED, offset: e.seq, key: e.key, value: e.value, options: e.options });
    }
    for (const r of j.records()) if (!r.saved && !r.movedFrom) records.push(row(r));
    try {
      localStorage.setItem(spillKey(this.name, this.generation), JSON.stringify({
        generation: this.generation, closed: j.meta.closed, lastSeen: j.meta.lastSeen,
        records: records.map(encodeRecord),
      }));
      this._counts.storageWrites++;
      this._counts.storageRows += records.length;
    } catch (e) {
      this._report(storageError(`writing the spill of ${this.generation}`, e));
    }
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

  /**
   * Writes `change` to a journal's outbox; resolves with whether it was written (failures
   * are reported). Writes of this page's journal to an asynchronous store (IndexedDB, or
   * a `storage` object) are group-committed: one transaction at a time, the changes that
   * come meanwhile in the next one.
   */
  _write(change, journal = this._journal, { final = false } = {}) {
    if (this._closed && journal === this._journal && !final) return Promise.resolve(true);
    if (journal !== this._journal || this._store.kind === "localstorage") return this._writeNow(change, journal);
    const q = this._queued ??= { meta: false, puts: [], deletes: [], removes: [], foreign: [], done: [] };
    q.meta ||= change.meta === true;
    for (const k of ["puts", "deletes", "removes", "foreign"]) if (change[k]) q[k].push(...change[k]);
    const p = new Promise((resolve) => q.done.push(resolve));
    this._writes.add(p);
    p.finally(() => this._writes.delete(p));
    this._drainWrites();
    return p;
  }

  _drainWrites() {
    if (this._inflight || !this._queued) return;
    const q = this._queued;
    this._queued = null;
    const { done, ...change } = q;
    this._inflight = this._writeNow(change, this._journal).then((ok) => {
      this._inflight = null;
      for (const f of done) f(ok);
      this._drainWrites();
    });
  }

  /** Starts one write of a journal now; failures are reported; resolves either way. */
  _writeNow(change, journal) {
    this._counts.storageWrites++;
    this._counts.storageRows += (change.puts?.length ?? 0) + (change.deletes?.length ?? 0) +
      (change.removes?.length ?? 0) + (change.foreign?.length ?? 0);
    const p = this._store.write(journal, change).then(
      () => true,
      (e) => { this._report(storageError(`writing the outbox of ${journal.generation}`, e)); return false; });
    this._writes.add(p);
    p.finally(() => this._writes.delete(p));
    return p;
  }

  /** Writes the records that got their id this turn, in one transaction. */
  _queueSave() {
    if (this._saveQueued) return;
    this._saveQueued = true;
    queueMicrotask(() => { this._saveQueued = false; this._save(); });
  }

  _save() {
    const j = this._journal;
    const notAcked = (r) => r.offset >= (j.acked.get(r.partition) ?? -1);
    const puts = j.unsaved.filter(notAcked);
    j.unsaved = [];
    if (!puts.length) return;
    const foreign = puts.filter((r) => r.movedFrom).map((r) => r.movedFrom);
    this._write({ puts: puts.map(row), foreign }).then((ok) => this._saved(j, puts, ok));
  }

  /** A write of `puts` ended: written records may enter the log (see `_pump`). */
  _saved(j, puts, ok) {
    const notAcked = (r) => r.offset >= (j.acked.get(r.partition) ?? -1);
    for (const r of puts) {
      if (ok) {
        if (!r.saved && notAcked(r)) { r.saved = true; j.saved++; }
        r.e?.onSaved?.(true);
      } else {
        // Written again with the next save. Meanwhile a record of this page is delivered
        // all the same (the failure is reported: exactly-once across a reload cannot be
        // promised for it); a record moved from an older outbox waits, as it is still there.
        if (notAcked(r)) j.unsaved.push(r);
        if (!r.movedFrom) r.unwritten = true;
        r.e?.onSaved?.(false);
      }
    }
    this._pump();
  }

  /**
   * Puts the records whose rows are written into the log, per partition in offset order
   * (the sink publishes them from there), while the log has room: under
   * `retention.unacked: "keep"`, a partition over its bound with unacknowledged records
   * takes more only as acknowledgements come. Each send resolves once its record is in.
   */
  _pump() {
    if (this._frozen || this._closed) return;
    const j = this._journal;
    for (const [p, list] of j.outbox) {
      let i = 0;
      while (i < list.length && list[i].logged) i++;
      while (i < list.length) {
        const run = [];
        while (i + run.length < list.length && run.length < RESTORE_CHUNK) {
          const r = list[i + run.length];
          if (r.offset !== this._next[p] + run.length || !(r.saved || r.unwritten)) break;
          run.push(r);
        }
        if (!run.length) break;
        const info = this.client.partitionInfo(this.topic, p);
        if (info.overBound && info.ackedOffset !== null && info.highWatermark > info.ackedOffset) break;
        try {
          this.client.restore(this.topic, p, run.map(({ offset, key, value, timestamp, headers }) =>
            ({ offset, key, value, timestamp, headers })));
        } catch (e) {
          // Another producer appended to this topic's log: these ids cannot be kept.
          const error = new DurableError("LOG_CONFLICT", `partition ${p} of "${this.topic}": ` +
            `${e?.message ?? e} (a topic opened with tributary/durable takes records from its producers only)`, e);
          this._report(error);
          const dropped = list.slice(i);
          for (const r of dropped) { j.drop(r); r.e.reject?.(error); }
          this._write({ removes: dropped.map((r) => [p, r.offset]) });
          break;
        }
        this._next[p] += run.length;
        i += run.length;
        for (const r of run) {
          r.logged = true;
          r.e.resolve?.({ topic: this.topic, partition: p, offset: r.offset, timestamp: r.timestamp });
        }
      }
    }
    this._checkIdle();
  }

  _checkIdle() {
    if (!this._idle.length || this._journal.waiting > 0) return;
    for (const f of this._idle.splice(0)) f();
  }

  /** Resolves once every send so far is in the log (or the page is left or closed). */
  _settled() {
    if (this._journal.waiting === 0 || this._frozen || this._closed) return Promise.resolve();
    return new Promise((resolve) => this._idle.push(resolve));
  }

  /**
   * One send: numbered by the staging producer, then given its id, written, and put into
   * the log. Returns a promise of its RecordMetadata in the log.
   */
  _track(stagingPromise, entries) {
    const j = this._journal;
    const results = entries.map((e) => new Promise((resolve, reject) => { e.resolve = resolve; e.reject = reject; }));
    if (this._frozen) for (const e of entries) this._spill(e); // a send after pagehide: kept in the spill
    stagingPromise.then((mds) => {
      mds.forEach((md, i) => {
        const p = md.partition;
        j.assign(entries[i], p, this._base[p] + md.offset, md.timestamp);
      });
      this._queueSave();
    }, (err) => {
      for (const e of entries) { j.forget(e); e.reject(err); }
      this._checkIdle();
    });
    return results;
  }

  /** A producer for the topic whose records go through the outbox. */
  producer(config) {
    return new DurableProducer(this, this._staging.topicProducer(this.topic, config));
  }

  /**
   * Looks for outboxes of pages that are gone (reloaded, closed, crashed) and sends them
   * again with their own message ids. Runs on open, on `online`, when the page becomes
   * visible and every `scanIntervalMs`; resolves once the replays found are started.
   */
  scan() {
    if (this._closed || this._frozen) return Promise.resolve();
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
      } else {
        const spill = this._store.kind !== "none" ? readSpill(this.name, g) : null;
        if (meta.closed || spill?.closed || Date.now() - Math.max(meta.lastSeen ?? 0, spill?.lastSeen ?? 0) > STALE_MS) {
          this._replay(meta);
        }
      }
    }
  }

  /**
   * Step one of a replay (claimed: the generation's lock is ours): the spill goes into
   * IndexedDB in one transaction with `spillImported` set, and rows without an id whose
   * record has one (the same `seq`) are deleted with it. Returns the rows to replay.
   */
  async _normalize(meta) {
    const g = meta.generation;
    let rows = await this._store.records(g);
    const spill = this._store.kind !== "none" && !meta.spillImported ? readSpill(this.name, g) : null;
    const key = (r) => `${r.partition}/${r.offset}`;
    const have = new Map(rows.map((r) => [key(r), r]));
    const puts = [];
    for (const r of spill?.records ?? []) {
      if (!have.has(key(r))) { puts.push(r); have.set(key(r), r); }
    }
    const all = [...have.values()];
    const withId = new Set(all.filter((r) => r.partition !== UNASSIGNED && r.seq !== undefined).map((r) => r.seq));
    const shadowed = all.filter((r) => r.partition === UNASSIGNED && withId.has(r.seq ?? r.offset));
    const live = new Set(shadowed);
    rows = all.filter((r) => !live.has(r));
    if (spill || shadowed.length) {
      const journal = new Journal(g, { ...meta, spillImported: true, closed: meta.closed || spill?.closed === true });
      if (this._store.kind === "localstorage") {
        for (const r of rows) {
          if (r.partition === UNASSIGNED) journal.fresh.set(r.offset, { seq: r.offset, key: r.key, value: r.value, options: r.options });
          else journal.add({ ...r, saved: true });
        }
      }
      const ok = await this._write({
        meta: true, puts: puts.filter((r) => !live.has(r)).map((r) => (r.partition === UNASSIGNED ? r : row(r))),
        removes: shadowed.filter((r) => !puts.includes(r)).map((r) => [UNASSIGNED, r.offset]),
      }, journal);
      if (!ok) throw new Error("the spill could not be written to the outbox");
      if (spill) removeSpill(this.name, g);
    }
    return rows;
  }

  /** Sends generation `meta`'s outbox again, with its message ids, then forgets it. */
  async _replay(meta) {
    const g = meta.generation;
    const state = { sinks: new Set(), clients: new Set() };
    this._replays.set(g, state);
    let event = null;
    try {
      const rows = await this._normalize(meta);
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
      while (runs.some(([, list]) => list.length) && !this._closed && !this._frozen) {
        // Offline (or paused), a round waits: its sink would only be closed at once.
        if (!this.online) await new Promise((resolve) => this._onlineWaiters.push(resolve));
        else await this._replayRound(meta, runs, state);
      }
      if (this._closed || this._frozen) return;
      // Records that never had an id: moved into this generation, each in the transaction
      // that writes its new id and deletes its old row, then sent as this page's records.
      if (fresh.length) {
        const moved = await this._move(g, fresh);
        if (moved < fresh.length) throw new Error(`${fresh.length - moved} records without an id could not be moved`);
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

  /** Moves rows without an id of generation `g` into this one; resolves with how many moved. */
  async _move(g, fresh) {
    const producer = this._moveProducer ??= this._staging.topicProducer(this.topic);
    const j = this._journal;
    const staged = producer.sendAll(fresh.map((r) => [r.key, r.value, r.options]));
    const entries = fresh.map((r) => j.enqueue(r.key, r.value, r.options, [g, UNASSIGNED, r.offset]));
    const saved = entries.map((e) => new Promise((resolve) => { e.onSaved = resolve; }));
    const sent = this._track(staged, entries);
    for (const s of sent) s.catch(() => {}); // failures: counted below
    const results = await Promise.all(saved.map((s, i) => Promise.race([s, sent[i].then(() => true, () => false)])));
    const moved = results.filter(Boolean).length;
    this._counts.replayFresh += moved;
    return moved;
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
    const sink = this._connect(client, meta.topic, {
      ...this._sinkOptions,
      msgIdPrefix: g,
      onAck: (progress) => {
        const { deletes, arrived, gone } = this._progress(journal, progress);
        this._counts.replayAcked += arrived;
        this._counts.replayUndelivered += gone;
        if (deletes.length && this._store.kind !== "localstorage") this._write({ deletes }, journal);
      },
    }, { token: meta.ingestToken });
    state.sinks.add(sink);
    this._replaySinks.add(sink);
    if (!this.online) sink.pause();
    try {
      // Records given up were reported by `_givenUp` and left the outbox: the round
      // goes on. Anything else (the sink failed or closed) fails the round.
      await this._delivered(client, sink).catch((e) => { if (e?.code !== "SINK_UNDELIVERED") throw e; });
      await Promise.all(this._writes);
      // localStorage keeps a generation as one snapshot: rewrite it with what is left.
      if (this._store.kind === "localstorage") {
        const rest = new Journal(g, meta);
        for (const [p, list] of runs) if (list.length) rest.outbox.set(p, list);
        const all = await this._store.records(g);
        for (const r of all) if (r.partition === UNASSIGNED) rest.fresh.set(r.offset, { seq: r.offset, key: r.key, value: r.value, options: r.options });
        await this._write({}, rest);
      }
    } finally {
      this._replaySinks.delete(sink);
      this._counts.replayDuplicates += sink.stats().duplicates;
      await sink.close().catch(() => {});
    }
  }

  /**
   * Appends every open batch, waits until every record sent so far is written and in the
   * log, and resolves once JetStream acknowledged every record (`Tributary.flush`).
   */
  async flush() {
    await this._staging.flush();
    await this._settled();
    return this._delivered(this.client, this.sink);
  }

  /** What the outbox holds and what the replays did. */
  stats() {
    const j = this._journal;
    const replayPending = this._counts.replayedRecords - this._counts.replayAcked - this._counts.replayUndelivered;
    let live = 0;
    for (const s of this._replaySinks) live += s.stats().duplicates;
    const sinkDuplicates = this.sink.stats().duplicates;
    return {
      generation: this.generation,
      storage: this.storage,
      online: this.online,
      paused: this._manualOffline,
      state: this.sink.state,
      pending: j.pending,
      unassigned: j.waiting,
      saved: j.saved,
      unsaved: j.unsaved.length,
      replaying: this._replays.size,
      replayPending,
      ...this._counts,
      replayDuplicates: this._counts.replayDuplicates + live,
      duplicates: sinkDuplicates + this._counts.replayDuplicates + live,
    };
  }

  /**
   * Stops listening, writes what is not written, closes the sink (records not
   * acknowledged stay in the outbox: a later page sends them) and the replays, releases
   * the lock. The client stays open. Sends not in the log yet reject with CLOSED (their
   * records stay in the outbox).
   */
  async close() {
    if (this._closed) return;
    await this._staging.flush().catch(() => {});
    await new Promise((r) => setTimeout(r, 0)); // the staging sends' reactions
    this._save();
    await Promise.all(this._writes);
    this._pump();
    await this._write({ meta: true });
    this._closed = true;
    for (const f of this._onlineWaiters.splice(0)) f();
    clearInterval(this._timer);
    for (const [target, type, f] of this._handlers ?? []) target.removeEventListener(type, f);
    for (const { clients } of this._replays.values()) for (const c of clients) await c.close().catch(() => {});
    await this.sink?.close();
    await this._staging.close().catch(() => {});
    await Promise.all(this._writes);
    const closed = new DurableError("CLOSED", "the durable topic was closed before the record reached the log; it stays in the outbox");
    for (const e of this._journal.fresh.values()) e.reject?.(closed);
    for (const r of this._journal.records()) if (!r.logged) r.e.reject?.(closed);
    this._checkIdle();
    if (this._journal.pending === 0) await this._store.drop(this.generation).catch(() => {});
    this._releaseLock?.();
  }
}

/** A `TopicProducer` whose records go through the outbox. */
export class DurableProducer {
  constructor(durable, producer) {
    this.durable = durable;
    /** The staging producer: it numbers the records (partitioner, batching, checks). */
    this.producer = producer;
  }

  /**
   * `TopicProducer.send`: resolves with the record's partition and offset once its row is
   * written and it is in the log (the sink publishes it from there).
   */
  send(key, value, options) {
    const d = this.durable;
    const e = d._journal.enqueue(key, value, options);
    let staged;
    try {
      staged = this.producer.send(key, value, options).then((md) => [md]);
    } catch (err) {
      d._journal.forget(e);
      return Promise.reject(err);
    }
    return d._track(staged, [e])[0];
  }

  /** `TopicProducer.sendAll`, each record through the outbox. */
  sendAll(records) {
    const d = this.durable;
    let staged;
    try {
      staged = this.producer.sendAll(records);
    } catch (err) {
      return Promise.reject(err);
    }
    const entries = records.map(([key, value, options]) => d._journal.enqueue(key, value, options));
    return Promise.all(d._track(staged, entries));
  }

  /** Appends this producer's open batches and waits until their records are in the log. */
  async flush() {
    await this.producer.flush();
    await this.durable._settled();
  }

  stats() { return this.producer.stats(); }
  close() { return this.producer.close(); }
}
