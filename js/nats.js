// The sink's wire: NATS over a WebSocket, in JS. The core (wasm) decides what to deliver
// and when (window, cursors, resends, retry budget, backoff: src/sink.rs); this module
// speaks the protocol (INFO / CONNECT / PING / PONG, HPUB with headers, PubAck JSON,
// -ERR), signs nkey nonces with WebCrypto Ed25519, provisions the stream, and owns the
// socket and the timer. It installs `Tributary.prototype.connect` and the `Sink` class.
//
// The core talks through `sinkDo`, each event's answer one byte buffer of what
// to do (little-endian): 1 OPEN server:u32 | 2 CLOSE | 3 PING | 4 PUB partition:u32
// offset:f64 timestamp:f64 keyLen:i32 (-1 none) valueLen:u32 headers:u32
// {nameLen:u32 valueLen:u32}* key value {name value}* | 5 ACKED partition:u32
// cursor:f64 seq:f64 ranges:u32 {from:f64 to:f64}* | 6 GIVEN_UP partition:u32 offset:f64
// | 0 END state:u8 cause:u8 server:u32 deadline:f64 (NaN: none).
import { TributaryError } from "./errors.js";

const enc = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });
const latin = new TextDecoder("latin1");
const text = new TextDecoder();
const STATES = ["connecting", "connected", "reconnecting", "offline", "failed", "closed"];
// sinkDo kinds (src/bindings/sink.rs).
const POLL = 0, UP = 1, CLOSED = 2, PONG = 3, PAUSE = 4, RESUME = 5, CLOSE = 6, TOO_LARGE = 7, NAK = 8, FAIL = 9;
const ACKS = 10, STATS = 11, MARKS = 12, MARKS_APPENDED = 13, BACKLOG = 14;
const none = new Float64Array(0);
/** Numbers the core answers (little-endian f64s), or undefined when the sink is gone. */
const numbers = (s, kind) => {
  const b = s.client.sinkDo(s.id, kind, 0, 0, none);
  return b && new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);
};
/** The largest message the client takes from a server, whatever its INFO announces. */
export const MAX_INBOUND = 64 * 1024;
const MAX_LINE = 4096;
const CRLF = "\r\n";

const fail = (code, message) => new TributaryError(code, message);
const bad = (field, reason) => fail("INVALID_CONFIG", `invalid config \`${field}\`: ${reason}`);
const own = (o, k) => (Object.hasOwn(o, k) ? o[k] : undefined);
const isText = (v) => typeof v === "string" && v.isWellFormed();

// ---- options ---------------------------------------------------------------------------

function str(o, k) {
  const v = own(o, k);
  if (v === undefined) return undefined;
  if (!isText(v)) throw bad(k, typeof v === "string" ? "is a string with a lone UTF-16 surrogate" : "must be a string");
  return v;
}

function int(o, k, max) {
  const v = own(o, k);
  if (v === undefined) return undefined;
  if (typeof v !== "number") throw bad(k, `${k} must be a number`);
  if (!Number.isInteger(v)) throw bad(k, `${k} must be a whole number${Number.isNaN(v) ? ", got NaN" : ""}`);
  if (v < 0 || v > max) throw bad(k, `${k} must be 0..=${max}`);
  return v;
}

function fn(o, k) {
  const v = own(o, k);
  if (v !== undefined && typeof v !== "function") throw bad(k, "must be a function");
  return v;
}

const badSubject = (s, wild) =>
  !s || /[\s\x00-\x1f\x7f]/.test(s) || s.split(".").some((t, i, a) => !t || (!wild && (t === "*" || t === ">")) || (t === ">" && i < a.length - 1));

