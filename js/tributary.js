// The package's JS over the wasm core (src/bindings: a plain C ABI over numbers): the
// classes Tributary and TopicProducer, the options read as own properties, the receiver
// checks, the records' way into wasm memory and the promises and result objects made
// from what the core answers. The core keeps every decision; what crosses is numbers, and
// bytes in wasm memory: a call's input written into the staging area (`wasm.stage`), its
// answer read with a DataView at the address it returns (minus the address of an error:
// an extra number, then code and message). Views are re-taken after memory grows (a
// view of the old buffer is detached then).
import { TributaryError } from "./errors.js";

let wasm;

/** Instantiates the wasm (a Module, its bytes, or an Instance) once; returns its exports. */
export const initSync = (m) =>
  (wasm ??= (m instanceof WebAssembly.Instance ? m : new WebAssembly.Instance(m instanceof WebAssembly.Module ? m : new WebAssembly.Module(m), {})).exports);

const enc = new TextEncoder();
const dec = new TextDecoder();
const SAFE = 2 ** 53 - 1, U32 = 2 ** 32 - 1;
const fail = (code, message) => new TributaryError(code, message);
// A typed array's length from its internal slot (0 once detached; -1 for anything that
// is no typed array): an own `length` or `byteLength` property is the user's code, which
// may lie or call into the package while a call stages.
const taLength = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), "length").get;
function u8len(v) {
  try {
    return taLength.call(v);
  } catch {
    return -1;
  }
}
/** An array of length `n` with no prototype: an index assigned is its own, never a
 * setter's on Array.prototype or Object.prototype (an assignment, and `push`, walk the
 * prototype chain for an index the array does not have). `arr` gives it Array.prototype. */
const bare = (n) => Object.setPrototypeOf(new Array(n), null);
const arr = (a) => Object.setPrototypeOf(a, Array.prototype);
/** `n` values of `f()`, in order (no Array.from: it looks up `Symbol.iterator` through
 * Object.prototype, which may be the user's code, in the middle of reading an answer). */
function list(n, f) {
  const a = bare(n);
  for (let i = 0; i < n; i++) a[i] = f();
  return arr(a);
}
/** Defines `e[k]` (an error's field: assigned, a setter on Object.prototype takes it). */
const field = (e, k, v) => Object.defineProperty(e, k, { __proto__: null, value: v, writable: true, enumerable: true, configurable: true });
/** `a[i]` if an own element (a hole is undefined, never Array.prototype's). */
const at_ = (a, i) => (Object.hasOwn(a, i) ? a[i] : undefined);
const inv = (message) => fail("INVALID_ARGUMENT", message);
// Shared with the sink's wire (js/nats.js), bundled with this module in the sink variants.
export { enc, fail, own, SAFE, U32, field, list, bare, arr }; // sink

// ---- reading answers ---------------------------------------------------------------------

let dv;
/** Reads an answer at `at`: f64, u32, bytes (copied), UTF-8 text. */
class R {
  at; // a field: defined, never a setter's on Object.prototype
  constructor(at) {
    if (dv?.buffer !== wasm.memory.buffer) dv = new DataView(wasm.memory.buffer);
    this.at = at;
  }
  f() {
    const v = dv.getFloat64(this.at, true);
    this.at += 8;
    return v;
  }
  u() {
    const v = dv.getUint32(this.at, true);
    this.at += 4;
    return v;
  }
  b(n) {
    return new Uint8Array(dv.buffer.slice(this.at, (this.at += n)));
  }
  s() {
    return dec.decode(this.b(this.u()));
  }
}

/** `r`, an address or a number the core answered; when negative, throws the error at
 * `-r` (its extra number, NaN for none, then code and message), `extra(e, x)` first. */
function ok(r, extra) {
  if (r >= 0) return r;
  const a = new R(-r), x = a.f(), e = fail(a.s(), a.s());
  if (x === x && extra) extra(e, x);
  throw e;
}

// ---- checking and staging arguments --------------------------------------------------------

/** Why `v` is not a whole number in `min..=max`, or undefined. */
function notWhole(v, what, min, max) {
  if (typeof v !== "number") return `${what} must be a number`;
  if (v !== v) return `${what} must be a whole number, got NaN`;
  if (!Number.isInteger(v)) return `${what} must be a whole number`;
  if (v < min || v > max) return `${what} must be ${min}..=${max}, got ${Math.abs(v) >= 9e18 ? "a number out of range" : v}`;
}

