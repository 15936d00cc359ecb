// @ts-check
// tributary/durable: where outboxes are kept (IndexedDB, localStorage, nothing, or a store
// object), and the spill of a page being left (see durable.js).
import { DurableError, storageError } from "./error.js";
import { UNASSIGNED, row } from "./journal.js";

const DB_VERSION = 1;

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
export class IdbStore {
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
export const encodeRecord = (r) => ({ ...r, key: encode(r.key), value: encode(r.value),
  options: r.options && { ...r.options, headers: mapValues(r.options.headers, encode) },
  headers: mapValues(r.headers, encode) });
export const decodeRecord = (r) => ({ ...r, key: decode(r.key), value: decode(r.value),
  options: r.options && { ...r.options, headers: mapValues(r.options.headers, decode) },
  headers: mapValues(r.headers, decode) });
// Own data properties (`fromEntries`): a header named `__proto__` stays a header.
const mapValues = (o, f) => o && Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));

/** localStorage: one key per generation, `<name>:<generation>`, holding its whole outbox. */
export class LocalStore {
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
export class NoStore {
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
export const spillKey = (name, generation) => `${name}~spill:${generation}`;

/** The spill of `generation`: its main key and one key per send after `pagehide` (`<key>+<seq>`). */
export function readSpill(name, generation, skip = []) {
  try {
    const key = spillKey(name, generation);
    const done = new Set(skip);
    const keys = [];
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if ((k === key || k?.startsWith(`${key}+`)) && !done.has(k)) keys.push(k);
    }
    if (!keys.length) return null;
    /** @type {any[]} */
    const records = [];
    let closed = false;
    let lastSeen = 0;
    let topic;
    for (const k of keys) {
      const v = JSON.parse(localStorage.getItem(k) ?? "null");
      if (!v) continue;
      topic ??= v.topic;
      if (k === key) {
        closed ||= v.closed === true;
        lastSeen = v.lastSeen ?? 0;
        records.push(...(v.records ?? []));
      } else {
        closed = true; // a send after pagehide
        records.push(v);
      }
    }
    return { closed, lastSeen, topic, keys, records: records.map(decodeRecord) };
  } catch {
    return null;
  }
}

/**
 * Generations with a spill in localStorage (under `name`), whether or not their outbox is
 * in the store: a spill written while the page went away may reach localStorage after the
 * next page replayed that outbox.
 * @param {string} name
 * @returns {string[]}
 */
export function spilledGenerations(name) {
  const prefix = `${name}~spill:`;
  const out = new Set();
  try {
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k?.startsWith(prefix)) out.add(k.slice(prefix.length).split("+")[0]);
    }
  } catch { /* no localStorage */ }
  return [...out];
}

/**
 * Removes spill keys (those a replay imported).
 * @param {string[]} keys
 */
export function removeKeys(keys) {
  try { for (const k of keys) localStorage.removeItem(k); } catch { /* no localStorage */ }
}

export function hasLocalStorage() {
  try { return typeof localStorage !== "undefined" && localStorage !== null; } catch { return false; }
}

export function removeSpill(name, generation) {
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

export async function openStore(kind, name, report) {
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