/** Reads and checks `connect`'s options (own properties only); the core checks the numbers it keeps. */
export function sinkOptions(topic, o) {
  if (typeof o !== "object" || o === null) throw bad("options", "connect needs { servers: [url, ...] }");
  const servers = [];
  const list = own(o, "servers");
  if (list !== undefined) {
    if (!Array.isArray(list)) throw bad("servers", "must be an array of URLs");
    for (const s of list) {
      if (!isText(s)) throw bad("servers", "must be an array of URLs");
      servers.push(s);
    }
  }
  const one = str(o, "server");
  if (one !== undefined) servers.push(one);
  if (!servers.length) throw bad("servers", "at least one server URL is needed");
  for (const s of servers) {
    const m = /^wss?:\/\/([^/?#]*)/.exec(s);
    if (!m || s.length === m[0].length - m[1].length || /\s/.test(s)) throw bad("servers", "each must be a ws:// or wss:// URL");
    // Credentials go in their own options, never in a URL (errors, stats and the runtime's own messages show URLs).
    if (m[1].includes("@")) throw bad("servers", "no user information in URLs: give token, user/pass, creds or nkeySeed");
  }
  const stream = str(o, "stream") ?? topic;
  if (!stream || enc.encode(stream).length > 255 || /[\s\x00-\x1f\x7f.*>/\\]/.test(stream)) throw bad("stream", "not a valid JetStream stream name");
  const prefix = str(o, "subjectPrefix") ?? topic;
  if (badSubject(prefix)) throw bad("subjectPrefix", "not a valid NATS subject");
  const inbox = str(o, "inboxPrefix") ?? "_INBOX";
  if (badSubject(inbox)) throw bad("inboxPrefix", "not a valid NATS subject");
  const token = str(o, "token"), user = str(o, "user"), pass = str(o, "pass"), creds = str(o, "creds"), seed = str(o, "nkeySeed");
  const given = [token, user, creds, seed].filter((x) => x !== undefined).length;
  if (given > 1) throw bad("credentials", "give one of token, user/pass, creds, nkeySeed");
  let auth = {};
  if (token !== undefined) auth = { auth_token: token };
  else if (user !== undefined) auth = { user, pass: pass ?? "" };
  else if (creds !== undefined) auth = parseCreds(creds);
  else if (seed !== undefined) {
    const s = decodeSeed(seed);
    if (!s) throw bad("nkeySeed", "is not a valid user nkey seed");
    auth = { seed: s };
  }
  const delivery = str(o, "delivery") ?? "at-least-once";
  if (delivery !== "at-least-once" && delivery !== "at-most-once") throw bad("delivery", "must be at-least-once or at-most-once");
  const SAFE = Number.MAX_SAFE_INTEGER, U32 = 4294967295;
  const msgIdPrefix = str(o, "msgIdPrefix");
  if (msgIdPrefix !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(msgIdPrefix)) throw bad("msgIdPrefix", "1..=64 of A-Z a-z 0-9 - _");
  const provision = own(o, "provision");
  if (provision !== undefined && typeof provision !== "boolean") throw bad("provision", "must be true or false");
  let WS = fn(o, "WebSocket") ?? globalThis.WebSocket;
  if (typeof WS !== "function") throw bad("WebSocket", "this runtime has no global WebSocket: pass one (the ws package on Node 20)");
  const closeTimeoutMs = int(o, "closeTimeoutMs", SAFE);
  return {
    servers, stream, prefix, inbox, auth, msgIdPrefix, WS,
    atLeastOnce: delivery === "at-least-once",
    maxRetries: int(o, "maxRetries", U32),
    ackTimeoutMs: int(o, "ackTimeoutMs", SAFE) ?? 5000,
    connectTimeoutMs: int(o, "connectTimeoutMs", SAFE) ?? 10000,
    backoffInitialMs: int(o, "backoffInitialMs", SAFE) ?? 100,
    backoffMaxMs: int(o, "backoffMaxMs", SAFE) ?? 5000,
    maxInFlight: int(o, "maxInFlight", U32) ?? 1024,
    duplicateWindowMs: int(o, "duplicateWindowMs", SAFE) ?? 120000,
    closeTimeoutMs: closeTimeoutMs ?? 5000,
    provision: provision === true,
    name: str(o, "name"),
    onAck: fn(o, "onAck"),
    onStateChange: fn(o, "onStateChange"),
  };
}

// ---- nkeys and .creds (nkey seeds: base32 with a CRC-16/XMODEM; Ed25519 via WebCrypto) --

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function crc16(bytes) {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

function b32decode(text) {
  const out = [];
  let bits = 0, held = 0;
  for (const c of text) {
    const v = B32.indexOf(c);
    if (v < 0) return null;
    bits = ((bits << 5) | v) & 0xffff;
    held += 5;
    if (held >= 8) {
      held -= 8;
      out.push((bits >> held) & 0xff);
    }
  }
  return Uint8Array.from(out);
}

function b32encode(bytes) {
  let out = "", bits = 0, held = 0;
  for (const b of bytes) {
    bits = ((bits << 8) | b) & 0xffff;
    held += 8;
    while (held >= 5) {
      held -= 5;
      out += B32[(bits >> held) & 31];
    }
  }
  if (held > 0) out += B32[(bits << (5 - held)) & 31];
  return out;
}

const withCrc = (body) => {
  const c = crc16(body);
  return Uint8Array.from([...body, c & 0xff, c >> 8]);
};

/** A user nkey seed (`SU...`): its 32 seed bytes, or null. */
export function decodeSeed(text) {
  const raw = b32decode(text.trim());
  if (!raw || raw.length !== 36) return null;
  const body = raw.subarray(0, 34), c = crc16(body);
  if (raw[34] !== (c & 0xff) || raw[35] !== c >> 8) return null;
  // Seed prefix 18 << 3, then the user prefix 20 << 3 split across two bytes.
  if ((body[0] & 0xf8) !== 18 << 3 || (((body[0] & 7) << 5) | ((body[1] & 0xf8) >> 3)) !== 20 << 3) return null;
  return body.slice(2);
}

/** The public user nkey (`U...`) of a 32-byte Ed25519 key. */
export const publicNkey = (key) => b32encode(withCrc([20 << 3, ...key]));

function parseCreds(text) {
  let jwt, seed;
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (!(l.startsWith("---") && l.includes("BEGIN"))) continue;
    let j = i + 1;
    while (j < lines.length && !lines[j]) j++;
    const content = lines[j] ?? "";
    if (content.startsWith("---")) continue;
    if (l.includes("JWT") && jwt === undefined) jwt = content;
    else if (l.includes("SEED") && seed === undefined) seed = content;
  }
  const parts = jwt?.split(".");
  const s = seed === undefined ? null : decodeSeed(seed);
  if (!parts || parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_=-]+$/.test(p)) || !s) {
    throw bad("creds", "is not a valid .creds file (JWT and seed)");
  }
  return { jwt, seed: s };
}

