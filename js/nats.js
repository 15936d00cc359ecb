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
// | 7 SETTLED waiter:u32 how:u8 (0 delivered, 1 given up, 2 timed out, 3 stopped) RANGES
// | 0 END state:u8 cause:u8 server:u32 deadline:f64
// (NaN: none); RANGES = n:u32 {partition:u32 from:f64 to:f64}*. What flush and close wait
// for is the core's (waiters under ids chosen here: src/sink.rs).
//
// It ships minified inside every sink variant's tributary.js, bundled with the glue
// (BENCHMARKS.md, "What the sink costs"): it is written for size as well as for reading.
// One helper per repeated shape (`cat` for bytes, `fail` and the shared errors below for
// messages), tables where the options repeat one check, and plain objects and closures
// where a class would only add `this.` to every line.
import { sinkOpen, sinkDo, enc, fail, own, SAFE, U32, field, list, bare, arr } from "./tributary.js";

// A leading BOM is kept (decoded, not dropped): a key or header value starting with one is
// not text as sent (it goes as base64), and no NATS line or JSON starts with one.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const latin = new TextDecoder("latin1");
const STATES = "connecting connected reconnecting offline failed closed".split(" ");
// sinkDo kinds (src/bindings/sink.rs), written as numbers where they are used, each with
// its name in a comment (named constants stay variables in the minified file: ~70 B gzip):
// 0 POLL, 1 UP, 2 CLOSED, 3 PONG, 4 PAUSE, 5 RESUME, 6 CLOSE, 7 TOO_LARGE, 8 NAK, 9 FAIL,
// 10 ACKS, 11 STATS, 12 WAIT, 13 WAIT_APPENDED, 14 BACKLOG.
const none = new Float64Array(0);
/** Numbers the core answers (little-endian f64s), or undefined when the sink is gone. */
const numbers = (s, kind) => {
  const b = sinkDo(s.client, s.id, kind, 0, 0, none);
  return b && new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);
};
/** The largest message the client takes from a server, whatever its INFO announces. */
export const MAX_INBOUND = 64 * 1024;
const MAX_LINE = 4096;
const CRLF = "\r\n";

const bad = (field, reason) => fail("INVALID_CONFIG", `invalid config \`${field}\`: ${reason}`);
/** A whole number 0..=max (no bound without `max`). */
const whole = (v, max) => Number.isInteger(v) && v >= 0 && !(v > max);
const isText = (v) => typeof v === "string" && v.isWellFormed();
// The errors made in more than one place.
const authFailed = () => fail("SINK_AUTH", "the server refused the sink's credentials");
const protocolBroken = () => fail("SINK_PROTOCOL", "the server broke the NATS protocol or closed with an error");
const noServers = () => bad("servers", "give one or more ws:// or wss:// URLs");
const timedOut = () => fail("SINK_TIMEOUT", "the server did not answer in time");
/** Appends to `a`, an array without a prototype (`bare`): an index stored is its own, never
 * a setter's on Array.prototype or Object.prototype (which `push` on an array would meet). */
const add = (a, ...v) => addAll(a, v);
/** Appends the items of `v` to `a`, as `add` does. */
const addAll = (a, v) => {
  for (let i = 0; i < v.length; ) a[a.length] = v[i++];
};
const closedEarly = () => fail("SINK_CLOSED", "the sink closed before the records were acknowledged");

/** Strings (as UTF-8) and bytes as one byte array, encoded into room for the worst case. */
const cat = (parts) => {
  let n = 0, at = 0, i = 0, p;
  while (i < parts.length) n += typeof (p = parts[i++]) == "string" ? p.length * 3 : p.length;
  const out = new Uint8Array(n);
  for (i = 0; i < parts.length; ) at += typeof (p = parts[i++]) == "string" ? enc.encodeInto(p, out.subarray(at)).written : (out.set(p, at), p.length);
  return out.subarray(0, at);
};

// ---- options ---------------------------------------------------------------------------

function str(o, k) {
  const v = own(o, k);
  if (v !== undefined && !isText(v)) throw bad(k, "must be a well-formed string");
  return v;
}

function fn(o, k) {
  const v = own(o, k);
  if (v !== undefined && typeof v !== "function") throw bad(k, "must be a function");
  return v;
}

// The numeric options: [name, largest, default]; the first six in the order sinkOpen takes them.
const NUMBERS = [["maxRetries", U32, -1], ["ackTimeoutMs", SAFE, 5000], ["connectTimeoutMs", SAFE, 10000],
  ["backoffInitialMs", SAFE, 100], ["backoffMaxMs", SAFE, 5000], ["maxInFlight", U32, 1024],
  ["duplicateWindowMs", SAFE, 120000], ["closeTimeoutMs", SAFE, 5000]];

// An empty token, or a wildcard one, anywhere; blanks and control characters; over 1024
// bytes (the lines that carry a subject prefix and the inbox prefix stay within
// nats-server's 4096-byte control line: HPUB, SUB, the provisioning PUB).
const badSubject = (s) => enc.encode(s).length > 1024 || /[\s\x00-\x1f\x7f]|(^|\.)[*>]?(\.|$)/.test(s);

