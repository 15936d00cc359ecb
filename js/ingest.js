/**
 * tributary/ingest: the edge side of a page's records. A `Request` → `Response` handler
 * for Cloudflare Workers (workerd), Deno, Bun and Node's `http` (`toNodeListener`) that
 * takes records a page already placed in its own partition log, as Fluvio record batches
 * with their topic, partition, base offset and message-id prefix (the wire format:
 * ingest-wire.js), puts them back at their offsets under that prefix
 * (`Tributary.restore`) and delivers them to JetStream through a sink of its own. Each
 * record keeps the `Nats-Msg-Id` (`<prefix>-<partition>-<offset>`) it had in the page, so
 * whichever copy reaches the stream second (the page's own sink, a beacon on the way out,
 * a later visit's replay) is dropped by JetStream's de-duplication: exactly once within
 * the stream's duplicate window, at least once past it.
 *
 * - **Answers once JetStream acknowledged** every record of the request (200, with the
 *   ranges it took); closing the client afterwards is handed to `ctx.waitUntil` where the
 *   runtime has one.
 * - **Session binding.** A request names its message-id prefix and carries a token that
 *   grants it: `<grant>.<expiresAtMs>.<HMAC-SHA256(secret, "<grant>.<expiresAtMs>")>`
 *   (base64url), issued by the site's server with `issueToken` and checked here with
 *   WebCrypto. A token for grant `G` (1..=40 of A-Z a-z 0-9 _, no `-`) accepts the
 *   prefixes `G` and `G-<suffix>` (suffix of A-Z a-z 0-9 _), which is how
 *   `tributary/durable` names a page's generations when given `msgIdPrefix: G`. Two
 *   grants never produce the same message id, so nobody can post records under another
 *   session's ids (which JetStream would keep, dropping the real ones as duplicates).
 * - **Limits**: body size, records per request, record size, topics (an allow-list with
 *   their partition counts). Every refusal is a 4xx with `{ ok: false, code, message }`
 *   and is decided before anything is sent: nothing of a refused request reaches the
 *   stream.
 *
 * ```js
 * import { Tributary } from "tributary";
 * import { createIngest } from "tributary/ingest";
 * let ingest;
 * export default {
 *   fetch(request, env, ctx) {
 *     ingest ??= createIngest({
 *       Tributary, secret: env.INGEST_SECRET, topics: { clicks: { partitions: 6 } },
 *       nats: { server: env.NATS_URL, token: env.NATS_TOKEN },
 *     });
 *     return ingest.fetch(request, env, ctx);
 *   },
 * };
 * ```
 */
import { TributaryError } from "./errors.js";
import { CONTENT_TYPE, GRANT, decodeRequest, encodeRequest, tokenPrefix } from "./ingest-wire.js";

export { CONTENT_TYPE, encodeRequest, decodeRequest, tokenPrefix };

const utf8 = new TextEncoder();
const SUFFIX = /^[A-Za-z0-9_]+$/;
const MAX_PREFIX = 64; // the sink's limit on msgIdPrefix
// Runs of consecutive offsets one partition may have in a request: each run past the
// first needs a client and a NATS connection of its own (a page sends one; a gap in its
// log, a second), so a body of many one-record runs must not become as many connections.
const MAX_RUNS = 4;

/** The defaults of `createIngest`'s limits. */
export const DEFAULT_LIMITS = Object.freeze({
  maxBodyBytes: 65_536,
  maxRecords: 2_000,
  maxRecordBytes: 16_384,
  maxDecodedBytes: 1_048_576,
  deliveryTimeoutMs: 10_000,
});

// ---- tokens -----------------------------------------------------------------------------

function secretBytes(secret, fail) {
  let bytes;
  if (typeof secret === "string") bytes = utf8.encode(secret);
  else if (secret instanceof Uint8Array) bytes = secret;
  else if (secret instanceof ArrayBuffer) bytes = new Uint8Array(secret);
  else fail("secret", "must be a string or a Uint8Array of at least 32 bytes");
  if (bytes.length < 32) fail("secret", "must be at least 32 bytes (a random 32-byte key, say)");
  return bytes;
}