export const b64url = (bytes) => {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

const fromB64url = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

/** Signs `nonce` with the seed (WebCrypto Ed25519): [signature, public key]. */
async function sign(seed, nonce) {
  const pkcs8 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20, ...seed]);
  const key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
  const [sig, jwk] = await Promise.all([crypto.subtle.sign("Ed25519", key, enc.encode(nonce)), crypto.subtle.exportKey("jwk", key)]);
  return [new Uint8Array(sig), fromB64url(jwk.x)];
}

// ---- the inbound parser ----------------------------------------------------------------

/**
 * NATS server operations from bytes in any split. `push` returns the operations complete
 * so far: `{ op: "INFO", info }`, `{ op: "MSG", subject, reply, status, headers, data }`,
 * `{ op: "PING" | "PONG" | "OK" }`, `{ op: "ERR", text }`, or, for bytes that are not NATS
 * (or a message over MAX_INBOUND), a last `{ op: "BAD" }` after which it takes nothing. It
 * never throws.
 */
export class Parser {
  constructor(max = MAX_INBOUND) {
    this.buf = new Uint8Array(0);
    this.max = max;
    this.dead = false;
  }

  push(chunk) {
    const out = [];
    if (this.dead) return out;
    let b = this.buf;
    if (b.length) {
      const n = new Uint8Array(b.length + chunk.length);
      n.set(b);
      n.set(chunk, b.length);
      b = n;
    } else b = chunk;
    let at = 0;
    try {
      for (;;) {
        const lf = b.indexOf(10, at);
        if (lf < 0) {
          if (b.length - at > MAX_LINE) throw 0;
          break;
        }
        if (lf - at > MAX_LINE || b[lf - 1] !== 13 || lf === at) throw 0;
        const line = latin.decode(b.subarray(at, lf - 1));
        const sp = line.indexOf(" ");
        const verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
        const args = sp < 0 ? "" : line.slice(sp + 1);
        if (verb === "MSG" || verb === "HMSG") {
          const a = args.trim().split(/[ \t]+/);
          const h = verb === "HMSG";
          if (a.length !== (h ? 5 : 4) && a.length !== (h ? 4 : 3)) throw 0;
          const nums = a.slice(h ? -2 : -1).map((x) => (/^\d{1,10}$/.test(x) ? +x : NaN));
          const total = nums[nums.length - 1], hdr = h ? nums[0] : 0;
          if (!(total <= this.max) || !(hdr <= total)) throw 0;
          const end = lf + 1 + total + 2;
          if (b.length < end) break;
          if (b[end - 2] !== 13 || b[end - 1] !== 10) throw 0;
          const body = b.subarray(lf + 1, lf + 1 + total);
          const m = { op: "MSG", subject: a[0], reply: a.length === (h ? 5 : 4) ? a[2] : "", status: 0, data: body.slice(hdr) };
          if (h) {
            const head = latin.decode(body.subarray(0, hdr));
            if (!head.startsWith("NATS/1.0")) throw 0;
            m.status = parseInt(head.slice(8, 13), 10) || 0;
            m.headers = head;
          }
          out.push(m);
          at = end;
          continue;
        }
        at = lf + 1;
        if (verb === "INFO") {
          const info = JSON.parse(utf8.decode(b.subarray(at - line.length - 2 + sp + 1, lf - 1)));
          if (typeof info !== "object" || info === null || Array.isArray(info)) throw 0;
          out.push({ op: "INFO", info });
        } else if (verb === "PING" || verb === "PONG" || verb === "+OK") {
          if (args.trim()) throw 0;
          out.push({ op: verb === "+OK" ? "OK" : verb });
        } else if (verb === "-ERR") {
          out.push({ op: "ERR", text: args.trim().replace(/^'|'$/g, "").trim() });
        } else throw 0;
      }
      this.buf = at < b.length ? b.slice(at) : new Uint8Array(0);
    } catch {
      this.dead = true;
      this.buf = new Uint8Array(0);
      out.push({ op: "BAD" });
    }
    return out;
  }
}

// ---- outbound bytes -----------------------------------------------------------------------

class Writer {
  constructor() {
    this.b = new Uint8Array(4096);
    this.n = 0;
  }
  room(k) {
    if (this.n + k > this.b.length) {
      const b = new Uint8Array(Math.max(this.b.length * 2, this.n + k));
      b.set(this.b.subarray(0, this.n));
      this.b = b;
    }
  }
  text(s) {
    this.room(s.length * 3);
    this.n += enc.encodeInto(s, this.b.subarray(this.n)).written;
  }
  bytes(u) {
    this.room(u.length);
    this.b.set(u, this.n);
    this.n += u.length;
  }
  take() {
    const r = this.b.slice(0, this.n);
    this.n = 0;
    return r;
  }
}

/** The bytes as a header value: UTF-8 text with no control characters or edge blanks, else null. */
function headerText(b) {
  let s;
  try {
    s = utf8.decode(b);
  } catch {
    return null;
  }
  return /\p{Cc}/u.test(s) || s.trim() !== s ? null : s;
}

// A record header never speaks for the sink: a name JetStream or this encoding reads
// (`Nats-*`, `Tributary-*`, `*-Base64`, any case), or that is not a NATS header name, is
// carried as `Tributary-Header-Base64: <name>:<value>`, both base64url.
const reserved = (n) => !/^[!-9;-~]+$/.test(n) || /^(nats-|tributary-)|-base64$/i.test(n);

// ---- the sink ---------------------------------------------------------------------------

const sinks = new WeakMap(); // Sink -> its state
const clientSinks = new WeakMap(); // Tributary -> Set of states
const prefixes = new WeakMap(); // Tributary -> its msgIdPrefix (stable for the client's life)