/** `v` if a whole number in `min..=max`, else INVALID_ARGUMENT. */
function arg(v, what, min, max) {
  const m = notWhole(v, what, min, max);
  if (m) throw inv(m);
  return v;
}

/** An options object (undefined for null/undefined; INVALID_ARGUMENT unless an object). */
function opts(o) {
  if (o == null) return;
  if (typeof o !== "object") throw inv("options must be an object");
  return o;
}

/** `o[k]` if `o` has it as an own property (never through the prototype chain; undefined
 * for a null or undefined `o`); a getter or Proxy that throws is INVALID_ARGUMENT. */
function own(o, k) {
  if (o == null) return;
  try {
    return at_(o, k);
  } catch {
    throw inv("options could not be read");
  }
}

const badConfig = (k, reason) => fail("INVALID_CONFIG", `invalid config \`${k}\`: ${reason}`);

/** A whole-number option `k` of `o` (0..=max), NaN when absent. */
function cfgNum(o, k, max) {
  const v = own(o, k);
  if (v === undefined) return NaN;
  const m = notWhole(v, k, 0, max);
  if (m) throw badConfig(k, m);
  return v;
}

/** A string option `k` of `o`, undefined when absent. */
function cfgStr(o, k) {
  const v = own(o, k);
  if (v !== undefined && typeof v !== "string") throw badConfig(k, "must be a string");
  if (v !== undefined && !v.isWellFormed()) throw badConfig(k, "is a string with a lone UTF-16 surrogate");
  return v;
}

// What the general path stages (src/bindings/convert.rs reads it): written here first,
// then copied into the staging area at once.
let buf = new Uint8Array(256), bv = new DataView(buf.buffer), at = 0;
function room(n) {
  if (at + n > buf.length) {
    const b = new Uint8Array(Math.max(2 * buf.length, at + n));
    b.set(buf);
    buf = b;
    bv = new DataView(b.buffer);
  }
}
function wf(v) {
  room(8);
  bv.setFloat64(at, v, true);
  at += 8;
}
function wu(v) {
  room(4);
  bv.setUint32(at, v, true);
  at += 4;
}
function wb(b) {
  room(b.length);
  buf.set(b, at);
  at += b.length;
}
/** A string (absent: u32::MAX). */
function ws(s) {
  if (s === undefined) return wu(U32);
  const b = enc.encode(s);
  wu(b.length);
  wb(b);
}
/** A topic argument: not a string and a lone surrogate are the core's to refuse. */
const wt = (t) => (typeof t !== "string" ? wu(U32 - 2) : t.isWellFormed() ? ws(t) : wu(U32 - 1));
/** Stages a call's input: its topic when given, then each of `items` in order (a number
 * as f64, a record converted as `wr`'s arguments, a string or undefined as `ws`), written
 * here first, then copied into the staging area at once. */
function stage(items, ...topic) {
  at = 0;
  if (topic.length) wt(topic[0]);
  for (const v of items) typeof v === "number" ? wf(v) : Array.isArray(v) ? wr(...v) : ws(v);
  stageView(at).set(buf.subarray(0, at));
}

// The staging area in wasm memory (one, shared by every client): its address, size and views.
let sp = 0, cap = 0, su8, su32;
/** The staging area with room for `need` bytes, as bytes (views re-taken when memory grew). */
function stageView(need) {
  if (need > cap) {
    // An eighth to spare, not double: a large call (a long string about to be refused
    // as too large) is not held at twice its size, and the next call of about its size fits.
    cap = Math.max(need + (need >> 3), 4096);
    sp = wasm.stage(cap);
    su8 = undefined;
  }
  if (su8 === undefined || su8.byteLength === 0) {
    su8 = new Uint8Array(wasm.memory.buffer, sp, cap);
    su32 = new Uint32Array(wasm.memory.buffer, sp, cap >> 2);
  }
  return su8;
}

/** Bytes of a `string` (UTF-8; not when `only`) or `Uint8Array` (copied); `what` names
 * the argument. */