function hmacKey(bytes) {
  return globalThis.crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

function base64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function unbase64url(s) {
  if (!/^[A-Za-z0-9_-]{43}$/.test(s)) return null; // 32 bytes, unpadded
  const bin = atob(s.replaceAll("-", "+").replaceAll("_", "/") + "=");
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/**
 * A token granting the message-id prefix `prefix` (and `prefix-<suffix>`) until
 * `expiresAt` (ms since the epoch; default now + `ttlMs`, default 24 hours), signed with
 * `secret` (the ingest's; at least 32 bytes). For the site's server, which hands it to
 * the page with the prefix. Rejects with a TributaryError `INVALID_ARGUMENT`.
 */
export async function issueToken(secret, options) {
  const fail = (what, why) => { throw new TributaryError("INVALID_ARGUMENT", `issueToken: ${what} ${why}`); };
  const key = await hmacKey(secretBytes(secret, fail));
  if (options === null || typeof options !== "object") fail("options", "must be { prefix, ttlMs?, expiresAt? }");
  const own = (name) => (Object.hasOwn(options, name) ? options[name] : undefined);
  const prefix = own("prefix");
  if (typeof prefix !== "string" || !GRANT.test(prefix)) fail("prefix", "must be 1 to 40 of A-Z a-z 0-9 _ (no '-')");
  let expiresAt = own("expiresAt");
  const ttlMs = own("ttlMs");
  if (expiresAt !== undefined && ttlMs !== undefined) fail("options", "take expiresAt or ttlMs, not both");
  if (expiresAt === undefined) {
    const ttl = ttlMs ?? 24 * 60 * 60 * 1000;
    if (!Number.isSafeInteger(ttl) || ttl < 0) fail("ttlMs", "must be a whole number of ms, 0 or more");
    expiresAt = Date.now() + ttl;
  }
  if (!Number.isSafeInteger(expiresAt) || expiresAt < 0) fail("expiresAt", "must be a whole number of ms since the epoch");
  const claim = `${prefix}.${expiresAt}`;
  const sig = new Uint8Array(await globalThis.crypto.subtle.sign("HMAC", key, utf8.encode(claim)));
  return `${claim}.${base64url(sig)}`;
}

/** Whether a token for `grant` covers the message-id prefix `prefix`. */
export function grants(grant, prefix) {
  if (prefix.length > MAX_PREFIX) return false;
  return prefix === grant || (prefix.startsWith(`${grant}-`) && SUFFIX.test(prefix.slice(grant.length + 1)));
}

/** Checks `token` with `key`: its grant, or a refusal (TOKEN_INVALID, TOKEN_EXPIRED). */
async function verifyToken(key, token, now) {
  const parts = token.split(".");
  const sig = parts.length === 3 ? unbase64url(parts[2]) : null;
  if (!sig || !GRANT.test(parts[0]) || !/^\d{1,16}$/.test(parts[1])) {
    throw refusal(401, "TOKEN_INVALID", "the token is not one the site's server issued (malformed)");
  }
  const ok = await globalThis.crypto.subtle.verify("HMAC", key, sig, utf8.encode(`${parts[0]}.${parts[1]}`));
  if (!ok) throw refusal(401, "TOKEN_INVALID", "the token's signature does not match (forged, or another secret)");
  const expiresAt = Number(parts[1]);
  if (expiresAt <= now) {
    throw refusal(401, "TOKEN_EXPIRED", `the token expired ${new Date(expiresAt).toISOString()}: the page needs a new one`);
  }
  return { grant: parts[0], expiresAt };
}

// ---- options ----------------------------------------------------------------------------

function readOptions(options) {
  const fail = (what, why) => { throw new TributaryError("INVALID_CONFIG", `createIngest: \`${what}\` ${why}`); };
  if (options === null || typeof options !== "object") fail("options", "must be an object");
  const own = (o, name) => (Object.hasOwn(o, name) ? o[name] : undefined);
  const Tributary = own(options, "Tributary");
  if (typeof Tributary !== "function" || typeof Tributary.decodeBatch !== "function") {
    fail("Tributary", "must be the Tributary class of \"tributary\" (or \"tributary/full\" for compressed batches)");
  }
  // A copy: the key is imported at the first request, and the caller's bytes may have
  // changed by then (zeroed, reused).
  const secret = secretBytes(own(options, "secret"), fail).slice();
  const topicsOption = own(options, "topics");
  if (topicsOption === null || typeof topicsOption !== "object" || Object.keys(topicsOption).length === 0) {
    fail("topics", "must name the topics it takes: { <topic>: { partitions, stream?, subjectPrefix? } }");
  }
  const topics = new Map();
  for (const name of Object.keys(topicsOption)) {
    const t = topicsOption[name];
    if (t === null || typeof t !== "object") fail(`topics.${name}`, "must be { partitions, stream?, subjectPrefix? }");
    const partitions = own(t, "partitions");
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 65_536) fail(`topics.${name}.partitions`, "must be 1..=65536");
    const probe = new Tributary();
    try {
      probe.createTopic(name, { partitions });
    } catch (e) {
      fail(`topics.${name}`, `is not a valid topic: ${e?.message ?? e}`);
    } finally {
      probe.close();
    }
    const sink = {};
    for (const field of ["stream", "subjectPrefix"]) {
      const v = own(t, field);
      if (v !== undefined && typeof v !== "string") fail(`topics.${name}.${field}`, "must be a string");
      if (v !== undefined) sink[field] = v;
    }
    topics.set(name, { partitions, sink });
  }
  const nats = own(options, "nats");
  if (nats === null || typeof nats !== "object") fail("nats", "must be the sink's options (Tributary.connect's): { server, token, ... }");
  for (const field of ["msgIdPrefix", "onAck", "stream", "subjectPrefix"]) {
    if (Object.hasOwn(nats, field)) {
      fail(`nats.${field}`, field === "msgIdPrefix" || field === "onAck"
        ? "is set by the ingest (each request's prefix)" : "goes per topic: topics.<name>." + field);
    }
  }
  const limit = (name, min, max) => {
    const v = own(options, name) ?? DEFAULT_LIMITS[name];
    if (!Number.isSafeInteger(v) || v < min || v > max) fail(name, `must be a whole number in ${min}..=${max}`);
    return v;
  };
  let origins = own(options, "allowedOrigins");
  if (origins !== undefined) {
    if (!Array.isArray(origins) || origins.some((o) => typeof o !== "string")) {
      fail("allowedOrigins", "must be an array of origins (\"https://example.com\"), or [\"*\"]");
    }
    origins = new Set(origins);
  }
  return {
    Tributary,
    secret,
    topics,
    nats: { ...nats }, // own enumerable properties only
    maxBodyBytes: limit("maxBodyBytes", 1, 64 * 1024 * 1024),
    maxRecords: limit("maxRecords", 1, 1_000_000),
    maxRecordBytes: limit("maxRecordBytes", 1, 64 * 1024 * 1024),
    maxDecodedBytes: limit("maxDecodedBytes", 1, 256 * 1024 * 1024),
    deliveryTimeoutMs: limit("deliveryTimeoutMs", 1, 2_147_483_647),
    origins,
  };
}

// ---- the handler ------------------------------------------------------------------------

class Refusal {
  constructor(status, code, message, extra = {}) {
    this.status = status;
    this.code = code;
    this.message = message;
    this.extra = extra;
  }
}
const refusal = (status, code, message, extra) => new Refusal(status, code, message, extra);

function json(status, body, headers) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
  });
}