function randomHex() {
  const a = new Uint32Array(2);
  crypto.getRandomValues(a);
  return [...a].map((x) => x.toString(16).padStart(8, "0")).join("");
}

/** A sink: delivers one topic's records into NATS JetStream over a WebSocket. Made by `Tributary.connect`. */
export class Sink {
  constructor(key) {
    if (key !== sinks) throw fail("INVALID_ARGUMENT", "a Sink is made by Tributary.connect");
  }

  /** "connecting", "connected", "reconnecting", "offline" (paused), "failed" or "closed". */
  get state() {
    return STATES[me(this).state];
  }

  /** The error that stopped the sink ("failed"), or the last one it is retrying past; null when there is none. */
  get error() {
    return me(this).error;
  }

  /** Counters: published, acked, duplicates, resent, timeouts, errors, failedRecords, connects, disconnects, inFlight; state and server. */
  stats() {
    const s = me(this);
    const v = (!s.gone && numbers(s, STATS)) || s.last || new Float64Array(10);
    s.last = v;
    const names = ["published", "acked", "duplicates", "resent", "timeouts", "errors", "failedRecords", "connects", "disconnects", "inFlight"];
    const o = {};
    names.forEach((n, i) => (o[n] = v[i]));
    o.state = STATES[s.state];
    o.server = s.cfg.servers[s.server];
    return o;
  }

  /** Resolves when every record appended before the call is acknowledged; rejects with `undelivered` otherwise (see README). */
  flush(options) {
    let s, timeout;
    try {
      s = me(this);
      if (options !== undefined && (typeof options !== "object" || options === null)) throw fail("INVALID_ARGUMENT", "options must be an object");
      if (options) timeout = own(options, "timeoutMs");
      if (timeout !== undefined && (typeof timeout !== "number" || !Number.isInteger(timeout) || timeout < 0 || timeout > 2147483647)) {
        throw fail("INVALID_ARGUMENT", "timeoutMs must be 0..=2147483647");
      }
    } catch (e) {
      return Promise.reject(e);
    }
    return wait(s, timeout, true);
  }

  /** Goes offline: closes the connection and stays down until `resume()`. */
  pause() {
    drive(me(this), PAUSE);
  }

  /** Comes back online after `pause()`: connects at once. */
  resume() {
    drive(me(this), RESUME);
  }

  /**
   * Closes the sink. A sink that is connecting or connected first waits for delivery of
   * what was appended, up to `timeoutMs` (default: the `closeTimeoutMs` option, 5000);
   * records still not delivered then are reported: `onStateChange("closed", error)` and
   * `sink.error` carry a SINK_CLOSED error with `undelivered`. Pending flushes reject
   * with SINK_CLOSED. Unacknowledged records stay in the log for a later `connect`.
   */
  async close(options) {
    const s = me(this);
    let t = options && typeof options === "object" ? own(options, "timeoutMs") : undefined;
    if (t !== undefined && !(Number.isInteger(t) && t >= 0)) throw fail("INVALID_ARGUMENT", "timeoutMs must be a whole number of ms");
    await closeSink(s, t ?? s.cfg.closeTimeoutMs);
  }
}

function me(sink) {
  const s = sinks.get(sink);
  if (!s) throw fail("INVALID_ARGUMENT", "not a Sink");
  return s;
}

/** Installs `connect` on Tributary and wraps `flush` / `close` to wait for sinks. */
export function installSink(Tributary, TopicProducer) {
  const { flush, close } = Tributary.prototype;
  Object.defineProperty(Tributary.prototype, "connect", {
    configurable: true, writable: true,
    /** Connects `topic` to NATS JetStream over a WebSocket (options: README, SinkOptions). */
    value: function connect(topic, options) {
      this.sinkCheck(topic);
      const cfg = sinkOptions(topic, options);
      if (cfg.msgIdPrefix === undefined) {
        if (!prefixes.has(this)) prefixes.set(this, randomHex());
        cfg.msgIdPrefix = prefixes.get(this);
      }
      const sink = new Sink(sinks);
      const s = {
        sink, cfg, client: this, id: 0, state: 0, error: null, server: 0, gen: 0, ws: null, phase: "", parser: null,
        info: null, maxPayload: 1 << 20, acked: [], targets: [], waiters: [], given: [], settles: 0, q: [], busy: false,
        calls: [], timer: null, due: Infinity, deadline: NaN, provAsked: 0, gone: false, last: null, woken: false, cause: 0,
      };
      const wake = () => {
        if (s.woken || s.gone) return;
        s.woken = true;
        queueMicrotask(() => {
          s.woken = false;
          drive(s, POLL);
        });
      };
      const nums = Float64Array.of(cfg.servers.length, cfg.atLeastOnce ? 1 : 0, cfg.maxRetries ?? -1, cfg.ackTimeoutMs,
        cfg.connectTimeoutMs, cfg.backoffInitialMs, cfg.backoffMaxMs, cfg.maxInFlight);
      const info = this.sinkOpen(topic, nums, wake);
      s.id = info[0];
      s.parts = info[1];
      s.topicInfo = info;
      s.acked = Array.from(numbers(s, MARKS).subarray(s.parts));
      sinks.set(sink, s);
      let set = clientSinks.get(this);
      if (!set) clientSinks.set(this, (set = new Set()));
      set.add(s);
      drive(s, POLL);
      return sink;
    },
  });
  const waitAll = async (client) => {
    for (;;) {
      const live = [...(clientSinks.get(client) ?? [])].filter((s) => !s.gone);
      if (!live.length) return;
      await Promise.all(live.map((s) => wait(s, undefined, false)));
      if (!live[0].client.sinkDo(live[0].id, BACKLOG, 0, 0, none)?.[0]) return;
      flush.call(client);
    }
  };
  Tributary.prototype.flush = async function () {
    await flush.call(this);
    await waitAll(this);
  };
  const { topicProducer } = Tributary.prototype;
  const owners = new WeakMap(); // TopicProducer -> its client
  Tributary.prototype.topicProducer = function (...args) {
    const p = topicProducer.apply(this, args);
    owners.set(p, this);
    return p;
  };
  const producerFlush = TopicProducer.prototype.flush;
  TopicProducer.prototype.flush = function () {
    const c = owners.get(this);
    return c ? c.flush() : producerFlush.call(this);
  };
  Tributary.prototype.close = async function (options) {
    const t = options && typeof options === "object" ? own(options, "timeoutMs") : undefined;
    flush.call(this);
    const live = [...(clientSinks.get(this) ?? [])];
    await Promise.all(live.map((s) => closeSink(s, t ?? s.cfg.closeTimeoutMs)));
    return close.call(this);
  };
}