function bytesOf(v, what, only) {
  if (typeof v === "string" && !only) {
    if (!v.isWellFormed()) throw inv(`${what} is a string with a lone UTF-16 surrogate; it cannot be encoded as UTF-8`);
    return enc.encode(v);
  }
  let u8 = false;
  try {
    u8 = v instanceof Uint8Array;
  } catch {}
  if (!u8) throw inv(`${what} must be ${only ? "" : "a string or "}a Uint8Array`);
  try {
    // Internal slots only (a Proxy is not a view; a detached buffer throws).
    const n = u8len(v);
    if (n >= 0) {
      const out = new Uint8Array(n);
      out.set(v);
      return out;
    }
  } catch {}
  throw inv(`${what} could not be read`);
}

const UNREADABLE = "headers could not be read";
const HEADERS = "headers must be an object or a Map of name → string | Uint8Array";

/** A copy of `v` (an array: its own elements, holes undefined; else what iterating it
 * gives), each getter read once, or INVALID_ARGUMENT `what`. */
function copy(v, what) {
  try {
    if (!Array.isArray(v)) return Array.from(v);
    let i = 0;
    return list(v.length, () => at_(v, i++));
  } catch {
    throw inv(what);
  }
}
function isArray(v) {
  try {
    return Array.isArray(v);
  } catch {
    return false; // a revoked Proxy
  }
}

/** Send options `{ headers, timestamp, partition }`: [partition (NaN: none), timestamp,
 * headers (each name's bytes, then its value's)]. */
function sendOptions(o) {
  o = opts(o);
  let v = own(o, "timestamp");
  const ts = v === undefined ? NaN : arg(v, "timestamp", 0, SAFE);
  v = own(o, "partition");
  const p = v === undefined ? NaN : arg(v, "partition", 0, U32);
  const hs = bare(0);
  const h = own(o, "headers");
  if (h !== undefined) {
    if (h === null || typeof h !== "object") throw inv(HEADERS);
    // An object's own enumerable properties; an object with none (a Map) gives its
    // `[name, value]` pairs by iterating (each pair copied: the iterator is the user's),
    // unless its iterator is Object.prototype's (an empty `{}`, where someone set one).
    let pairs, iterated;
    try {
      pairs = Object.entries(h);
      iterated = !pairs.length && h[Symbol.iterator] !== Object.prototype[Symbol.iterator];
    } catch {
      throw inv(UNREADABLE);
    }
    if (iterated) pairs = copy(h, UNREADABLE);
    for (let e of pairs) {
      if (iterated) {
        if (!isArray(e)) throw inv(HEADERS);
        e = copy(e, UNREADABLE);
      }
      const name = at_(e, 0);
      if (typeof name !== "string") throw inv("a header name must be a string");
      if (!name.isWellFormed()) throw inv("a header name is a string with a lone UTF-16 surrogate");
      hs[hs.length] = enc.encode(name);
      hs[hs.length] = bytesOf(at_(e, 1), "a header value");
    }
  }
  return [p, ts, arr(hs)];
}

/** A record staged whole (src/bindings/convert.rs `record`). */
function wr(a, b, key, value, headers) {
  wf(a);
  wf(b);
  wu(key ? key.length : U32);
  wu(value.length);
  wu(headers.length / 2);
  for (const b of headers) wu(b.length);
  if (key) wb(key);
  wb(value);
  for (const b of headers) wb(b);
}

/** One `send`'s record, converted: `wr`'s arguments. */
function record(key, value, options) {
  const k = key == null ? null : bytesOf(key, "key"), v = bytesOf(value, "value"), [p, ts, hs] = sendOptions(options);
  return [p, ts, k, v, hs];
}

/** `[{ offset, key, value, timestamp, headers? }]` (restore, encodeBatch), converted:
 * every value read before anything is staged (a getter may call into the package, which
 * stages its own call). `stage` stages them. */
function restoredOf(v) {
  if (!isArray(v)) throw inv("records must be an array");
  return copy(v, "records could not be read").map((r) => {
    if (r === null || typeof r !== "object") throw inv("each record must be { offset, key, value, timestamp }");
    const [, , hs] = sendOptions(r);
    const offset = arg(own(r, "offset"), "offset", 0, SAFE);
    const key = own(r, "key");
    const k = key == null ? null : bytesOf(key, "key");
    const value = bytesOf(own(r, "value"), "value");
    return [offset, arg(own(r, "timestamp"), "timestamp", 0, SAFE), k, value, hs];
  });
}