/** Reads and checks `connect`'s options (own properties only); the core checks the numbers it keeps. */
export function sinkOptions(topic, o) {
  if (typeof o !== "object" || o === null) throw bad("options", "must be an object");
  const list = own(o, "servers");
  if (list !== undefined && !Array.isArray(list)) throw noServers();
  const one = str(o, "server"), servers = [...(list ?? []), ...(one === undefined ? [] : [one])];
  if (!servers.length) throw noServers();
  for (const s of servers) {
    const m = isText(s) && /^wss?:\/\/([^/?#]*)/.exec(s);
    if (!m || s.length === m[0].length - m[1].length || /\s/.test(s)) throw noServers();
    // Credentials go in their own options, never in a URL (errors, stats and the runtime's own messages show URLs).
    if (m[1].includes("@")) throw bad("servers", "no credentials in URLs: give one of token, user/pass, creds or nkeySeed");
  }
  const stream = str(o, "stream") ?? topic;
  if (!stream || enc.encode(stream).length > 255 || /[\s\x00-\x1f\x7f.*>/\\]/.test(stream)) throw bad("stream", "not a valid JetStream stream name");
  const prefix = str(o, "subjectPrefix") ?? topic;
  if (badSubject(prefix)) throw bad("subjectPrefix", "not a valid NATS subject of at most 1024 bytes");
  const inbox = str(o, "inboxPrefix") ?? "_INBOX";
  if (badSubject(inbox)) throw bad("inboxPrefix", "not a valid NATS subject of at most 1024 bytes");
  const token = str(o, "token"), user = str(o, "user"), pass = str(o, "pass"), creds = str(o, "creds"), seed = str(o, "nkeySeed");
  if ([token, user, creds, seed].filter((x) => x !== undefined).length > 1) throw bad("credentials", "give one of token, user/pass, creds or nkeySeed");
  let auth = {};
  if (token !== undefined) auth = { auth_token: token };
  else if (user !== undefined) auth = { user, pass: pass ?? "" };
  else if (creds !== undefined) auth = parseCreds(creds);
  else if (seed !== undefined) {
    auth = { seed: decodeSeed(seed) };
    if (!auth.seed) throw bad("nkeySeed", "is not a valid user nkey seed");
  }
  const delivery = str(o, "delivery") ?? "at-least-once";
  if (delivery !== "at-least-once" && delivery !== "at-most-once") throw bad("delivery", "must be at-least-once or at-most-once");
  const msgIdPrefix = str(o, "msgIdPrefix");
  if (msgIdPrefix !== undefined && !/^[\w-]{1,64}$/.test(msgIdPrefix)) throw bad("msgIdPrefix", "1..=64 of A-Z a-z 0-9 - _");
  const provision = own(o, "provision");
  if (provision !== undefined && typeof provision !== "boolean") throw bad("provision", "must be true or false");
  const WS = fn(o, "WebSocket") ?? globalThis.WebSocket;
  if (typeof WS !== "function") throw bad("WebSocket", "no global WebSocket: pass one (e.g. the ws package)");
  // Every field in the literal (defined); `auth` with no prototype (login reads fields it may lack).
  return {
    servers, stream, prefix, inbox, auth: { __proto__: null, ...auth }, msgIdPrefix, WS,
    provision: provision === true,
    atLeastOnce: delivery === "at-least-once",
    name: str(o, "name"),
    onAck: fn(o, "onAck"),
    onStateChange: fn(o, "onStateChange"),
    ...Object.fromEntries(NUMBERS.map(([k, max, d]) => {
      const v = own(o, k);
      if (v !== undefined && !whole(v, max)) throw bad(k, `must be a whole number 0..=${max}`);
      return [k, v ?? d];
    })),
  };
}

// ---- nkeys and .creds (nkey seeds: base32 with a CRC-16/XMODEM; Ed25519 via WebCrypto) --

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function crc16(bytes) {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = ((crc << 1) ^ (crc & 0x8000 ? 0x1021 : 0)) & 0xffff;
  }
  return crc;
}

/** Regroups `from`-bit values into `to`-bit ones (base32 <-> bytes); trailing bits are dropped. */
function regroup(values, from, to) {
  const out = bare(0);
  let bits = 0, held = 0;
  for (const v of values) {
    bits = ((bits << from) | v) & 0xffff;
    for (held += from; held >= to; ) add(out, (bits >> (held -= to)) & ((1 << to) - 1));
  }
  return arr(out);
}

/** A user nkey seed (`SU...`): its 32 seed bytes, or null. */
export function decodeSeed(text) {
  const chars = [...text.trim()].map((c) => B32.indexOf(c));
  if (chars.length !== 58 || chars.includes(-1)) return null;
  const raw = regroup(chars, 5, 8), c = crc16(raw.slice(0, 34));
  if (raw[34] !== (c & 0xff) || raw[35] !== c >> 8) return null;
  // Seed prefix 18 << 3, then the user prefix 20 << 3 split across two bytes.
  if ((raw[0] & 0xf8) !== 18 << 3 || (((raw[0] & 7) << 5) | (raw[1] >> 3)) !== 20 << 3) return null;
  return Uint8Array.from(raw.slice(2, 34));
}

/** The public user nkey (`U...`) of a 32-byte Ed25519 key (35 bytes with its prefix and CRC: 56 characters exactly). */
export function publicNkey(key) {
  const body = [20 << 3, ...key], c = crc16(body);
  return regroup([...body, c & 0xff, c >> 8], 8, 5).map((v) => B32[v]).join("");
}

/** A .creds file's JWT and seed (the first line after each BEGIN ... JWT / SEED line). */
function parseCreds(text) {
  const block = (kind) => new RegExp(`^\\s*---.*BEGIN.*${kind}.*\\r?\\n\\s*(?!---)(\\S.*)`, "m").exec(text)?.[1].trim();
  const jwt = block("JWT"), seed = block("SEED");
  const s = seed && decodeSeed(seed);
  if (!/^[\w=-]+\.[\w=-]+\.[\w=-]+$/.test(jwt) || !s) throw bad("creds", "is not a valid .creds file (JWT and seed)");
  return { jwt, seed: s };
}

export const b64url = (bytes) => {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

/** Signs `nonce` with the seed (WebCrypto Ed25519): [signature, public key]. */
async function sign(seed, nonce) {
  const pkcs8 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20, ...seed]);
  const key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
  const [sig, { x }] = await Promise.all([crypto.subtle.sign("Ed25519", key, enc.encode(nonce)), crypto.subtle.exportKey("jwk", key)]);
  return [new Uint8Array(sig), Uint8Array.from(atob(x.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0))];
}

