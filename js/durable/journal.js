// @ts-check
// tributary/durable: the journal of one generation, what the page knows of its records
// (see durable.js). Pure logic, tested in Node (tests/js/durable/journal.test.mjs).

/** The partition under which records without an id are written (their `offset` is their `seq`). */
export const UNASSIGNED = -1;

/** @param {any} v */
export const copy = (v) => (v instanceof Uint8Array ? v.slice() : v);
/**
 * A send's options as the journal keeps them (and replays them): own properties only,
 * never a value inherited from `Object.prototype` (each one set, `undefined` when not
 * given, so that reading it never reaches the prototype); a Map of headers as an object.
 * @param {any} o
 */
export const ownOptions = (o) => {
  if (o === null || typeof o !== "object") return o;
  /** @type {Record<string, any>} */
  const out = {};
  for (const k of ["headers", "timestamp", "partition"]) {
    const v = Object.hasOwn(o, k) ? o[k] : undefined;
    // Headers copied (a Map's entries, an object's own enumerable ones, the bytes too):
    // the journal and the staging producer read the same values once.
    out[k] = k == "headers" && v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array)
      ? Object.fromEntries(Array.from(v instanceof Map ? v : Object.entries(v), ([n, x]) => [n, copy(x)]))
      : v;
  }
  return out;
};
/** A record as the outbox stores it (`seq`: its place among the page's sends). */
/** @param {any} r */
export const row = ({ seq, partition, offset, key, value, timestamp, headers }) =>
  ({ seq, partition, offset, key, value, timestamp, headers });


/**
 * The unacknowledged records of one generation as the page knows them: sends without an
 * id yet (`fresh`), and records with their final id (partition and offset), per partition
 * in offset order, from the moment the id is chosen until JetStream acknowledges them.
 */
export class Journal {
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
    const e = { seq: this.nextSeq++, key: copy(key ?? null), value: copy(value), options: ownOptions(options), movedFrom };
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


/**
 * A generation's stored rows merged with its spill (records of a page being left that the
 * store had not committed; the same record may be in both): rows keyed by partition and
 * offset, and a row without an id (partition -1, `offset` its `seq`) dropped when a row
 * with an id has its `seq` (the record got its id after all). Returns the rows to replay,
 * the spill's rows to put, and the stored rows without an id to remove.
 * @param {any[]} stored
 * @param {any[]} spilled
 * @returns {{ rows: any[], puts: any[], removes: [number, number][] }}
 */
export function mergeSpill(stored, spilled) {
  /** @param {any} r */
  const key = (r) => `${r.partition}/${r.offset}`;
  const have = new Map(stored.map((r) => [key(r), r]));
  const fromSpill = new Set();
  for (const r of spilled) {
    if (!have.has(key(r))) { fromSpill.add(r); have.set(key(r), r); }
  }
  const all = [...have.values()];
  const withId = new Set(all.filter((r) => r.partition !== UNASSIGNED && r.seq !== undefined).map((r) => r.seq));
  const shadowed = new Set(all.filter((r) => r.partition === UNASSIGNED && withId.has(r.seq ?? r.offset)));
  const rows = all.filter((r) => !shadowed.has(r));
  const puts = rows.filter((r) => fromSpill.has(r)).map((r) => (r.partition === UNASSIGNED ? r : row(r)));
  /** @type {[number, number][]} */
  const removes = [...shadowed].filter((r) => !fromSpill.has(r)).map((r) => [UNASSIGNED, r.offset]);
  return { rows, puts, removes };
}
