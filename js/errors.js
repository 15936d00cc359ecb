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
    if (!Array.isArray(records)) return general.call(this, records);
    const n = records.length;
    const lens = new Uint32Array(n * 2);
    let size = 0;
    for (let i = 0; i < n; i++) {
      const e = records[i];
      if (!Array.isArray(e) || e.length > 2) return general.call(this, records);
      const [k, v] = e;
      if (typeof v !== "string" || !v.isWellFormed()) return general.call(this, records);
      if (k != null && (typeof k !== "string" || !k.isWellFormed())) return general.call(this, records);
      // UTF-8 takes at most 3 bytes per UTF-16 unit: room first, exact lengths below.
      size += (k == null ? 0 : k.length * 3) + v.length * 3;
    }
    let buf = new Uint8Array(size);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const [k, v] = records[i];
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