async function closeSink(s, timeoutMs) {
  if (s.gone) return;
  // Waits only for a sink that may deliver now: connecting (first attempt) or connected.
  if (timeoutMs > 0 && (s.state === 0 || s.state === 1)) {
    try {
      numbers(s, MARKS_APPENDED);
    } catch {}
    await wait(s, timeoutMs, false).catch(() => {});
  }
  const marks = s.gone ? null : numbers(s, MARKS);
  if (!marks) return gone(s);
  const missing = undelivered(s, marks.subarray(0, s.parts), false);
  if (missing.length) {
    const e = fail("SINK_CLOSED", "the sink was closed before the records were acknowledged");
    e.undelivered = missing;
    s.error = e;
  }
  s.last = numbers(s, STATS) ?? s.last;
  drive(s, CLOSE);
}

// ---- flush waiters ----------------------------------------------------------------------

function wait(s, timeoutMs, own) {
  if (s.gone) return Promise.resolve();
  let targets;
  try {
    targets = Array.from(numbers(s, own ? MARKS_APPENDED : MARKS).subarray(0, s.parts));
  } catch {
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    let remaining = 0;
    targets.forEach((t, p) => (remaining += s.acked[p] < t ? 1 : 0));
    const w = { targets, remaining, created: s.settles, deadline: timeoutMs === undefined ? Infinity : Date.now() + timeoutMs, resolve, reject };
    s.waiters.push(w);
    settle(s);
    arm(s);
  });
}

/** What a flush with these targets lacks: unacknowledged ranges, and given-up ones (each reported once). */
function undelivered(s, targets, w) {
  const out = [];
  targets.forEach((t, p) => {
    if (s.acked[p] < t) out.push({ partition: p, fromOffset: s.acked[p], toOffset: t });
  });
  if (w) {
    for (const g of s.given) {
      if (g.from < targets[g.p] && (g.at === null || g.at >= w.created)) {
        out.push({ partition: g.p, fromOffset: g.from, toOffset: Math.min(g.to, targets[g.p]) });
        g.at ??= s.settles;
      }
    }
  }
  return out;
}

function settle(s) {
  if (!s.waiters.length) return;
  const now = Date.now(), stopped = s.state === 4 || s.state === 5;
  let settled = false;
  s.waiters = s.waiters.filter((w) => {
    const reached = w.remaining === 0;
    if (!(reached || stopped || now >= w.deadline)) return true;
    settled = true;
    const missing = undelivered(s, w.targets, w);
    if (!missing.length) {
      w.resolve();
      return false;
    }
    const e = reached
      ? fail("SINK_UNDELIVERED", "some records were given up (see `undelivered`)")
      : s.state === 5
        ? fail("SINK_CLOSED", "the sink was closed before the records were acknowledged")
        : stopped
          ? s.error ?? fail("SINK_CLOSED", "the sink was closed before the records were acknowledged")
          : fail("SINK_TIMEOUT", "the server did not answer in time");
    const out = stopped && !reached && s.state !== 5 && s.error ? copyError(s.error) : e;
    out.undelivered = missing;
    if (s.error) out.cause = s.error;
    w.reject(out);
    return false;
  });
  if (settled) s.settles++;
}

const copyError = (e) => fail(e.code, e.message);

// ---- driving the core ------------------------------------------------------------------

function drive(s, kind, p = 0, o = 0) {
  if (s.gone) return;
  s.q.push([kind, p, o]);
  if (s.busy) return;
  s.busy = true;
  try {
    while (s.q.length && !s.gone) {
      const [k, a, b] = s.q.shift();
      let out;
      try {
        out = k === ACKS ? s.client.sinkDo(s.id, ACKS, 0, 0, a) : s.client.sinkDo(s.id, k, a, b, none);
      } catch {
        out = null; // the client is closed: the sink is gone
      }
      apply(s, out);
    }
  } finally {
    s.busy = false;
    s.q.length = 0;
  }
  const calls = s.calls;
  s.calls = [];
  for (const [f, x, y] of calls) {
    try {
      f(x, y);
    } catch {} // a callback's own failure is not the sink's
  }
}