// ---- the inbound parser ----------------------------------------------------------------

/**
 * NATS server operations from bytes in any split (`new Parser()`). `push` returns the
 * operations complete so far: `{ op: "INFO", info }`, `{ op: "MSG", subject, reply,
 * status, headers, data }`, `{ op: "PING" | "PONG" | "OK" }`, `{ op: "ERR", text }`, or,
 * for bytes that are not NATS (or a message over MAX_INBOUND), a last `{ op: "BAD" }`
 * after which it takes nothing. It never throws.
 */
export function Parser(max = MAX_INBOUND) {
  // `held`: the bytes not taken yet (copies); `wait`: how many more a message whose body
  // is still short needs before it is read again (its frames are gathered, not joined
  // again at each: a body in 1-byte frames costs linear time, not quadratic).
  let held = bare(0), wait = 0, dead = false;
  return {
    push(chunk) {
      const out = bare(0);
      if (dead) return [];
      if ((wait -= chunk.length) > 0) return add(held, chunk.slice()), [];
      const b = held.length ? cat((add(held, chunk), held)) : chunk;
      let at = (held.length = 0);
      try {
        for (let lf, start; (lf = b.indexOf(10, (start = at))) >= 0; ) {
          if (lf - at > MAX_LINE || b[lf - 1] !== 13 || lf === at) throw 0;
          // The verb (up to the first blank, any case) and the rest.
          const line = utf8.decode(b.subarray(at, lf - 1)), sp = line.indexOf(" ") + 1 || lf; // no blank: lf > the line
          const verb = line.slice(0, sp - 1).toUpperCase(), args = line.slice(sp);
          at = lf + 1;
          if (verb === "MSG" || verb === "HMSG") {
            const a = args.trim().split(/[ \t]+/);
            const h = verb === "HMSG", n = a.length - h; // without the header size: 3, or 4 with a reply
            if (n !== 3 && n !== 4) throw 0;
            const num = (i) => (/^\d{1,10}$/.test((i = a[a.length - i])) ? +i : NaN);
            const size = num(1), head = h ? num(2) : 0;
            if (!(size <= max) || !(head <= size)) throw 0;
            const end = at + size + 2;
            if (b.length < end) {
              wait = end - b.length;
              at = start; // the line again, with its whole body
              break;
            }
            if (b[end - 2] !== 13 || b[end - 1] !== 10) throw 0;
            const headers = h ? latin.decode(b.subarray(at, at + head)) : "";
            if (h && !headers.startsWith("NATS/1.0")) throw 0;
            // Every field in the literal (defined), `headers` only with an HMSG.
            add(out, { op: "MSG", subject: a[0], reply: n === 4 ? a[2] : "", status: (h && parseInt(headers.slice(8, 13), 10)) || 0, ...(h && { headers }), data: b.slice(at + head, end - 2) });
            at = end;
          } else if (verb === "INFO") {
            const info = JSON.parse(args);
            if (typeof info !== "object" || !info || Array.isArray(info)) throw 0;
            add(out, { op: "INFO", info });
          } else if (verb === "PING" || verb === "PONG" || verb === "+OK") {
            if (args.trim()) throw 0;
            add(out, { op: verb === "+OK" ? "OK" : verb });
          } else if (verb === "-ERR") {
            add(out, { op: "ERR", text: args.trim().replace(/^'|'$/g, "").trim() });
          } else throw 0;
        }
        if (b.length - at > MAX_LINE && b.indexOf(10, at) < 0) throw 0;
        if (at < b.length) add(held, b.slice(at));
      } catch {
        dead = true;
        add(out, { op: "BAD" });
      }
      return arr(out);
    },
  };
}

