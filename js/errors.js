// The JS half of the package, imported by every entry module: TributaryError, and
// sendAll's packed fast path.

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

// sendAll's fast path, installed by every entry module (it lives in this module, which
// every entry already imports, so the runtimes' module lists stay as they are): when each entry is a plain
// [key, value] pair of well-formed strings (key null/undefined for none), the keys and
// values are encoded into one buffer here and cross into wasm in one copy (sendPacked);
// the RecordMetadata objects are built here from the Float64Array of results. Anything
// else (bytes, options, bad input) takes the general path, whose errors name the entry.
const encoder = new TextEncoder();

export function installPackedSendAll(TopicProducer) {
  const general = TopicProducer.prototype.sendAll;
  TopicProducer.prototype.sendAll = function sendAll(records) {
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
        if (typeof v !== "string" || !v.isWellFormed()) throw 0;
        if (k != null && (typeof k !== "string" || !k.isWellFormed())) throw 0;
        // UTF-8 takes at most 3 bytes per UTF-16 unit: room first, exact lengths below.
        size += (k == null ? 0 : k.length * 3) + v.length * 3;
      }
    } catch {
      return general.call(this, records);
    }
    const lens = new Uint32Array(n * 2);
    let buf = new Uint8Array(size);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const k = ks[i], v = vs[i];
      if (k == null) {
        lens[2 * i] = 0;
      } else {
        const w = encoder.encodeInto(k, buf.subarray(at)).written;
        lens[2 * i] = w + 1;
        at += w;
      }
      const w = encoder.encodeInto(v, buf.subarray(at)).written;
      lens[2 * i + 1] = w;
      at += w;
    }
    const topic = this.topic;
    return this.sendPacked(buf.subarray(0, at), lens).then((r) => {
      const out = new Array(n);
      for (let i = 0; i < n; i++) {
        out[i] = { topic, partition: r[3 * i], offset: r[3 * i + 1], timestamp: r[3 * i + 2] };
      }
      return out;
    });
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
const ASYNC = ["send", "sendAll", "sendPacked", "flush", "close"];

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