/** A record as `read` and `decodeBatch` return it (the answer's layout, convert.rs). */
function consumed(r) {
  const offset = r.f(), timestamp = r.f(), kl = r.u(), vl = r.u(), lens = list(r.u(), () => [r.u(), r.u()]);
  const key = kl === U32 ? null : r.b(kl), value = r.b(vl);
  // fromEntries defines each property (assigning `__proto__` would set the prototype).
  return { offset, key, value, timestamp, headers: Object.fromEntries(lens.map(([nl, hl]) => [dec.decode(r.b(nl)), r.b(hl)])) };
}
/** An object of the f64 answers `r` holds, named by `names` (space-separated); each
 * defined (an assignment would call a setter on Object.prototype). */
const numbers = (r, names) => Object.fromEntries(names.split(" ").map((k) => [k, r.f()]));
const consumedList = (r) => list(r.u(), () => consumed(r));

// ---- the records' way in and out -------------------------------------------------------------

// `send` and `sendAll` write keys and values straight into the staging area
// (TextEncoder.encodeInto for strings, `set` for Uint8Array) and take them into the core
// with one call (`wasm.send`), which returns the first of their tickets. What that path
// does not take (options, empty or detached buffers, lone surrogates, anything odd) is
// converted here and staged whole (`wasm.send_full`). The core's driver keeps each poll's
// report until `drain` takes it: per settled ticket its partition, offset and timestamp
// (or -1 and an error), and the next deadline. The promises and RecordMetadata objects
// are made here; the poll is scheduled here, in one place: one microtask, one timer, per
// client.

/** The room `v` may take in UTF-8 (a short string: 3 per UTF-16 unit; a long one:
 * counted, so an ASCII record the core refuses as too large is staged once, not at three
 * times its size), or -1 when the fast path does not take it. */
function size(v) {
  if (typeof v === "string") return v.length < 4096 ? v.length * 3 : utf8(v);
  return v instanceof Uint8Array ? u8len(v) || -1 : -1;
}

/** Room for a string in UTF-8: 1 byte per ASCII unit, 3 per other (a surrogate pair's 4
 * bytes get 6). */
function utf8(v) {
  let n = 0;
  for (let i = 0; i < v.length; ) n += v.charCodeAt(i++) < 128 ? 1 : 3;
  return n;
}

/** Writes `v` (string or Uint8Array) at `at`; returns the bytes written, or -1 for a
 * string with a lone surrogate or a buffer detached or grown past the room since it was
 * sized (a later sendAll entry's getter may do either): refused, or taken, by the general
 * path. */
function put(u8, at, v) {
  if (typeof v !== "string") {
    try {
      u8.set(v, at);
      return taLength.call(v);
    } catch {
      return -1;
    }
  }
  // ASCII by hand: short keys are the common case, and cheaper so than encodeInto.
  const n = v.length;
  let j = 0;
  for (; j < n; j++) {
    const c = v.charCodeAt(j);
    if (c > 0x7f) break;
    u8[at + j] = c;
  }
  if (j === n) return n;
  if (!v.isWellFormed()) return -1;
  return j + enc.encodeInto(j ? v.slice(j) : v, u8.subarray(at + j)).written;
}

// One executor for every promise (no closure per record): it hands out the functions.
let R_, J_;
const grab = (a, b) => {
  R_ = a;
  J_ = b;
};