/** The bytes as a header value: UTF-8 text with no control characters or edge blanks, else null. */
function headerText(b) {
  try {
    const s = utf8.decode(b);
    return /\p{Cc}/u.test(s) || s.trim() !== s ? null : s;
  } catch {
    return null;
  }
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
  const a = crypto.getRandomValues(new Uint32Array(2));
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
    const v = (s.last = (!s.gone && numbers(s, 11 /* STATS */)) || s.last || new Float64Array(10));
    return {
      ...Object.fromEntries("published acked duplicates resent timeouts errors failedRecords connects disconnects inFlight".split(" ").map((n, i) => [n, v[i]])),
      state: STATES[s.state],
      server: s.cfg.servers[s.server],
    };
  }

  /** Resolves when every record appended before the call is acknowledged; rejects with `undelivered` otherwise (see README). */
  async flush(options) {
    const s = me(this);
    if (options !== undefined && (typeof options !== "object" || options === null)) throw fail("INVALID_ARGUMENT", "options must be an object");
    return wait(s, timeoutArg(options, 2147483647), true);
  }

  /** Goes offline: closes the connection and stays down until `resume()`. */
  pause() {
    drive(me(this), 4 /* PAUSE */);
  }

  /** Comes back online after `pause()`: connects at once. */
  resume() {
    drive(me(this), 5 /* RESUME */);
  }

  /**
   * Closes the sink. A sink that is connecting or connected first waits for delivery of
   * what was appended, up to `timeoutMs` (default: the `closeTimeoutMs` option, 5000);
   * records still not delivered then are reported: `onStateChange("closed", error)` and
   * `sink.error` carry a SINK_CLOSED error with `undelivered`. Pending flushes reject
   * with SINK_CLOSED. Unacknowledged records stay in the log for a later `connect`.
   */
  async close(options) {
    await closeSink(me(this), timeoutArg(options, SAFE));
  }
}

const timeoutOf = (options) => (options && typeof options === "object" ? own(options, "timeoutMs") : undefined);

/** `timeoutMs` of flush's or close's options, checked. */
function timeoutArg(options, max) {
  const t = timeoutOf(options);
  if (t !== undefined && !whole(t, max)) throw fail("INVALID_ARGUMENT", `timeoutMs must be a whole number 0..=${max}`);
  return t;
}

function me(sink) {
  const s = sinks.get(sink);
  if (!s) throw fail("INVALID_ARGUMENT", "not a Sink");
  return s;
}

/** Installs `connect` on Tributary and wraps `flush` / `close` to wait for sinks. */
export function installSink(Tributary, TopicProducer) {
  const proto = Tributary.prototype;
  const { flush, close, topicProducer } = proto;
  Object.defineProperty(proto, "connect", {
    configurable: true, writable: true,
    /** Connects `topic` to NATS JetStream over a WebSocket (options: README, SinkOptions). */
    value: function connect(topic, options) {
      sinkOpen(this, topic, none); // only checks that it may go on
      const cfg = sinkOptions(topic, options);
      if (!prefixes.has(this)) prefixes.set(this, randomHex());
      cfg.msgIdPrefix ??= prefixes.get(this);
      const sink = new Sink(sinks);
      // The sink's state, made below: every field in its literal (defined; an assignment
      // of a new one may meet a setter on Object.prototype). `phase`, where the connection
      // is: 0 none, 1 opening (until INFO), 2 signing the nonce, 3 login (CONNECT sent),
      // 4 subscribe (SUB sent), 5 provision, 6 up. `inbox`, the reply subjects' prefix
      // (`<inboxPrefix>.<random>.`, drawn at each login; until the first, a line feed,
      // which no subject starts with).
      let s;
      const wake = () => {
        if (s.woken || s.gone) return;
        s.woken = true;
        queueMicrotask(() => {
          s.woken = false;
          drive(s, 0 /* POLL */);
        });
      };
      const info = sinkOpen(this, topic, Float64Array.of(cfg.servers.length, cfg.atLeastOnce, ...NUMBERS.slice(0, 6).map(([k]) => cfg[k])), wake);
      s = {
        cfg, topic, client: this, state: 0, error: null, server: 0, gen: 0, waiters: new Map(), waits: 0, q: bare(0), calls: bare(0), due: Infinity, deadline: NaN, cause: 0,
        id: info[0], parts: info[1], topicInfo: info, woken: false, gone: false, busy: false, timer: null, phase: 0, ws: null, out: null, parser: null,
        url: "", maxPayload: 0, reason: "", inbox: "\n", last: null, provAsked: 0,
      };
      sinks.set(sink, s);
      if (!clientSinks.has(this)) clientSinks.set(this, new Set());
      clientSinks.get(this).add(s);
      drive(s, 0 /* POLL */);
      return sink;
    },
  });
  const sinksOf = (client) => [...(clientSinks.get(client) ?? [])];
  proto.flush = async function () {
    // The sinks at the call: one closed meanwhile answers for what it did not deliver.
    const mine = sinksOf(this);
    await flush.call(this);
    for (;;) {
      if (!mine.length) return;
      await Promise.all(mine.map((s) => wait(s, undefined, false)));
      if (!sinkDo(this, 0, 14 /* BACKLOG */, 0, 0, none)?.[0]) return;
      flush.call(this);
    }
  };
  const owners = new WeakMap(); // TopicProducer -> its client
  proto.topicProducer = function (...args) {
    const p = topicProducer.apply(this, args);
    owners.set(p, this);
    return p;
  };
  const producerFlush = TopicProducer.prototype.flush;
  TopicProducer.prototype.flush = function () {
    const c = owners.get(this);
    return c ? c.flush() : producerFlush.call(this);
  };
  proto.close = async function (options) {
    const t = timeoutArg(options, SAFE);
    flush.call(this);
    await Promise.all(sinksOf(this).map((s) => closeSink(s, t)));
    return close.call(this);
  };
}