/** The body, read up to `max` bytes: BODY_TOO_LARGE past it. */
async function readBody(request, max) {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > max) {
    throw refusal(413, "BODY_TOO_LARGE", `the body is ${declared} bytes; the limit is ${max}`);
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      // Read on (up to 1 MiB more, thrown away) so that the client, still sending, gets
      // the answer rather than a reset connection; past that, stop reading.
      for (let drained = 0; drained < 1 << 20;) {
        const next = await reader.read();
        if (next.done) break;
        drained += next.value.length;
      }
      reader.cancel().catch(() => {});
      throw refusal(413, "BODY_TOO_LARGE", `the body is over the limit of ${max} bytes`);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}

function recordSize(r) {
  let n = (r.key?.length ?? 0) + r.value.length;
  for (const name of Object.keys(r.headers)) n += utf8.encode(name).length + r.headers[name].length;
  return n;
}

/**
 * Checks a decoded request against the limits and decodes its batches: per partition,
 * the runs of consecutive offsets it holds, in offset order.
 */
function checkRecords(o, topic, body) {
  const { partitions } = o.topics.get(topic);
  if (body.sections.length === 0) throw refusal(400, "EMPTY_BODY", "the request holds no record batch");
  const byPartition = new Map();
  let count = 0;
  // What the request's batches may inflate to, all together: a compressed batch (with
  // "tributary/full") is decoded with what is left as its bound, so a small body cannot
  // make the server hold many times its size.
  let decodedLeft = o.maxDecodedBytes;
  body.sections.forEach(({ partition, batch }, i) => {
    const where = `section ${i + 1} (partition ${partition})`;
    if (partition >= partitions) {
      throw refusal(400, "PARTITION_OUT_OF_RANGE", `${where}: topic "${topic}" has ${partitions} partitions`);
    }
    let decoded;
    try {
      decoded = o.Tributary.decodeBatch(batch, decodedLeft);
    } catch (e) {
      if (e?.reason === "crc") throw refusal(400, "BATCH_CRC", `${where}: ${e.message}`);
      if (e?.reason === "truncated") throw refusal(400, "BATCH_TRUNCATED", `${where}: ${e.message}`);
      if (e?.reason === "decompress") {
        throw refusal(413, "DECODED_TOO_LARGE", `${where}: its records do not inflate within the ${decodedLeft} bytes left of maxDecodedBytes (${o.maxDecodedBytes}), or are not valid compressed data`);
      }
      throw refusal(400, "BATCH_INVALID", `${where}: ${e?.message ?? e}`);
    }
    if (decoded.size !== batch.length) throw refusal(400, "BATCH_INVALID", `${where}: bytes after the batch`);
    const { records } = decoded;
    if (records.length === 0) throw refusal(400, "BATCH_INVALID", `${where}: an empty batch`);
    count += records.length;
    if (count > o.maxRecords) {
      throw refusal(413, "TOO_MANY_RECORDS", `more than ${o.maxRecords} records in one request`);
    }
    for (const r of records) {
      const size = recordSize(r);
      decodedLeft = Math.max(0, decodedLeft - size);
      if (size > o.maxRecordBytes) {
        throw refusal(413, "RECORD_TOO_LARGE", `${where}: the record at offset ${r.offset} has ${size} bytes of key, value and headers; the limit is ${o.maxRecordBytes}`);
      }
    }
    if (!byPartition.has(partition)) byPartition.set(partition, []);
    byPartition.get(partition).push(records);
  });
  // Per partition: batches in offset order, no offset twice, split into runs of
  // consecutive offsets (each run goes to a client of its own: restore takes one run).
  const runs = new Map();
  for (const [partition, batches] of byPartition) {
    batches.sort((a, b) => a[0].offset - b[0].offset);
    const list = [];
    let last = -Infinity; // a negative offset is restore's to refuse (BATCH_INVALID), not an overlap
    for (const records of batches) {
      const first = records[0].offset;
      if (first < last) {
        throw refusal(400, "BATCH_OVERLAP", `partition ${partition}: offset ${first} comes twice in the request`);
      }
      if (first === last && list.length) {
        const run = list[list.length - 1];
        for (const r of records) run.push(r); // not push(...records): past ~120k arguments, a RangeError
      }
      else if (list.length === MAX_RUNS) {
        throw refusal(413, "TOO_MANY_RUNS", `partition ${partition}: more than ${MAX_RUNS} runs of consecutive offsets in one request`);
      } else list.push([...records]);
      last = records[records.length - 1].offset + 1;
    }
    runs.set(partition, list);
  }
  return { runs, count };
}