function apply(s, out) {
  const before = s.state;
  if (!out) {
    gone(s);
  } else {
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const w = new Writer();
    const progress = [];
    const large = [];
    let at = 0;
    const u32 = () => ((at += 4), v.getUint32(at - 4, true));
    const f64 = () => ((at += 8), v.getFloat64(at - 8, true));
    for (;;) {
      const op = out[at++];
      if (op === 0) {
        s.state = out[at++];
        const cause = out[at++];
        s.server = u32();
        s.deadline = f64();
        if (cause && cause !== s.cause) s.error = fail("SINK_TIMEOUT", "the server did not answer in time");
        s.cause = cause;
        break;
      } else if (op === 1) {
        open(s, u32());
      } else if (op === 2) {
        drop(s);
      } else if (op === 3) {
        w.text("PING\r\n");
      } else if (op === 4) {
        const p = u32(), offset = f64(), ts = f64(), kl = v.getInt32(at, true);
        at += 4;
        const vl = u32(), nh = u32(), lens = [];
        for (let i = 0; i < nh; i++) lens.push(u32(), u32());
        const key = kl < 0 ? null : out.subarray(at, (at += kl));
        const value = out.subarray(at, (at += vl));
        const hs = [];
        for (let i = 0; i < nh; i++) hs.push([out.subarray(at, (at += lens[2 * i])), out.subarray(at, (at += lens[2 * i + 1]))]);
        if (!hpub(s, w, p, offset, ts, key, value, hs)) large.push(p, offset);
      } else if (op === 5) {
        const p = u32(), cursor = f64(), seq = f64(), n = u32();
        const item = { partition: p, ackedOffset: cursor, streamSeq: seq };
        if (n) item.givenUp = [];
        for (let i = 0; i < n; i++) item.givenUp.push({ partition: p, fromOffset: f64(), toOffset: f64() });
        const old = s.acked[p];
        s.acked[p] = cursor;
        for (const wt of s.waiters) if (wt.targets[p] > old && wt.targets[p] <= cursor) wt.remaining--;
        progress.push(item);
      } else if (op === 6) {
        const p = u32(), offset = f64();
        s.given.push({ p, from: offset, to: offset + 1, at: null });
        s.error = fail("SINK_UNDELIVERED", `record ${offset} of partition ${p} was not delivered`);
      } else {
        break; // not ours: stop reading
      }
    }
    if (w.n) send(s, w.take());
    for (let i = 0; i < large.length; i += 2) s.q.push([TOO_LARGE, large[i], large[i + 1]]);
    if (progress.length && s.cfg.onAck) s.calls.push([s.cfg.onAck, progress, undefined]);
  }
  if (s.state === 5) gone(s);
  if (s.state !== before && s.cfg.onStateChange) s.calls.push([s.cfg.onStateChange, STATES[s.state], s.error ?? undefined]);
  settle(s);
  arm(s);
}

function gone(s) {
  if (s.gone) return;
  s.gone = true;
  s.state = 5;
  detach(s);
  clearTimeout(s.timer);
  s.timer = null;
  clientSinks.get(s.client)?.delete(s);
}

function arm(s) {
  if (s.gone) return;
  let due = Number.isNaN(s.deadline) ? Infinity : s.deadline;
  if (s.phase === "provision") due = Math.min(due, s.provAsked + s.cfg.ackTimeoutMs);
  for (const w of s.waiters) due = Math.min(due, w.deadline);
  if (due === s.due && s.timer) return;
  clearTimeout(s.timer);
  s.timer = null;
  s.due = due;
  if (due === Infinity) return;
  s.timer = setTimeout(() => {
    s.timer = null;
    s.due = Infinity;
    if (s.phase === "provision" && Date.now() >= s.provAsked + s.cfg.ackTimeoutMs) provisionAsk(s);
    drive(s, POLL);
  }, Math.max(0, Math.min(due - Date.now(), 2147483647)));
}

// ---- the socket -------------------------------------------------------------------------

const reasonOf = (e) => {
  try {
    const m = e?.message;
    if (typeof m === "string" && m) return m;
    const m2 = e?.error?.message;
    return typeof m2 === "string" ? m2 : "";
  } catch {
    return "";
  }
};

const clean = (r) => [...r].slice(0, 200).map((c) => (/\p{Cc}/u.test(c) ? " " : c)).join("");

function detach(s) {
  const ws = s.ws;
  s.ws = null;
  s.gen++;
  s.phase = "";
  if (!ws) return;
  try {
    ws.onmessage = ws.onclose = null;
    // Errors may still come while it closes, and the `ws` package throws errors nobody listens for.
    ws.onerror = () => {};
  } catch {}
  try {
    // With a status code: a close frame without one, nats-server answers with status
    // 1005, which may not be sent (browsers log "a broken close frame", `ws` errors).
    ws.close(1000);
  } catch {}
}

function drop(s) {
  detach(s);
}