async function closeSink(s, timeoutMs) {
  if (s.gone) return;
  timeoutMs ??= s.cfg.closeTimeoutMs;
  // Close's report (`sink.error`): a waiter for what was appended before the close,
  // pending through it (so records given up meanwhile are named to it as well as to the
  // wait below) and stopped by it (CLOSE, same id): what was not delivered, unacknowledged
  // or given up, as SINK_CLOSED.
  const id = ++s.waits;
  s.waiters.set(id, [() => {}, (e) => (s.error = field(field(closedEarly(), "undelivered", e.undelivered), "cause", e.cause))]);
  drive(s, 13 /* WAIT_APPENDED */, id, -1);
  // Waits only for a sink that may deliver now: connecting (first attempt) or connected.
  if (timeoutMs > 0 && s.state < 2) await wait(s, timeoutMs).catch(() => {});
  if (s.gone) return;
  s.last = numbers(s, 11 /* STATS */) ?? s.last;
  drive(s, 6 /* CLOSE */, id);
}

// ---- flush waiters (the core decides when each settles and what it lacks) ---------------

function wait(s, timeoutMs, own) {
  return new Promise((resolve, reject) => {
    const id = ++s.waits;
    s.waiters.set(id, [resolve, reject]);
    if (!s.gone) return drive(s, own ? 13 /* WAIT_APPENDED */ : 12 /* WAIT */, id, timeoutMs ?? -1);
    // A closed sink: what its topic holds unacknowledged (CLOSED once the client is).
    const missing = bare(0);
    for (let p = 0, i; p < s.parts; p++) {
      i = s.client.partitionInfo(s.topic, p);
      if (i.ackedOffset < i.highWatermark) add(missing, { partition: p, fromOffset: i.ackedOffset, toOffset: i.highWatermark });
    }
    settle(s, id, missing.length && 3, arr(missing));
  });
}

/** Waiter `id` settled `how` (SETTLED), lacking `missing`. */
function settle(s, id, how, missing) {
  const w = s.waiters.get(id);
  if (!w) return;
  s.waiters.delete(id);
  if (!how) return w[0]();
  const e = how === 1 ? fail("SINK_UNDELIVERED", "some records were given up (see `undelivered`)")
    : how === 2 ? timedOut()
      : s.state === 4 && s.error ? fail(s.error.code, s.error.message)
        : closedEarly();
  field(e, "undelivered", missing);
  if (s.error) field(e, "cause", s.error);
  w[1](e);
}

// ---- driving the core ------------------------------------------------------------------

/** Tells the core `kind` (ACKS: `acks`, four numbers each) and does what it answers. */
function drive(s, kind, p = 0, o = 0, acks) {
  if (s.gone) return;
  add(s.q, [kind, p, o, acks]);
  if (s.busy) return;
  s.busy = true;
  try {
    for (let i = 0; i < s.q.length && !s.gone; ) {
      const [k, a, b, c] = s.q[i++];
      let out;
      try {
        out = sinkDo(s.client, s.id, k, a, b, c ?? none);
      } catch {} // the client is closed: the sink is gone
      apply(s, out);
    }
  } finally {
    s.busy = false;
    s.q.length = 0;
  }
  const calls = s.calls;
  s.calls = bare(0);
  for (let i = 0; i < calls.length; ) {
    const [f, x, y] = calls[i++];
    try {
      f(x, y);
    } catch {} // a callback's own failure is not the sink's
  }
}