/** Restores the runs into clients: round k holds each partition's k-th run. */
function restoreRounds(o, topic, runs) {
  const { partitions } = o.topics.get(topic);
  const rounds = [];
  try {
    for (const [partition, list] of runs) {
      list.forEach((records, k) => {
        if (!rounds[k]) {
          const client = new o.Tributary();
          rounds[k] = { client, ranges: [] };
          client.createTopic(topic, { partitions });
        }
        try {
          rounds[k].client.restore(topic, partition, records);
        } catch (e) {
          throw refusal(400, "BATCH_INVALID", `partition ${partition}, offsets from ${records[0].offset}: ${e?.message ?? e}`);
        }
        rounds[k].ranges.push({ partition, fromOffset: records[0].offset, toOffset: records[records.length - 1].offset + 1 });
      });
    }
  } catch (e) {
    for (const r of rounds) r.client.close();
    throw e;
  }
  return rounds;
}

async function deliver(o, topic, prefix, rounds, after) {
  const deadline = Date.now() + o.deliveryTimeoutMs;
  const accepted = [];
  let duplicates = 0;
  let records = 0;
  try {
    for (const [k, { client, ranges }] of rounds.entries()) {
      const acked = new Map(ranges.map((r) => [r.partition, r.fromOffset]));
      let sink;
      try {
        sink = client.connect(topic, {
          ...o.nats,
          ...o.topics.get(topic).sink,
          msgIdPrefix: prefix,
          onAck: (progress) => { for (const p of progress) acked.set(p.partition, p.ackedOffset); },
        });
      } catch (e) {
        // The ingest's own sink options are wrong (say, no WebSocket on Node 20).
        throw refusal(500, e?.code ?? "INTERNAL", `the ingest's nats options: ${e?.message ?? e}`);
      }
      try {
        await sink.flush({ timeoutMs: Math.max(1, deadline - Date.now()) });
      } catch (e) {
        const status = e?.code === "SINK_TIMEOUT" ? 504 : 502;
        for (const r of ranges) {
          const to = Math.min(acked.get(r.partition), r.toOffset);
          if (to > r.fromOffset) accepted.push({ partition: r.partition, fromOffset: r.fromOffset, toOffset: to });
        }
        const cause = e?.cause?.code ? { cause: e.cause.code } : {};
        throw refusal(status, e?.code ?? "SINK_FAILED",
          `JetStream did not acknowledge every record: ${e?.message ?? e}${e?.cause?.message ? ` (${e.cause.message})` : ""}`,
          { ...cause, accepted, undelivered: [...(e?.undelivered ?? []), ...rounds.slice(k + 1).flatMap((r) => r.ranges)] });
      }
      const stats = sink.stats();
      duplicates += stats.duplicates;
      for (const r of ranges) { accepted.push(r); records += r.toOffset - r.fromOffset; }
    }
  } finally {
    after(Promise.all(rounds.map(({ client }) => client.close())));
  }
  return { accepted, records, duplicates };
}