function open(s, server) {
  detach(s);
  const url = s.cfg.servers[server];
  const gen = s.gen;
  s.phase = "opening";
  s.parser = new Parser();
  s.maxPayload = 1 << 20; // until this server's INFO says
  s.reason = "";
  s.url = url;
  let ws;
  try {
    ws = new s.cfg.WS(url);
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => gen === s.gen && safely(s, () => data(s, e.data));
    ws.onclose = (e) => gen === s.gen && safely(s, () => closed(s, e));
    // An error is followed by a close; the close does the work, the error says why.
    ws.onerror = (e) => {
      if (gen === s.gen && s.phase === "opening") s.reason = clean(reasonOf(e));
    };
    s.ws = ws;
  } catch (e) {
    // A constructor or a socket that throws (a frozen object, a bad URL for this runtime).
    s.ws = ws ?? null;
    detach(s);
    s.error = fail("SINK_CONNECT", `could not connect to ${url}: ${clean(reasonOf(e)) || "the WebSocket could not be made"}`);
    s.q.push([CLOSED, 0, 0]);
  }
}

function safely(s, f) {
  try {
    f();
  } catch (e) {
    // Nothing a server sends may throw out of a socket handler: a protocol failure.
    lost(s, fail("SINK_PROTOCOL", "the server broke the NATS protocol or closed with an error"));
  }
}

function closed(s, e) {
  let why;
  if (s.phase === "opening") {
    why = fail("SINK_CONNECT", `could not connect to ${s.url}${s.reason ? `: ${s.reason}` : " (the connection closed before the server spoke)"}`);
  } else {
    const code = typeof e?.code === "number" ? ` (code ${e.code}${typeof e?.reason === "string" && e.reason ? `: ${clean(e.reason)}` : ""})` : "";
    why = fail("SINK_DISCONNECTED", `the connection to ${s.url} closed${code}`);
  }
  lost(s, why);
}

/** The connection is gone for `why`: the core reconnects. */
function lost(s, why) {
  detach(s);
  s.error = why;
  drive(s, CLOSED);
}

function stop(s, why) {
  detach(s);
  s.error = why;
  drive(s, FAIL);
}

function send(s, bytes) {
  try {
    s.ws.send(bytes);
    return true;
  } catch (e) {
    if (s.ws) lost(s, fail("SINK_DISCONNECTED", `the connection to ${s.url} failed: ${clean(reasonOf(e))}`));
    return false;
  }
}

function data(s, d) {
  const bytes = d instanceof ArrayBuffer ? new Uint8Array(d) : ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : typeof d === "string" ? enc.encode(d) : null;
  if (!bytes) return;
  const w = new Writer();
  const acks = [];
  const flushAcks = () => {
    if (acks.length) drive(s, ACKS, Float64Array.from(acks.splice(0)));
  };
  for (const m of s.parser.push(bytes)) {
    if (!s.ws) break;
    if (m.op === "BAD") {
      flushAcks();
      return lost(s, fail("SINK_PROTOCOL", "the server broke the NATS protocol or closed with an error"));
    } else if (m.op === "INFO") {
      if (typeof m.info.max_payload === "number") s.maxPayload = m.info.max_payload;
      if (s.phase !== "opening") continue;
      if (m.info.headers !== true) {
        return stop(s, fail("SINK_NO_HEADERS", `the server at ${s.url} does not take message headers (INFO headers: false): JetStream publishing needs them`));
      }
      const seed = s.cfg.auth.seed;
      if (seed && typeof m.info.nonce === "string") {
        s.phase = "signing";
        const gen = s.gen;
        sign(seed, m.info.nonce).then(
          ([sig, pk]) => gen === s.gen && safely(s, () => login(s, sig, pk)),
          () => gen === s.gen && stop(s, fail("SINK_AUTH", "the server refused the sink's credentials")),
        );
      } else if (seed) {
        return stop(s, fail("SINK_AUTH", "the server refused the sink's credentials"));
      } else login(s);
    } else if (m.op === "PING") {
      w.text("PONG\r\n");
    } else if (m.op === "PONG") {
      if (s.phase === "login") {
        // Logged in: subscribe to the replies, and confirm the subscription was taken.
        s.phase = "subscribe";
        w.text(`SUB ${s.cfg.inbox}.${s.inboxId}.> 1\r\nPING\r\n`);
      } else if (s.phase === "subscribe") {
        if (s.cfg.provision) {
          s.phase = "provision";
          provisionAsk(s, w);
        } else {
          up(s, w);
        }
      } else {
        flushAcks();
        drive(s, PONG);
      }
    } else if (m.op === "ERR") {
      const t = m.text.toLowerCase();
      flushAcks();
      if (/authorization violation|authentication (timeout|expired|revoked)/.test(t)) return stop(s, fail("SINK_AUTH", "the server refused the sink's credentials"));
      const subject = /"([^"]*)"/.exec(m.text)?.[1] ?? "";
      if (t.includes("permissions violation for publish")) {
        return stop(s, fail("SINK_PERMISSION", `the server refused a publish to \`${subject}\`: the credentials lack the permission`));
      }
      if (t.includes("permissions violation for subscription")) {
        return stop(s, fail("SINK_INBOX_PERMISSION", `the server refused the subscription to the reply inbox \`${subject}\`: allow it, or set inboxPrefix to a subject the credentials may subscribe to`));
      }
      if (t.includes("invalid subject") || t.includes("invalid publish subject")) continue;
      return lost(s, fail("SINK_PROTOCOL", "the server broke the NATS protocol or closed with an error"));
    } else if (m.op === "MSG") {
      reply(s, m, acks, flushAcks, w);
    }
  }
  flushAcks();
  if (w.n && s.ws) send(s, w.take());
}