function apply(s, out) {
  const before = s.state;
  if (!out) gone(s);
  else {
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const progress = bare(0), settled = bare(0);
    let at = 0;
    const u32 = () => v.getUint32((at += 4) - 4, true);
    const f64 = () => v.getFloat64((at += 8) - 8, true);
    const bytes = (n) => out.subarray(at, (at += n));
    const ranges = () => list(u32(), () => ({ partition: u32(), fromOffset: f64(), toOffset: f64() }));
    for (;;) {
      const op = out[at++];
      if (op === 0) {
        s.state = out[at++];
        const cause = out[at++];
        s.server = u32();
        s.deadline = f64();
        if (cause && cause !== s.cause) s.error = timedOut();
        s.cause = cause;
        break;
      } else if (op === 1) open(s, u32());
      else if (op === 2) detach(s);
      else if (op === 3) send(s, "PING\r\n");
      else if (op === 4) {
        const p = u32(), offset = f64(), ts = f64(), kl = u32() | 0; // -1: no key
        const vl = u32(), lens = list(u32(), () => [u32(), u32()]);
        const key = kl < 0 ? null : bytes(kl), value = bytes(vl), hs = lens.map(([n, l]) => [bytes(n), bytes(l)]);
        if (!hpub(s, p, offset, ts, key, value, hs)) add(s.q, [7 /* TOO_LARGE */, p, offset]);
      } else if (op === 5) {
        const p = u32(), cursor = f64(), streamSeq = f64(), n = u32();
        add(progress, { partition: p, ackedOffset: cursor, streamSeq, ...(n && { givenUp: list(n, () => ({ partition: p, fromOffset: f64(), toOffset: f64() })) }) });
      } else if (op === 6) {
        const p = u32(), offset = f64();
        s.error = fail("SINK_UNDELIVERED", `record ${offset} of partition ${p} was not delivered`);
      } else if (op === 7) add(settled, [u32(), out[at++], ranges()]);
      else break; // not ours: stop reading
    }
    if (progress.length && s.cfg.onAck) add(s.calls, [s.cfg.onAck, arr(progress)]);
    for (let i = 0; i < settled.length; ) settle(s, ...settled[i++]);
  }
  if (s.state === 5) gone(s);
  if (s.state !== before && s.cfg.onStateChange) add(s.calls, [s.cfg.onStateChange, STATES[s.state], s.error ?? undefined]);
  arm(s);
}

function gone(s) {
  if (s.gone) return;
  s.gone = true;
  s.state = 5;
  detach(s);
  clearTimeout(s.timer);
  clientSinks.get(s.client)?.delete(s);
  // Gone without the core's answer (the client closed under it): what was not delivered is not known here.
  s.waiters.forEach((_, id) => settle(s, id, 3, []));
}

/** When provisioning asks JetStream again (Infinity: it is not provisioning). */
const askAgain = (s) => (s.phase === 5 ? s.provAsked + s.cfg.ackTimeoutMs : Infinity);

function arm(s) {
  if (s.gone) return;
  const due = Math.min(Number.isNaN(s.deadline) ? Infinity : s.deadline, askAgain(s));
  if (due === s.due && s.timer) return;
  clearTimeout(s.timer);
  s.timer = null;
  s.due = due;
  if (due === Infinity) return;
  s.timer = setTimeout(() => {
    s.timer = null;
    s.due = Infinity;
    if (Date.now() >= askAgain(s)) provisionAsk(s);
    drive(s, 0 /* POLL */);
  }, Math.max(0, Math.min(due - Date.now(), 2147483647)));
}

// ---- the socket -------------------------------------------------------------------------

/** Why a host error happened, as text for a message (control characters blanked, at most 200 characters). */
const reasonOf = (e) => {
  let m = "";
  try {
    m = e?.message || e?.error?.message;
  } catch {}
  return typeof m === "string" ? clean(m) : "";
};

const clean = (r) => [...r].slice(0, 200).join("").replace(/\p{Cc}/gu, " ");

