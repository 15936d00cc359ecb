// @ts-check
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
 *   in a `pagehide` handler) is added to the spill in its own turn, and gets no row after
 *   that. The next page merges the spill into the outbox by send sequence (`seq`) before
 *   sending anything; a spill that reaches localStorage only after that replay (the
 *   browser writes it asynchronously) is found by a later scan and replayed. There is
 *   no `unload` handler (it would keep the page out of the back/forward cache);
 *   `pageshow` from that cache undoes the freeze.
 * - **Replay.** A later load (or another open tab) finds the outbox of a generation whose
 *   page is gone and takes it in steps, each safe if the page dies at any point: *claim*
 *   (the generation's Web Lock), *normalize* (the spill imported into IndexedDB in one
 *   transaction that records the keys imported), *send* (the records with an id are put back at
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
 * The modules, by concern (shipped beside this entry, each `// @ts-check`ed against
 * durable.d.ts): `durable/error.js`, `durable/journal.js` (a generation's bookkeeping and
 * the spill merge, pure), `durable/store.js` (IndexedDB, localStorage, store objects,
 * the spill), `durable/lifecycle.js` (Web Locks, page events), `durable/replay.js`
 * (older outboxes); this entry holds the write path (staging, writes, the gate into the
 * log) and the API.
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

import { DurableError, storageError } from "./durable/error.js";
import { Journal, UNASSIGNED, row } from "./durable/journal.js";
import { openStore, encodeRecord, spillKey, removeSpill, hasLocalStorage } from "./durable/store.js";
import { HEARTBEAT_MS, holdLock, listen, unlisten } from "./durable/lifecycle.js";
import { scanOutboxes } from "./durable/replay.js";
import { checkReceivers, partitionCount, tokenPrefix } from "./ingest-wire.js";

export { DurableError };

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

// Records put into the log per `restore` call: small, so that a partition under
// `retention.unacked: "keep"` stops close to its bound (its `overBound` is checked between).
const RESTORE_CHUNK = 8;
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
/**
 * @param {import("./index.js").Tributary} client
 * @param {string} topic
 * @param {import("./durable.js").DurableOptions} [options]
 * @returns {Promise<import("./durable.js").DurableTopic>}
 */
export async function openDurable(client, topic, options = {}) {
  const durable = new DurableTopic(client, topic, options);
  await durable._open();
  return durable;
}

const own = (o, k, d) => (o !== null && typeof o === "object" && Object.hasOwn(o, k) ? o[k] : d);

const made = new WeakSet(); // the DurableTopics and DurableProducers made by their constructors

export class DurableTopic {
  constructor(client, topic, options) {
    made.add(this);
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
    // Held until the page goes away (or close()): other tabs leave this outbox alone.
    if (this._locks) this._releaseLock = await holdLock(this._locks, this._lockName(this.generation));
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

  /**
   * The topic's sink: NATS over a WebSocket, or the ingest over HTTP (`ingest.transport`).
   * @param {any} client
   * @param {string} topic
   * @param {any} options the sink's options
   * @param {{ token?: string, read?: Function }} [how] the token of the outbox (a replay's),
   *   and where the HTTP transport reads records
   */
  _connect(client, topic, options, { token, read } = {}) {
    const ingest = this._ingest;
    if (ingest?.transport !== "http") return client.connect(topic, options);
    return this._ingestClient.connectIngest(client, topic, {
      url: ingest.url, token: token ?? ingest.token, msgIdPrefix: own(options, "msgIdPrefix", undefined),
      onAck: own(options, "onAck", undefined), onStateChange: own(options, "onStateChange", undefined),
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
    this._handlers = listen(this._win, {
      offline: () => this._applyOnline(),
      online: () => { this._applyOnline(); this.scan(); },
      pagehide: (persisted) => this._pagehide(persisted),
      pageshow: () => this._pageshow(),
      hidden: () => this._hidden(),
      visible: () => { this._beaconed.clear(); this.scan(); },
    });
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
    this._queueSave();
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
        localStorage.setItem(`${spillKey(this.name, this.generation)}+${entry.seq}`, JSON.stringify({ topic: this.topic, ...encodeRecord(
          { seq: entry.seq, partition: UNASSIGNED, offset: entry.seq, key: entry.key, value: entry.value, options: entry.options }) }));
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
        generation: this.generation, topic: this.topic, closed: j.meta.closed, lastSeen: j.meta.lastSeen,
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
    // After pagehide no record gets a row: one spilled without an id must not also be
    // stored with one (a spill reaching localStorage late is imported as it is).
    if (this._frozen) return;
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

  /**
   * A producer for the topic whose records go through the outbox.
   * @param {import("./index.js").ProducerConfig} [config]
   * @returns {import("./durable.js").DurableProducer}
   */
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

  _scan() { return scanOutboxes(this); }

  /**
   * Appends every open batch, waits until every record sent so far is written and in the
   * log, and resolves once JetStream acknowledged every record (`Tributary.flush`).
   */
  async flush() {
    await this._staging.flush();
    await this._settled();
    return this._delivered(this.client, this.sink);
  }

  /**
   * What the outbox holds and what the replays did.
   * @returns {import("./durable.js").DurableStats}
   */
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
    unlisten(this._handlers);
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
    made.add(this);
    this.durable = durable;
    /** The staging producer: it numbers the records (partitioner, batching, checks). */
    this.producer = producer;
  }

  /**
   * `TopicProducer.send`: resolves with the record's partition and offset once its row is
   * written and it is in the log (the sink publishes it from there).
   */
  /**
   * @param {string | Uint8Array | null | undefined} key
   * @param {string | Uint8Array} value
   * @param {import("./index.js").SendOptions} [options]
   * @returns {Promise<import("./index.js").RecordMetadata>}
   */
  send(key, value, options) {
    const d = this.durable;
    let e;
    try {
      // Read once: the journal's copies are what the staging producer takes, so what is
      // written and what is sent are the same (a getter may answer differently twice).
      e = d._journal.enqueue(key, value, options);
    } catch (err) {
      return Promise.reject(unreadable(err));
    }
    return d._track(this.producer.send(e.key, e.value, e.options).then((md) => [md]), [e])[0];
  }

  /** `TopicProducer.sendAll`, each record through the outbox. */
  /**
   * @param {Array<[string | Uint8Array | null, string | Uint8Array, import("./index.js").SendOptions?]>} records
   * @returns {Promise<import("./index.js").RecordMetadata[]>}
   */
  sendAll(records) {
    const d = this.durable, j = d._journal;
    /** @type {any[]} */
    const entries = [], copies = [];
    try {
      // Each entry read once into the journal, and the copies staged: nothing is sent
      // that the journal lacks, nothing journaled that a bad entry stopped. What is not
      // an array of [key, value, options?] the staging producer rejects, as it words it.
      if (!Array.isArray(records)) return this.producer.sendAll(records);
      for (let i = 0, n = records.length; i < n; i++) {
        const r = records[i];
        if (!Array.isArray(r)) return this.producer.sendAll(records);
        copies.push(r);
      }
      for (let i = 0; i < copies.length; i++) {
        const r = copies[i], e = j.enqueue(r[0], r[1], r[2]);
        entries.push(e);
        copies[i] = e.options === undefined ? [e.key, e.value] : [e.key, e.value, e.options];
      }
    } catch (err) {
      for (const e of entries) j.forget(e);
      return Promise.reject(Object.assign(unreadable(err), { index: entries.length }));
    }
    return Promise.all(d._track(this.producer.sendAll(copies), entries));
  }

  /** Appends this producer's open batches and waits until their records are in the log. */
  async flush() {
    await this.producer.flush();
    await this.durable._settled();
  }

  stats() { return this.producer.stats(); }
  close() { return this.producer.close(); }
}

/** A user value that could not be read (a throwing getter, a detached buffer) as INVALID_ARGUMENT. */
const unreadable = (/** @type {any} */ err) =>
  new DurableError("INVALID_ARGUMENT", `the record could not be read: ${err?.message ?? err}`, err);

// A method called on another object is INVALID_ARGUMENT, as the package's own classes'.
const notMine = () => new DurableError("INVALID_ARGUMENT", "not a DurableTopic or DurableProducer of this module");
checkReceivers(DurableTopic, made, ["scan", "flush", "close"], notMine);
checkReceivers(DurableProducer, made, ["send", "sendAll", "flush", "close"], notMine);