/**
 * The ingest handler: `{ fetch(request, env?, ctx?) }` (a Worker's default export, or
 * `Deno.serve(ingest.fetch)`, `Bun.serve({ fetch: ingest.fetch })`, `toNodeListener`).
 *
 * `options` (own properties only; a bad one throws a TributaryError `INVALID_CONFIG`):
 * - `Tributary`: the class from "tributary" (or "tributary/full", whose batches may be
 *   compressed);
 * - `secret`: the key tokens are signed with (string or bytes, at least 32 bytes), the
 *   one the site's server gives `issueToken`;
 * - `topics`: the allow-list, `{ <topic>: { partitions, stream?, subjectPrefix? } }`
 *   (stream and subjects as the page's sink names them; default the topic's name);
 * - `nats`: the sink's options (`Tributary.connect`'s: `server`/`servers`, `token` or
 *   `user`/`pass` or `creds` or `nkeySeed`, `provision`, `duplicateWindowMs`,
 *   `ackTimeoutMs`, `WebSocket` on Node 20, ...), without `msgIdPrefix` and `onAck`;
 * - `maxBodyBytes` (default 65536), `maxRecords` per request (2000), `maxRecordBytes`
 *   (16384: key, value and header names and values), `maxDecodedBytes` (1048576: what
 *   the request's compressed batches may inflate to, all together; past it 413
 *   DECODED_TOO_LARGE), `deliveryTimeoutMs` (10000: then 504 SINK_TIMEOUT);
 * - `allowedOrigins`: origins whose pages may post cross-origin (CORS, with
 *   credentials), or `["*"]` for any; a request from another origin is refused
 *   (ORIGIN_NOT_ALLOWED). Unset: no CORS headers, no origin check.
 *
 * Answers: 200 `{ ok: true, topic, prefix, records, duplicates, accepted: [{ partition,
 * fromOffset, toOffset }] }` once JetStream acknowledged every record (`duplicates`:
 * those it already had); a refusal, before anything is sent: 4xx `{ ok: false, code,
 * message }` with code METHOD_NOT_ALLOWED (405), WRONG_CONTENT_TYPE (415),
 * BODY_TOO_LARGE (413), EMPTY_BODY, BAD_ENVELOPE (400), TOKEN_INVALID, TOKEN_EXPIRED
 * (401), PREFIX_NOT_GRANTED, TOPIC_NOT_ALLOWED, ORIGIN_NOT_ALLOWED (403),
 * PARTITION_OUT_OF_RANGE, BATCH_CRC, BATCH_TRUNCATED, BATCH_INVALID, BATCH_OVERLAP (400),
 * TOO_MANY_RECORDS, RECORD_TOO_LARGE, TOO_MANY_RUNS (413: more than 4 runs of consecutive
 * offsets in one partition); JetStream not acknowledging in time or the
 * sink failing: 504 SINK_TIMEOUT or 502 with the sink's code (SINK_AUTH, SINK_NO_STREAM,
 * SINK_UNDELIVERED, ...), `accepted` and `undelivered`: send the same request again
 * (the records keep their ids).
 */