/** One client's records on their way: the entry of each ticket (from `base`). */
class Flight {
  // Fields: defined, never a setter's on Object.prototype; `slots` has no prototype.
  s;
  slots = bare(0);
  base = 0;
  head = 0;
  queued = false;
  timer;
  due = Infinity;
  tick = () => {
    this.queued = false;
    poll(this.s, 0);
  };
  alarm = () => {
    this.timer = undefined;
    this.due = Infinity;
    poll(this.s, 0);
  };
  constructor(s) {
    this.s = s;
  }
  schedule() {
    if (!this.queued) {
      this.queued = true;
      queueMicrotask(this.tick);
    }
  }
  stop() {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.due = Infinity;
  }
  /** The promise of the records from ticket `first`: `n` of a sendAll, or (-1) one send's. */
  group(first, n, topic) {
    const p = new Promise(grab);
    // What the tickets settle: one `send`'s promise (`out` null), or a `sendAll`'s (its
    // records' tickets from `first`; `left` to go).
    const e = { topic, first, out: n < 0 ? null : bare(n), left: n, failed: false, res: R_, rej: J_ };
    if (n === 0) e.res(arr(e.out));
    const { slots } = this;
    for (let i = first - this.base, end = i + (n < 0 ? 1 : n); i < end; i++) slots[i] = e;
    this.schedule();
    return p;
  }
  /** Settles what the report at `p` names (src/bindings/client.rs `report`). The report
   * is read whole first: settling a promise looks up `then` on its value, which may be
   * the user's code (a getter on Object.prototype) calling into the package, whose
   * answers overwrite the report. */
  settle(p) {
    const r = new R(p), d = r.f(), again = r.f(), wake = r.f(), n = r.f();
    const { slots } = this;
    const errs = new R(r.at + 32 * n), done = bare(3 * n);
    for (let k = 0; k < n; k++) {
      const t = r.f(), i = t - this.base, part = r.f(), offset = r.f(), timestamp = r.f(), e = slots[i];
      slots[i] = undefined;
      done[3 * k] = e;
      done[3 * k + 1] = t;
      done[3 * k + 2] = part < 0 ? [errs.s(), errs.s()] : { topic: e?.topic, partition: part, offset, timestamp };
    }
    let h = this.head;
    while (h < slots.length && slots[h] === undefined) h++;
    if (h === slots.length) {
      this.base += h;
      slots.length = 0;
      h = 0;
    } else if (h > 1024 && h * 2 > slots.length) {
      [].splice.call(slots, 0, h);
      this.base += h;
      h = 0;
    }
    this.head = h;
    if (again) this.schedule();
    if (d < this.due) {
      clearTimeout(this.timer);
      this.due = d;
      this.timer = setTimeout(this.alarm, Math.min(Math.max(0, d - Date.now()), 2 ** 31 - 1));
    }
    for (let k = 0; k < done.length; ) {
      const e = done[k++], t = done[k++], md = done[k++];
      if (e === undefined) continue;
      if (Array.isArray(md)) {
        // A sendAll fails once, with its first failure.
        e.left--;
        if (!e.failed) {
          e.failed = true;
          e.rej(fail(md[0], md[1]));
        }
      } else if (e.out === null) e.res(md);
      else if (((e.out[t - e.first] = md), --e.left === 0 && !e.failed)) e.res(arr(e.out));
    }
    if (wake) for (const w of this.s.wakes.values()) w(); // sink
  }
}

/** CLOSED if producer `p` (its state) is closed. */
function shut(p) {
  if (p.closed) throw fail("CLOSED", "the producer is closed");
}

/** The state of client `c`, open, for a read of `partition`. */
function reading(c, partition) {
  const s = S.get(c);
  if (s.closed) throw fail("CLOSED", "the client is closed");
  arg(partition, "partition", 0, U32);
  return s;
}

/** Polls client `s` unless freed (`all`: appends its open batches, `flush()`). */
function poll(s, all) {
  if (s.h) {
    wasm.poll(s.h, Date.now(), all);
    drain(s);
  }
  return Promise.resolve();
}

/** Takes client `s`'s report from the core (what its polls settled) and settles it. */
function drain(s) {
  const p = s.h && wasm.report(s.h);
  if (p > 0) s.f.settle(p);
}

// ---- the classes -----------------------------------------------------------------------------

/** Each instance's state: a client's `{ k, h (handle, 0 once freed), closed, f, wakes
 * (its sinks' wake functions; only with the sink) }`,
 * a producer's `{ k, c (its client's state), id, topic, closed, freed }`. */
const S = new WeakMap();
const KEY = Symbol();
// A client garbage-collected without free() releases its wasm memory; a producer
// garbage-collected without close() is closed once its records are in the log.
const clients = new FinalizationRegistry((s) => free(s));
const producers = new FinalizationRegistry(([c, id]) => orphan(c, id));