function detach(s) {
  const ws = s.ws;
  s.ws = s.out = null;
  s.gen++;
  s.phase = 0;
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

function open(s, server) {
  detach(s);
  const url = (s.url = s.cfg.servers[server]);
  const gen = s.gen;
  s.phase = 1;
  s.parser = Parser();
  s.maxPayload = 1 << 20; // until this server's INFO says
  s.reason = "";
  const ours = (f) => (e) => gen === s.gen && safely(s, () => f(s, e));
  let ws;
  try {
    ws = new s.cfg.WS(url);
    ws.binaryType = "arraybuffer";
    ws.onmessage = ours(data);
    ws.onclose = ours(closed);
    // An error is followed by a close; the close does the work, the error says why.
    ws.onerror = ours((s, e) => s.phase === 1 && (s.reason = reasonOf(e)));
    s.ws = ws;
  } catch (e) {
    // A constructor or a socket that throws (a frozen object, a bad URL for this runtime).
    s.ws = ws;
    detach(s);
    s.error = fail("SINK_CONNECT", `could not connect to ${url}: ${reasonOf(e) || "the WebSocket could not be made"}`);
    add(s.q, [2 /* CLOSED */, 0, 0]);
  }
}

function safely(s, f) {
  try {
    f();
  } catch {
    // Nothing a server sends may throw out of a socket handler: a protocol failure.
    lost(s, protocolBroken());
  }
}

function closed(s, e) {
  const why = typeof e?.reason === "string" && e.reason ? `: ${clean(e.reason)}` : "";
  lost(s, s.phase === 1
    ? fail("SINK_CONNECT", `could not connect to ${s.url}${s.reason ? `: ${s.reason}` : " (the connection closed before the server spoke)"}`)
    : fail("SINK_DISCONNECTED", `the connection to ${s.url} closed${typeof e?.code === "number" ? ` (code ${e.code}${why})` : ""}`));
}

/** The connection is gone for `why`: the core reconnects (CLOSED), or stops (FAIL). */
function lost(s, why, kind = 2 /* CLOSED */) {
  detach(s);
  s.error = why;
  drive(s, kind);
}

const stop = (s, why) => lost(s, why, 9 /* FAIL */);

/** Queues strings and bytes for the socket: what one turn of the event loop writes goes as
 * one frame, to the socket of the first write (one replaced or closed since drops it). */
function send(s, ...parts) {
  let out = s.out;
  if (!out) {
    const ws = s.ws;
    out = s.out = bare(0);
    queueMicrotask(() => {
      if (s.out === out) s.out = null;
      // A socket replaced or closed since takes its bytes with it (detach empties the queue).
      if (ws && ws === s.ws) {
        try {
          ws.send(cat(out));
        } catch (e) {
          lost(s, fail("SINK_DISCONNECTED", `the connection to ${s.url} failed: ${reasonOf(e)}`));
        }
      }
    });
  }
  addAll(out, parts);
}

function data(s, e) {
  const d = e.data;
  const bytes = typeof d === "string" ? enc.encode(d) : d instanceof ArrayBuffer || ArrayBuffer.isView(d) ? new Uint8Array(d.buffer ?? d, d.byteOffset, d.byteLength) : null;
  if (!bytes) return;
  const acks = bare(0);
  // The acks as a Float64Array (copied as an array-like: `acks` has no iterator), then
  // none left (the argument after, evaluated before the call).
  const flushAcks = () => acks.length && drive(s, 10 /* ACKS */, 0, 0, new Float64Array(acks), (acks.length = 0));
  for (const m of s.parser.push(bytes)) {
    if (!s.ws) break;
    const { op, info } = m;
    if (op === "BAD") {
      flushAcks();
      return lost(s, protocolBroken());
    } else if (op === "INFO") {
      // Its own fields only (`headers`, `nonce`, `max_payload`), as json() below gives.
      Object.setPrototypeOf(info, null);
      if (typeof info.max_payload === "number") s.maxPayload = info.max_payload;
      if (s.phase !== 1) continue;
      if (info.headers !== true) return stop(s, fail("SINK_NO_HEADERS", `the server at ${s.url} takes no headers, which JetStream needs`));
      const seed = s.cfg.auth.seed;
      if (!seed) login(s);
      else if (typeof info.nonce !== "string") return stop(s, authFailed());
      else {
        s.phase = 2;
        const gen = s.gen;
        sign(seed, info.nonce).then(
          ([sig, pk]) => gen === s.gen && safely(s, () => login(s, sig, pk)),
          () => gen === s.gen && stop(s, authFailed()),
        );
      }
    } else if (op === "PING") {
      send(s, "PONG\r\n");
    } else if (op === "PONG") {
      if (s.phase === 3) {
        // Logged in: subscribe to the replies, and confirm the subscription was taken.
        s.phase = 4;
        send(s, `SUB ${s.inbox}> 1\r\nPING\r\n`);
      } else if (s.phase !== 4) {
        flushAcks();
        drive(s, 3 /* PONG */);
      } else if (s.cfg.provision) {
        s.phase = 5;
        provisionAsk(s);
      } else up(s);
    } else if (op === "ERR") {
      const t = m.text.toLowerCase(), subject = /"([^"]*)"/.exec(m.text)?.[1] ?? "";
      flushAcks();
      if (/authorization violation|authentication (timeout|expired|revoked)/.test(t)) return stop(s, authFailed());
      if (t.includes("permissions violation for publish")) {
        return stop(s, fail("SINK_PERMISSION", `the server refused a publish to \`${subject}\`: no permission`));
      }
      if (t.includes("permissions violation for subscription")) {
        return stop(s, fail("SINK_INBOX_PERMISSION", `the server refused the subscription to the reply inbox \`${subject}\`: allow it, or set inboxPrefix`));
      }
      if (!/invalid (publish )?subject/.test(t)) return lost(s, protocolBroken());
    } else if (op === "MSG") {
      reply(s, m, acks, flushAcks);
    }
  }
  flushAcks();
}