export function createIngest(options) {
  const o = readOptions(options);
  let key = null;
  const handle = async (request, ctx) => {
    const origin = request.headers.get("origin");
    const allowed = origin === null || !o.origins || o.origins.has("*") || o.origins.has(origin);
    const cors = o.origins && origin !== null && allowed
      ? { "access-control-allow-origin": origin, "access-control-allow-credentials": "true", vary: "Origin" }
      : {};
    if (request.method === "OPTIONS" && o.origins) {
      if (!allowed) return json(403, { ok: false, code: "ORIGIN_NOT_ALLOWED", message: `origin ${origin} is not allowed` }, { vary: "Origin" });
      return new Response(null, {
        status: 204,
        headers: {
          ...cors, "access-control-allow-methods": "POST", "access-control-allow-headers": "content-type",
          "access-control-max-age": "86400",
        },
      });
    }
    try {
      if (!allowed) throw refusal(403, "ORIGIN_NOT_ALLOWED", `origin ${origin} is not allowed`);
      if (request.method !== "POST") throw refusal(405, "METHOD_NOT_ALLOWED", `${request.method}: the ingest takes POST`);
      const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
      if (type !== CONTENT_TYPE) {
        throw refusal(415, "WRONG_CONTENT_TYPE", `content type ${JSON.stringify(type)}: the ingest takes ${CONTENT_TYPE}`);
      }
      const bytes = await readBody(request, o.maxBodyBytes);
      if (bytes.length === 0) throw refusal(400, "EMPTY_BODY", "the body is empty");
      let body;
      try {
        body = decodeRequest(bytes);
      } catch (e) {
        if (e instanceof Error) throw e;
        throw refusal(400, e.code, e.message);
      }
      key ??= hmacKey(o.secret);
      const { grant } = await verifyToken(await key, body.token, Date.now());
      if (!grants(grant, body.prefix)) {
        throw refusal(403, "PREFIX_NOT_GRANTED", `the token grants "${grant}" and "${grant}-<suffix>", not "${body.prefix}"`);
      }
      if (!o.topics.has(body.topic)) throw refusal(403, "TOPIC_NOT_ALLOWED", `topic ${JSON.stringify(body.topic)} is not one the ingest takes`);
      const { runs } = checkRecords(o, body.topic, body);
      const rounds = restoreRounds(o, body.topic, runs);
      const after = (p) => (typeof ctx?.waitUntil === "function" ? ctx.waitUntil(p) : p.catch(() => {}));
      const result = await deliver(o, body.topic, body.prefix, rounds, after);
      return json(200, { ok: true, topic: body.topic, prefix: body.prefix, ...result }, cors);
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      return json(e.status, { ok: false, code: e.code, message: e.message, ...e.extra }, cors);
    }
  };
  return { fetch: (request, env, ctx) => handle(request, ctx) };
}