// Freeing closes first: what was sent settles (appended, or CLOSED), never left pending.
// Settling may run the user's code, which may free the client itself.
function free(s) {
  const h = s.h;
  if (h) {
    wasm.close(h, Date.now());
    drain(s);
    if (s.h === h) wasm.client_free(h);
  }
  s.h = 0;
  s.f.stop();
}
function orphan(c, id) {
  if (c.h) {
    wasm.producer_orphan(c.h, id, Date.now());
    drain(c);
  }
}

/**
 * A tributary client: topics with in-memory partition logs, and the producers writing
 * to them.
 */
export class Tributary {
  constructor(options) {
    const v = own(opts(options), "seed");
    const seed = v === undefined ? Math.floor(Math.random() * 2 ** 53) : arg(v, "seed", 0, SAFE);
    // Every field in the literal (defined; an assignment of a new one may meet a setter).
    const s = { k: Tributary, h: wasm.client_new(seed), closed: false, wakes: undefined, f: undefined };
    s.wakes = new Map(); // sink
    s.f = new Flight(s);
    S.set(this, s);
    clients.register(this, s, s);
  }
  createTopic(name, config) {
    const s = S.get(this), c = opts(config);
    const partitions = cfgNum(c, "partitions", U32), rf = cfgNum(c, "replicationFactor", U32);
    const compression = cfgStr(c, "compression");
    const r = own(c, "retention");
    if (r !== undefined && (r === null || typeof r !== "object")) throw badConfig("retention", "must be an object");
    const nums = "maxAgeMs maxBytes maxRecords segmentBytes".split(" ").map((k) => cfgNum(r, k, SAFE));
    const unacked = cfgStr(r, "unacked");
    stage([partitions, rf, ...nums, compression, unacked], name);
    ok(wasm.create_topic(s.h));
  }
  topics() {
    const r = new R(ok(wasm.topics(S.get(this).h)));
    return list(r.u(), () => r.s());
  }
  topicProducer(topic, config) {
    const s = S.get(this), c = opts(config);
    const nums = [cfgNum(c, "batchSize", U32), cfgNum(c, "linger", SAFE), cfgNum(c, "maxRequestSize", U32), cfgNum(c, "batchQueueSize", U32)];
    const partitioner = cfgStr(c, "partitioner"), compression = cfgStr(c, "compression"), full = cfgStr(c, "onQueueFull");
    if (full !== undefined && full !== "wait" && full !== "error") throw badConfig("onQueueFull", "must be wait or error");
    stage([...nums, partitioner, compression], topic);
    const id = ok(wasm.topic_producer(s.h, full === "error" ? 1 : 0));
    const p = new TopicProducer(KEY);
    const ps = { k: TopicProducer, c: s, id, topic, closed: false, freed: false };
    S.set(p, ps);
    producers.register(p, [s, id], ps);
    return p;
  }
  flush() {
    return poll(S.get(this), 1);
  }
  read(topic, partition, fromOffset, maxRecords) {
    const s = reading(this, partition);
    arg(fromOffset, "fromOffset", 0, SAFE);
    arg(maxRecords, "maxRecords", 0, 1e6);
    stage([], topic);
    const p = ok(wasm.read(s.h, partition, fromOffset, maxRecords), (e, x) => field(e, "nextAvailable", x));
    return consumedList(new R(p));
  }
  // sink:begin
  restore(topic, partition, records) {
    const s = S.get(this);
    arg(partition, "partition", 0, U32);
    const recs = restoredOf(records);
    stage(recs, topic);
    ok(wasm.restore(s.h, partition, recs.length, Date.now()));
    drain(s);
  }
  static decodeBatch(bytes, maxUncompressed) {
    const b = bytesOf(bytes, "bytes", 1);
    const max = maxUncompressed === undefined ? 1 << 20 : arg(maxUncompressed, "maxUncompressed", 0, U32);
    stageView(b.length).set(b);
    const reasons = ["truncated", "crc", "decompress", "invalid"];
    const r = new R(ok(wasm.decode_batch(b.length, max), (e, x) => field(e, "reason", reasons[x])));
    const baseOffset = r.f(), size = r.f();
    return { baseOffset, records: consumedList(r), size };
  }
  static encodeBatch(records) {
    const recs = restoredOf(records);
    stage(recs);
    const r = new R(ok(wasm.encode_batch(recs.length)));
    return r.b(r.u());
  }
  // sink:end
  partitionInfo(topic, partition) {
    const s = reading(this, partition);
    stage([], topic);
    const o = numbers(new R(ok(wasm.partition_info(s.h, partition))), "logStartOffset highWatermark bytes records segments evictedRecords lostRecords ackedOffset overBound");
    if (o.ackedOffset < 0) o.ackedOffset = null;
    o.overBound = o.overBound === 1;
    return o;
  }
  close() {
    const s = S.get(this);
    wasm.close(s.h, Date.now());
    s.closed = true;
    s.wakes.clear(); // sink
    drain(s);
    s.f.stop();
    return Promise.resolve();
  }
  free() {
    const s = S.get(this);
    clients.unregister(s);
    free(s);
  }
}