function login(s, sig, pk) {
  const { auth, name } = s.cfg;
  // Fields left undefined are not sent: `auth` gives what its kind has (auth_token, user
  // and pass, jwt), never the seed.
  const o = {
    name, lang: "tributary", version: "js", protocol: 1, verbose: false, echo: false, headers: true, no_responders: true,
    ...auth, seed: undefined, nkey: pk && !auth.jwt ? publicNkey(pk) : undefined, sig: sig && b64url(sig),
  };
  s.phase = 3;
  s.inbox = `${s.cfg.inbox}.${randomHex()}.`;
  send(s, `CONNECT ${JSON.stringify(o)}\r\nPING\r\n`);
}

/** Asks JetStream to create the stream, with the topic's limits. */
function provisionAsk(s) {
  // retention.maxBytes bounds each partition's log; the stream holds every partition's
  // subject, so its max_bytes is that bound times the partition count. The rest is
  // JetStream's defaults, left out (nats-server fills them in: retention "limits",
  // storage "file", discard "old", no limit on consumers or messages).
  const [, , rf, maxAge, maxBytes] = s.topicInfo;
  const { stream, prefix, duplicateWindowMs } = s.cfg;
  const age = maxAge >= 0 ? maxAge * 1e6 : 0, win = duplicateWindowMs * 1e6;
  const body = enc.encode(JSON.stringify({
    name: stream, subjects: [`${prefix}.*`], max_bytes: maxBytes >= 0 ? maxBytes * s.parts : -1, max_age: age,
    num_replicas: Math.max(1, rf), duplicate_window: age > 0 ? Math.min(win, age) : win,
  }));
  s.provAsked = Date.now();
  send(s, `PUB $JS.API.STREAM.CREATE.${stream} ${s.inbox}api ${body.length}\r\n`, body, CRLF);
}

function up(s) {
  s.phase = 6;
  s.error = null;
  drive(s, 1 /* UP */);
}

/** A JSON answer from the server, or null. Its fields are read with `own`: a field the
 * server left out is absent, never one a page set on `Object.prototype` (`seq`, `error`, ...). */
function jsonOf(m) {
  try {
    return m.status ? null : JSON.parse(utf8.decode(m.data));
  } catch {
    return null;
  }
}

function reply(s, m, acks, flushAcks) {
  if (!m.subject.startsWith(s.inbox)) return;
  const rest = m.subject.slice(s.inbox.length), doc = jsonOf(m), e = own(doc, "error"), seq = own(doc, "seq");
  if (rest === "api") {
    if (s.phase !== 5) return;
    // Made, or already there (10058: its config is the operator's).
    if (doc && (!e || own(e, "err_code") === 10058)) return up(s);
    // Not ready yet (no JetStream leader, a 503): asked again shortly.
    if (!doc || own(e, "code") >= 500) return;
    return stop(s, bad("provision", "JetStream refused to create the stream"));
  }
  const ids = /^(\d+)\.(\d+)$/.exec(rest);
  if (!ids) return;
  const p = +ids[1], offset = +ids[2];
  if (typeof seq == "number" && typeof own(doc, "stream") == "string" && !e) return void add(acks, p, offset, seq, own(doc, "duplicate") === true ? 1 : 0);
  flushAcks();
  if (own(e, "err_code") === 10060) return stop(s, fail("SINK_WRONG_STREAM", `the subject is captured by a stream other than \`${s.cfg.stream}\``));
  s.error = m.status === 503
    ? fail("SINK_NO_STREAM", `no stream captures the subject (expected stream \`${s.cfg.stream}\`)`)
    : fail("SINK_REJECTED", "JetStream refused a publish (retrying)");
  drive(s, 8 /* NAK */, p, offset);
}

/** Writes one record as HPUB; false when it is larger than the server takes. */
function hpub(s, p, offset, ts, key, value, hs) {
  const c = s.cfg, k = key && headerText(key);
  let h = `NATS/1.0\r\nNats-Msg-Id: ${c.msgIdPrefix}-${p}-${offset}\r\nNats-Expected-Stream: ${c.stream}\r\n`;
  if (key) h += k === null ? `Tributary-Key-Base64: ${b64url(key)}\r\n` : `Tributary-Key: ${k}\r\n`;
  h += `Tributary-Timestamp: ${ts}\r\n`;
  for (const [nb, val] of hs) {
    const name = latin.decode(nb), t = headerText(val);
    h += reserved(name) ? `Tributary-Header-Base64: ${b64url(nb)}:${b64url(val)}\r\n`
      : t === null ? `${name}-Base64: ${b64url(val)}\r\n` : `${name}: ${t}\r\n`;
  }
  // Its size in UTF-8 (written by cat): ASCII, as it mostly is, is one byte a character.
  const hl = /[^\0-\x7f]/.test((h += CRLF)) ? enc.encode(h).length : h.length, total = hl + value.length;
  if (total > s.maxPayload) return false;
  send(s, `HPUB ${c.prefix}.${p}${c.atLeastOnce ? ` ${s.inbox}${p}.${offset}` : ""} ${hl} ${total}\r\n${h}`, value, CRLF);
  return true;
}