function login(s, sig, pk) {
  const o = { verbose: false, pedantic: false, tls_required: false };
  if (s.cfg.name !== undefined) o.name = s.cfg.name;
  Object.assign(o, { lang: "tributary", version: "js", protocol: 1, echo: false, headers: true, no_responders: true });
  const a = s.cfg.auth;
  if (a.auth_token !== undefined) o.auth_token = a.auth_token;
  if (a.user !== undefined) Object.assign(o, { user: a.user, pass: a.pass });
  if (a.jwt !== undefined) o.jwt = a.jwt;
  else if (pk) o.nkey = publicNkey(pk);
  if (sig) o.sig = b64url(sig);
  s.phase = "login";
  s.inboxId = randomHex();
  send(s, enc.encode(`CONNECT ${JSON.stringify(o)}\r\nPING\r\n`));
}

function provisionAsk(s, w) {
  // retention.maxBytes bounds each partition's log; the stream holds every partition's
  // subject, so its max_bytes is that bound times the partition count.
  const [, , rf, maxAge, maxBytes] = s.topicInfo;
  const ns = 1e6;
  const age = maxAge >= 0 ? maxAge * ns : 0;
  const win = s.cfg.duplicateWindowMs * ns;
  const body = JSON.stringify({
    name: s.cfg.stream, subjects: [`${s.cfg.prefix}.*`], retention: "limits", max_consumers: -1, max_msgs: -1,
    max_bytes: maxBytes >= 0 ? maxBytes * s.parts : -1, max_age: age, storage: "file", discard: "old",
    num_replicas: Math.max(1, rf), duplicate_window: age > 0 ? Math.min(win, age) : win,
  });
  const bytes = enc.encode(body);
  s.provAsked = Date.now();
  const text = `PUB $JS.API.STREAM.CREATE.${s.cfg.stream} ${s.cfg.inbox}.${s.inboxId}.api ${bytes.length}\r\n`;
  if (w) {
    w.text(text);
    w.bytes(bytes);
    w.text(CRLF);
  } else if (s.ws) {
    const x = new Writer();
    x.text(text);
    x.bytes(bytes);
    x.text(CRLF);
    send(s, x.take());
  }
}

function up(s, w) {
  s.phase = "up";
  s.error = null;
  if (w.n) send(s, w.take());
  drive(s, UP);
}

function jsonOf(m) {
  try {
    return JSON.parse(utf8.decode(m.data));
  } catch {
    return null;
  }
}

function reply(s, m, acks, flushAcks, w) {
  const base = `${s.cfg.inbox}.${s.inboxId}.`;
  if (!m.subject.startsWith(base)) return;
  const rest = m.subject.slice(base.length);
  if (rest === "api") {
    if (s.phase !== "provision") return;
    const doc = m.status ? null : jsonOf(m);
    const e = doc?.error;
    if (doc && !e) return up(s, w);
    if (e?.err_code === 10058) return up(s, w); // already there: its config is the operator's
    // Not ready yet (no JetStream leader, a 503): asked again shortly.
    if (m.status || !doc || (e && e.code >= 500)) return;
    return stop(s, fail("INVALID_CONFIG", "invalid config `provision`: JetStream refused to create the stream"));
  }
  const dot = rest.indexOf(".");
  const p = +rest.slice(0, dot), offset = +rest.slice(dot + 1);
  if (dot < 0 || !Number.isInteger(p) || !Number.isInteger(offset)) return;
  const doc = m.status ? null : jsonOf(m);
  if (doc && typeof doc.seq === "number" && typeof doc.stream === "string" && !doc.error) {
    acks.push(p, offset, doc.seq, doc.duplicate === true ? 1 : 0);
    return;
  }
  flushAcks();
  if (doc?.error?.err_code === 10060) {
    return stop(s, fail("SINK_WRONG_STREAM", `the subject is captured by a stream other than \`${s.cfg.stream}\``));
  }
  s.error = m.status === 503
    ? fail("SINK_NO_STREAM", `no stream captures the subject (expected stream \`${s.cfg.stream}\`)`)
    : fail("SINK_REJECTED", "JetStream refused a publish (retrying)");
  drive(s, NAK, p, offset);
}

/** Writes one record as HPUB; false when it is larger than the server takes. */
function hpub(s, w, p, offset, ts, key, value, hs) {
  const c = s.cfg;
  let h = `NATS/1.0\r\nNats-Msg-Id: ${c.msgIdPrefix}-${p}-${offset}\r\nNats-Expected-Stream: ${c.stream}\r\n`;
  if (key) {
    const k = headerText(key);
    h += k === null ? `Tributary-Key-Base64: ${b64url(key)}\r\n` : `Tributary-Key: ${k}\r\n`;
  }
  h += `Tributary-Timestamp: ${ts}\r\n`;
  for (const [nb, val] of hs) {
    const name = text.decode(nb), t = headerText(val);
    if (reserved(name)) h += `Tributary-Header-Base64: ${b64url(nb)}:${b64url(val)}\r\n`;
    else h += t === null ? `${name}-Base64: ${b64url(val)}\r\n` : `${name}: ${t}\r\n`;
  }
  h += CRLF;
  const hb = enc.encode(h);
  const total = hb.length + value.length;
  if (total > s.maxPayload) return false;
  w.text(`HPUB ${c.prefix}.${p}${c.atLeastOnce ? ` ${c.inbox}.${s.inboxId}.${p}.${offset}` : ""} ${hb.length} ${total}\r\n`);
  w.bytes(hb);
  w.bytes(value);
  w.text(CRLF);
  return true;
}