// sink:begin
// The core's sink for `topic` (js/nats.js; see src/bindings/sink.rs), for client `c`:
// functions of this module, not methods (no user reaches them).
export function sinkOpen(c, topic, config, wake) {
  const s = S.get(c);
  stage(config, topic);
  const p = ok(wasm.sink_open(s.h, config.length ? 1 : 0, Math.floor(Math.random() * 2 ** 53), Date.now()));
  if (!config.length) return;
  const r = new R(p), info = list(5, () => r.f());
  s.wakes.set(info[0], wake);
  return info;
}
export function sinkDo(c, id, kind, a, b, acks) {
  const s = S.get(c);
  stage(acks);
  const p = s.h && wasm.sink_do(s.h, id, kind, a, b, acks.length / 4, Date.now());
  let out;
  if (p > 0) {
    const r = new R(p);
    out = r.b(r.u());
  }
  if (kind === 6) s.wakes.delete(id); // CLOSE: the sink is gone
  drain(s);
  return out;
}
// sink:end

/** A producer for one topic, made by `Tributary.topicProducer`. */
export class TopicProducer {
  constructor(key) {
    if (key !== KEY) throw inv("a TopicProducer is made by Tributary.topicProducer");
  }
  get topic() {
    const p = S.get(this);
    return p.closed ? undefined : p.topic;
  }
  // send and sendAll reject what they throw (guard).
  send(key, value, options) {
    const p = S.get(this);
    let n = -1;
    try {
      n = sizes(key, value);
    } catch {}
    return (options === undefined && n >= 0 && sent(p, [key], [value], n, 0)) || sentFull(p, [record(key, value, options)], 0);
  }
  sendAll(records) {
    const p = S.get(this);
    // Each entry is read once, here (a getter may answer differently twice); whatever
    // throws while reading (a getter, a Proxy) goes the general path, which rejects with
    // INVALID_ARGUMENT.
    let n, ks, vs, sum = 0;
    try {
      if (!Array.isArray(records)) throw 0;
      n = records.length;
      ks = bare(n);
      vs = bare(n);
      for (let i = 0; i < n; i++) {
        // Own elements only: a hole is undefined, never Array.prototype's.
        const e = at_(records, i);
        if (!Array.isArray(e) || e.length > 2) throw 0;
        const m = sizes((ks[i] = at_(e, 0)), (vs[i] = at_(e, 1)));
        if (m < 0) throw 0;
        sum += m;
      }
    } catch {
      return general(p, records);
    }
    return sent(p, ks, vs, sum, 1) || general(p, records);
  }
  flush() {
    return poll(S.get(this).c, 1);
  }
  stats() {
    const p = S.get(this);
    shut(p);
    return numbers(new R(ok(wasm.producer_stats(p.c.h, p.id))), "records bytes batches recordsAppended queueDepth queuedRecords waiting rejected queueFull evicted dropped");
  }
  close() {
    const p = S.get(this);
    if (!p.closed) {
      p.closed = true;
      producers.unregister(p);
      wasm.producer_close(p.c.h, p.id, Date.now());
      drain(p.c);
    }
    return Promise.resolve();
  }
  free() {
    const p = S.get(this);
    producers.unregister(p);
    if (!p.closed) orphan(p.c, p.id);
    p.closed = p.freed = true;
  }
}

const index = (e, x) => field(e, "index", x);

/** The room key `k` and value `v` may take in the staging area, or -1 when the fast path
 * does not take them (options, empty or detached buffers, anything odd). */