/**
 * Node's `http`: a `(req, res)` listener serving `ingest` (`http.createServer(
 * toNodeListener(ingest))`). The body streams into the handler, which stops reading at
 * its limit.
 */
export function toNodeListener(ingest) {
  return (req, res) => {
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const chunks = req[Symbol.asyncIterator]();
    const pending = [];
    const ctx = { waitUntil: (p) => { pending.push(Promise.resolve(p).catch(() => {})); } };
    let request;
    try {
      const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "localhost"}`);
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (Array.isArray(value)) for (const v of value) headers.append(name, v);
        else if (value !== undefined) headers.set(name, value);
      }
      const body = hasBody
        ? new ReadableStream({
          async pull(controller) {
            const { done, value } = await chunks.next();
            if (done) controller.close();
            else controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
          },
          cancel() { chunks.return?.(); },
        })
        : null;
      request = new Request(url, { method: req.method, headers, body, duplex: "half" });
    } catch (e) {
      // What Node's parser lets through but `Request` refuses (a TRACE, a Host or target
      // that makes no URL): answered here, since thrown from the listener it would end
      // the process.
      const [status, code] = /^(TRACE|TRACK|CONNECT)$/i.test(req.method ?? "")
        ? [405, "METHOD_NOT_ALLOWED"] : [400, "BAD_REQUEST"];
      const out = utf8.encode(JSON.stringify({ ok: false, code, message: `not a request the ingest takes: ${e?.message ?? e}` }));
      res.writeHead(status, {
        "content-type": "application/json", "content-length": out.length, "cache-control": "no-store", connection: "close",
      }).end(out);
      return;
    }
    Promise.resolve().then(() => ingest.fetch(request, {}, ctx)).then(async (response) => {
      const out = new Uint8Array(await response.arrayBuffer());
      const head = {};
      response.headers.forEach((v, k) => { head[k] = v; });
      if (!req.complete) head.connection = "close"; // a body left unread (over the limit)
      res.writeHead(response.status, head).end(out);
    }).catch((e) => {
      res.writeHead(500, { "content-type": "application/json" })
        .end(JSON.stringify({ ok: false, code: "INTERNAL", message: String(e?.message ?? e) }));
    });
  };
}
