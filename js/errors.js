// The JS half of the package, imported by every entry module: TributaryError, the
// records' way into wasm and their promises, and the receiver checks.

/**
 * Every failure of tributary is a TributaryError: an Error with a stable `code`
 * (RECORD_TOO_LARGE, UNKNOWN_TOPIC, OFFSET_EVICTED, QUEUE_FULL, INVALID_ARGUMENT, ...).
 */
export class TributaryError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "TributaryError";
    this.code = code;
  }
}

// The records' way in and out, installed by every entry module (it lives in this module,
// which every entry already imports, so the runtimes' module lists stay as they are).
//
// `send` and `sendAll` write keys and values straight into the client's staging area in
// wasm memory (TextEncoder.encodeInto for strings, `set` for Uint8Array) and take them
// into the core with one call (`_push`), which returns the first of their tickets. What
// that path does not take (options, empty or detached buffers, lone surrogates, anything
// odd) goes through `_send` / `_sendAll`, which convert in wasm and name the error. The
// core's driver reports each poll to `settle` (`_hook`): per settled ticket its
// partition, offset and timestamp (or -1 and an error), read from a view of wasm memory,
// and the next deadline. The promises and RecordMetadata objects are made here; the
// poll is scheduled here, in one place: one microtask, one timer, per client.
const encoder = new TextEncoder();
const FLIGHT = Symbol("flight"), TOPIC = Symbol("topic");

/** The byte length `v` may take in UTF-8 (strings: at most 3 per UTF-16 unit), or -1
 * when the fast path does not take it. */
function room(v) {
  if (typeof v === "string") return v.length * 3;
  return v instanceof Uint8Array && ArrayBuffer.isView(v) && v.byteLength > 0 ? v.byteLength : -1;
}

/** Writes `v` (string or Uint8Array) at `at`; returns the bytes written, or -1 for a
 * string with a lone surrogate (refused, by the general path, with its message). */