function sizes(k, v) {
  const kn = k == null ? 0 : size(k), vn = size(v);
  return kn < 0 || vn < 0 ? -1 : kn + vn;
}

/** `send` (`mode` 0: one key and value) and `sendAll` (1) without options: the keys `ks`
 * and values `vs` (`sum`: their room, `sizes`) written straight into the staging area
 * and taken into the core with one call. Undefined when this path does not take them (a
 * lone surrogate): the general path converts them. */
function sent(p, ks, vs, sum, mode) {
  const n = ks.length, u8 = stageView(8 * n + sum), words = su32;
  let at = 8 * n;
  for (let i = 0; i < n; i++) {
    const k = ks[i];
    let w = 0;
    if (k != null) {
      if ((w = put(u8, at, k)) < 0) return;
      at += w++;
    }
    words[2 * i] = w;
    if ((w = put(u8, at, vs[i])) < 0) return;
    words[2 * i + 1] = w;
    at += w;
  }
  shut(p);
  return p.c.f.group(ok(wasm.send(p.c.h, p.id, n, at - 8 * n, mode, Date.now()), mode && index), mode ? n : -1, p.topic);
}

/** Records converted (`wr`'s arguments) staged whole and sent: a `send` (`mode` 0) or a
 * `sendAll` (1). Everything was read first: a getter may have closed this producer or
 * the client. */
function sentFull(p, recs, mode) {
  shut(p);
  stage(recs);
  const n = recs.length;
  return p.c.f.group(ok(wasm.send_full(p.c.h, p.id, n, mode, Date.now()), mode && index), mode ? n : -1, p.topic);
}

/** sendAll of anything, converted here: its errors name the entry (`index`). */
function general(p, records) {
  if (!isArray(records)) throw inv("sendAll takes an array of [key, value] pairs");
  return sentFull(
    p,
    copy(records, "records could not be read").map((entry, n) => {
      try {
        if (!isArray(entry)) throw inv(`sendAll entry ${n} must be [key, value] or [key, value, options]`);
        const e = copy(entry, "the entry could not be read");
        return record(at_(e, 0), at_(e, 1), at_(e, 2));
      } catch (err) {
        throw index(err, n), err;
      }
    }),
    1,
  );
}

/**
 * The partition a keyed record lands in, for a topic of `partitionCount` partitions:
 * the same number as Rust's `tributary::partition_for_key` and Fluvio's producer.
 */
export function partitionFor(key, partitionCount) {
  const k = bytesOf(key, "key");
  arg(partitionCount, "partitionCount", 1, 65536);
  stageView(k.length).set(k);
  return wasm.partition_for(k.length, partitionCount);
}

// The classes' methods read their state by `this`: called on another object
// (`TopicProducer.prototype.send.call(client)`, `{}`) they must touch nothing.
// `guard({ Tributary, TopicProducer })` wraps every method and getter of each class with
// a check that `this` is one of its own live instances, else INVALID_ARGUMENT (CLOSED
// once freed), thrown, or rejected by the methods that return promises (which reject
// whatever they throw); `Symbol.dispose` is then each class's (guarded) `free`. Every
// entry module calls it after the other installs (the sink's), so it wraps them too.
const ASYNC = ["send", "sendAll", "flush", "close"];

export function guard(classes) {
  for (const [name, C] of Object.entries(classes)) {
    const P = C.prototype;
    for (const k of Reflect.ownKeys(P)) {
      const d = Object.getOwnPropertyDescriptor(P, k), f = d.get ?? d.value;
      if (k == "constructor") continue;
      d[d.get ? "get" : "value"] = function (...args) {
        const s = S.get(this), mine = s?.k === C;
        try {
          // A producer's state has no `h` of its own (never read through Object.prototype).
          if (mine && (C === Tributary ? s.h : !s.freed)) return f.apply(this, args);
          throw fail(mine ? "CLOSED" : "INVALID_ARGUMENT", `this is not a live ${name}`);
        } catch (e) {
          if (ASYNC.includes(k)) return Promise.reject(e);
          throw e;
        }
      };
      Object.defineProperty(P, k, d);
    }
    if (Symbol.dispose) P[Symbol.dispose] = P.free;
  }
}