function put(u8, at, v) {
  if (typeof v !== "string") {
    u8.set(v, at);
    return v.length;
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
  return j + encoder.encodeInto(j ? v.slice(j) : v, u8.subarray(at + j)).written;
}

/** What a ticket settles: one `send`'s promise (`out` null), or a `sendAll`'s (its
 * records' tickets from `first`; `left` to go). */
class Entry {
  constructor(topic, first, n, res, rej) {
    this.topic = topic;
    this.first = first;
    this.out = n < 0 ? null : new Array(n);
    this.left = n;
    this.failed = false;
    this.res = res;
    this.rej = rej;
  }
}

// One executor for every promise (no closure per record): it hands out the functions.
let R, J;
const grab = (a, b) => {
  R = a;
  J = b;
};

/** One client's records on their way: the entry of each ticket (from `base`). */
class Flight {
  constructor(client, memory, poll) {
    this.ref = new WeakRef(client); // the hook lives in wasm: no strong way back
    this.memory = memory;
    this.pollFn = poll;
    this.slots = [];
    this.base = 0;
    this.head = 0;
    this.queued = false;
    this.timer = undefined;
    this.due = Infinity;
    this.ptr = 0;
    this.cap = 0;
    this.dead = false; // the client closed: its staging area takes no more writes
    this.u8 = this.u32 = undefined;
    this.tick = () => {
      this.queued = false;
      this.poll();
    };
    this.alarm = () => {
      this.timer = undefined;
      this.due = Infinity;
      this.poll();
    };
    this.hook = (ptr, n, errors) => this.settle(ptr, n, errors);
  }
  poll() {
    const c = this.ref.deref();
    if (c?.__wbg_ptr) this.pollFn.call(c, false);
  }
  schedule() {
    if (!this.queued) {
      this.queued = true;
      queueMicrotask(this.tick);
    }
  }
  stop() {
    this.dead = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.due = Infinity;
  }
  /** The staging area of `producer`'s client with room for `need` bytes, as views
   * (re-taken when wasm memory grew: the old ones are detached then). */
  views(producer, need) {
    if (need > this.cap || !this.cap) {
      this.cap = Math.max(need, 2 * this.cap, 4096);
      this.ptr = stage.call(producer, this.cap);
      this.u8 = undefined;
    }
    if (this.u8 === undefined || this.u8.byteLength === 0) {
      this.u8 = new Uint8Array(this.memory.buffer, this.ptr, this.cap);
      this.u32 = new Uint32Array(this.memory.buffer, this.ptr, 2);
    }
    return this.u8;
  }
  one(ticket, topic) {
    const p = new Promise(grab);
    this.slots[ticket - this.base] = new Entry(topic, ticket, -1, R, J);
    this.schedule();
    return p;
  }
  group(first, n, topic) {
    const p = new Promise(grab);
    const e = new Entry(topic, first, n, R, J);
    if (n === 0) e.res(e.out);
    const { slots } = this;
    for (let i = first - this.base, end = i + n; i < end; i++) slots[i] = e;
    this.schedule();
    return p;
  }
  settle(ptr, n, errors) {
    const o = new Float64Array(this.memory.buffer, ptr, 2 + 4 * n);
    const { slots } = this;
    let x = 0;
    for (let k = 2, end = 2 + 4 * n; k < end; k += 4) {
      const t = o[k], i = t - this.base, p = o[k + 1], e = slots[i];
      const err = p < 0 ? errors[x++] : undefined;
      slots[i] = undefined;
      if (e === undefined) continue;
      if (p < 0) {
        if (e.out === null) e.rej(err);
        else {
          e.left--;
          if (!e.failed) {
            e.failed = true;
            e.rej(err);
          }
        }
      } else {
        const md = { topic: e.topic, partition: p, offset: o[k + 2], timestamp: o[k + 3] };
        if (e.out === null) e.res(md);
        else {
          e.out[t - e.first] = md;
          if (--e.left === 0 && !e.failed) e.res(e.out);
        }
      }
    }
    let h = this.head;
    while (h < slots.length && slots[h] === undefined) h++;
    if (h === slots.length) {
      this.base += h;
      slots.length = 0;
      h = 0;
    } else if (h > 1024 && h * 2 > slots.length) {
      slots.splice(0, h);
      this.base += h;
      h = 0;
    }
    this.head = h;
    if (o[1]) this.schedule();
    const d = o[0];
    if (d < this.due) {
      clearTimeout(this.timer);
      this.due = d;
      this.timer = setTimeout(this.alarm, Math.min(Math.max(0, d - Date.now()), 2 ** 31 - 1));
    }
  }
}

let stage, push;

export function installProducer(Tributary, TopicProducer, memory) {
  const T = Tributary.prototype, P = TopicProducer.prototype;
  const take = (proto, name) => {
    const f = proto[name];
    delete proto[name];
    return f;
  };
  const hook = take(T, "_hook"), poll = take(T, "_poll");
  stage = take(P, "_stage");
  push = take(P, "_push");
  const sendAny = take(P, "_send"), sendAllAny = take(P, "_sendAll");
  const { topicProducer, close } = T;
  T.topicProducer = function (topic, config) {
    const p = topicProducer.call(this, topic, config);
    let f = this[FLIGHT];
    if (f === undefined) {
      f = this[FLIGHT] = new Flight(this, memory, poll);
      hook.call(this, f.hook);
    }
    p[FLIGHT] = f;
    p[TOPIC] = topic;
    return p;
  };
  T.close = function () {
    const r = close.call(this);
    this[FLIGHT]?.stop();
    return r;
  };
  P.send = function send(key, value, options) {
    const f = this[FLIGHT];
    let t;
    try {
      const kn = key == null ? 0 : room(key), vn = room(value);
      if (options === undefined && kn >= 0 && vn >= 0 && !f.dead) {
        const u8 = f.views(this, 8 + kn + vn);
        const kw = key == null ? 0 : put(u8, 8, key);
        const kl = key == null ? 0 : kw + 1;
        const vl = kw < 0 ? -1 : put(u8, 7 + (kl || 1), value);
        if (vl < 0) t = sendAny.call(this, key, value, options);
        else {
          f.u32[0] = kl;
          f.u32[1] = vl;
          t = push.call(this, 1, (kl || 1) - 1 + vl, false);
        }
      } else {
        t = sendAny.call(this, key, value, options);
      }
    } catch (e) {
      return Promise.reject(e);
    }
    return f.one(t, this[TOPIC]);
  };
  // sendAll of anything, converted in wasm: its errors name the entry (`index`).
  const general = (producer, records) => {
    try {
      const [first, count] = sendAllAny.call(producer, records);
      return producer[FLIGHT].group(first, count, producer[TOPIC]);
    } catch (e) {
      return Promise.reject(e);
    }
  };
  P.sendAll = function sendAll(records) {
    const f = this[FLIGHT];
    // Each entry is read once, here (a getter may answer differently twice); whatever
    // throws while reading (a getter, a Proxy) goes the general path, which rejects with
    // INVALID_ARGUMENT.
    let n, ks, vs, size = 0;
    try {
      if (!Array.isArray(records)) throw 0;
      n = records.length;
      ks = new Array(n);
      vs = new Array(n);
      for (let i = 0; i < n; i++) {
        const e = records[i];
        if (!Array.isArray(e) || e.length > 2) throw 0;
        const k = (ks[i] = e[0]), v = (vs[i] = e[1]);
        const kn = k == null ? 0 : room(k), vn = room(v);
        if (kn < 0 || vn < 0) throw 0;
        size += kn + vn;
      }
    } catch {
      return general(this, records);
    }
    // A getter read above may have closed the client (then the general path says CLOSED).
    if (f.dead) return general(this, records);
    let first;
    try {
      const u8 = f.views(this, 8 * n + size);
      const words = new Uint32Array(f.memory.buffer, f.ptr, 2 * n);
      let at = 8 * n;
      for (let i = 0; i < n; i++) {
        const k = ks[i];
        let w = 0;
        if (k != null) {
          if ((w = put(u8, at, k)) < 0) return general(this, records);
          at += w++;
        }
        words[2 * i] = w;
        if ((w = put(u8, at, vs[i])) < 0) return general(this, records);
        words[2 * i + 1] = w;
        at += w;
      }
      first = push.call(this, n, at - 8 * n, true);
    } catch (e) {
      return Promise.reject(e);
    }
    return f.group(first, n, this[TOPIC]);
  };
}

// The classes' methods are wasm-bindgen's, which hand `this.__wbg_ptr` to wasm unchecked:
// called on another object (`TopicProducer.prototype.send.call(client)`, `{}`), they
// would read one object's memory as another's. `guard({ Tributary, TopicProducer })`
// wraps every method and getter of each class with a check that `this` is one of its own
// instances (made by the glue, which sets `__wbg_ptr`: a setter on the prototype notes
// them), else INVALID_ARGUMENT (CLOSED once freed), thrown, or rejected by the methods
// that return promises. Every entry module calls it after the other installs, so it wraps
// them too.
const ASYNC = ["send", "sendAll", "flush", "close"];

export function guard(classes) {
  for (const [name, C] of Object.entries(classes)) {
    const made = new WeakSet(), P = C.prototype;
    for (const k of Reflect.ownKeys(P)) {
      const d = Object.getOwnPropertyDescriptor(P, k), f = d.get ?? d.value;
      if (k == "constructor") continue;
      d[d.get ? "get" : "value"] = function (...args) {
        if (made.has(this) && this.__wbg_ptr) return f.apply(this, args);
        const e = new TributaryError(made.has(this) ? "CLOSED" : "INVALID_ARGUMENT", `this is not a live ${name}`);
        if (ASYNC.includes(k)) return Promise.reject(e);
        throw e;
      };
      Object.defineProperty(P, k, d);
    }
    Object.defineProperty(P, "__wbg_ptr", {
      set(v) {
        made.add(this);
        Object.defineProperty(this, "__wbg_ptr", { value: v, writable: true });
      },
    });
  }
}
