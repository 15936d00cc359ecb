// The ingest's cases, run against a served handler (Node's http in ingest.test.mjs, a
// worker in workerd in workerd.test.mjs) and a real nats-server. What reaches the stream
// is read back with the `nats` client (an independent reader: tests/js/sink/harness.mjs).
//
// Setup (ingest-setup.mjs): topics `clicks` (4 partitions, stream `clicks`) and `orphan`
// (2 partitions, no stream: JetStream answers "no responders"); limits maxBodyBytes 8192,
// maxRecords 50, maxRecordBytes 512, deliveryTimeoutMs 3000; allowedOrigins
// ["http://page.test"].
import assert from "node:assert/strict";
import { readStream } from "../sink/harness.mjs";
import { Tributary } from "../../../pkg/node.js";
import { CONTENT_TYPE, encodeRequest, issueToken } from "../../../pkg/ingest.js";

export const SECRET = "a test secret of at least 32 bytes, not a real one";
export const LIMITS = { maxBodyBytes: 8192, maxRecords: 50, maxRecordBytes: 512, deliveryTimeoutMs: 3000 };
export const TOPICS = { clicks: { partitions: 4 }, orphan: { partitions: 2 } };
export const ORIGIN = "http://page.test";

const now = Date.now();

/** Records `from`..`from + n - 1` of a page, as `Tributary.encodeBatch` takes them. */
export function records(from, n, { valueBytes = 0, tag = "r" } = {}) {
  return Array.from({ length: n }, (_, i) => ({
    offset: from + i,
    key: `user-${(from + i) % 3}`,
    value: valueBytes ? "x".repeat(valueBytes) : JSON.stringify({ tag, n: from + i }),
    timestamp: now + i,
    headers: { page: "/checkout" },
  }));
}

export const batch = (from, n, options) => Tributary.encodeBatch(records(from, n, options));

/** A request body: `sections` is [[partition, batchBytes]]. */
export function body({ token, topic = "clicks", prefix, sections }) {
  return encodeRequest({ token, topic, prefix, sections: sections.map(([partition, b]) => ({ partition, batch: b })) });
}

export async function post(base, bytes, { contentType = CONTENT_TYPE, headers = {}, method = "POST" } = {}) {
  const h = { ...headers };
  if (contentType !== null) h["content-type"] = contentType;
  const res = await fetch(base, { method, headers: h, body: method === "GET" ? undefined : bytes });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* checked below */ }
  return { status: res.status, json, text, headers: res.headers };
}

const ids = (messages) => messages.map((m) => m.msgId);

/** Every message id of the stream, each must be there once. */
async function streamIds(nats) {
  const messages = await readStream(nats.port, "clicks", { token: nats.token });
  const list = ids(messages);
  assert.equal(new Set(list).size, list.length, "no message id twice in the stream");
  return list;
}

/**
 * Runs every case against `base` (the ingest's URL); `nats` = { port, token }; `label`
 * names the runtime; `grant` a token grant unique to this run (the stream is shared).
 */
export async function runCases({ base, nats, label, grant }) {
  const token = await issueToken(SECRET, { prefix: grant, ttlMs: 3_600_000 });
  const prefix = `${grant}-gen1`;
  const expected = new Set();
  const expect = (pfx, partition, from, to) => { for (let o = from; o < to; o++) expected.add(`${pfx}-${partition}-${o}`); };
  const mine = (list) => list.filter((id) => id.startsWith(`${grant}-`) || id.startsWith(`${grant}x`));

  // 1. Records a page placed, two partitions: stored with the ids they had in the page.
  const first = body({ token, prefix, sections: [[0, batch(0, 10)], [2, batch(5, 7)]] });
  let r = await post(base, first);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, {
    ok: true, topic: "clicks", prefix, records: 17, duplicates: 0,
    accepted: [{ partition: 0, fromOffset: 0, toOffset: 10 }, { partition: 2, fromOffset: 5, toOffset: 12 }],
  });
  expect(prefix, 0, 0, 10);
  expect(prefix, 2, 5, 12);
  assert.deepEqual(new Set(mine(await streamIds(nats))), expected, "the records, each once, with the page's ids");
  const messages = (await readStream(nats.port, "clicks", { token: nats.token })).filter((m) => m.msgId === `${prefix}-2-5`);
  assert.equal(messages.length, 1);
  assert.equal(messages[0].subject, "clicks.2");
  assert.equal(messages[0].key, "user-2", "the record's key as the page's sink sends it");

  // 2. The same records again (a beacon after the page's own send, a later replay):
  //    JetStream keeps each once.
  r = await post(base, first);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.records, 17);
  assert.equal(r.json.duplicates, 17, "every record of the replay was a duplicate");
  // Overlapping: 10 already stored, 5 new; and a gap in one partition (two runs).
  r = await post(base, body({ token, prefix, sections: [[0, batch(0, 15)], [1, batch(20, 3)], [1, batch(30, 2)]] }));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.records, 20);
  assert.equal(r.json.duplicates, 10);
  assert.deepEqual(r.json.accepted.map((a) => [a.partition, a.fromOffset, a.toOffset]).sort(),
    [[0, 0, 15], [1, 20, 23], [1, 30, 32]]);
  expect(prefix, 0, 10, 15);
  expect(prefix, 1, 20, 23);
  expect(prefix, 1, 30, 32);
  // Two batches of one partition back to back are one run; the prefix may be the grant itself.
  r = await post(base, body({ token, prefix: grant, sections: [[3, batch(0, 4)], [3, batch(4, 4)]] }));
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.accepted, [{ partition: 3, fromOffset: 0, toOffset: 8 }]);
  expect(grant, 3, 0, 8);
  assert.deepEqual(new Set(mine(await streamIds(nats))), expected, "replays and overlaps stored once");

  // 3. Bad requests: each a 4xx with its code, nothing in the stream. Every one carries
  //    records under ids not stored yet (offsets 100+), so anything leaking would show.
  const fresh = () => batch(100, 5);
  const otherSecret = await issueToken("another secret, as long as the real one is", { prefix: grant, ttlMs: 3_600_000 });
  const [claim, , sig] = token.split(".");
  const laterExpiry = `${claim}.${Date.now() + 7_200_000}.${sig}`; // a token with its expiry pushed, same signature
  const otherGrant = `${grant}x`;
  const otherToken = await issueToken(SECRET, { prefix: otherGrant, ttlMs: 3_600_000 });
  const expired = await issueToken(SECRET, { prefix: grant, expiresAt: Date.now() - 1000 });
  const good = { token, prefix, sections: [[1, fresh()]] };
  const ok = body(good);
  const corrupt = ok.slice();
  corrupt[corrupt.length - 3] ^= 0x40; // in the last record's value: the CRC no longer matches
  const twoSections = body({ token, prefix, sections: [[1, fresh()], [2, batch(100, 5)]] });
  const secondCorrupt = twoSections.slice();
  secondCorrupt[secondCorrupt.length - 2] ^= 0x01; // the second section is corrupt: the first is not sent either
  const tooMany = body({ token, prefix, sections: [[0, batch(100, 30)], [1, batch(100, 21)]] }); // 51 > 50
  const overBody = body({ token, prefix, sections: [[0, batch(100, 20, { valueBytes: 480 })], [1, batch(100, 2, { valueBytes: 100 })]] });
  assert.ok(overBody.length > LIMITS.maxBodyBytes);
  // Base offset -5 (outside the CRC, so the batch still checks): an offset restore refuses.
  const negative = batch(0, 3);
  new DataView(negative.buffer, negative.byteOffset).setBigInt64(0, -5n);
  // Five runs of one record in one partition: each run past the first takes a NATS connection.
  const manyRuns = body({ ...good, sections: [100, 102, 104, 106, 108].map((o) => [1, batch(o, 1)]) });
  const refusals = [
    ["forged token (another secret)", body({ ...good, token: otherSecret }), 401, "TOKEN_INVALID"],
    ["token with its expiry changed", body({ ...good, token: laterExpiry }), 401, "TOKEN_INVALID"],
    ["not a token", body({ ...good, token: "hello" }), 401, "TOKEN_INVALID"],
    ["expired token", body({ ...good, token: expired }), 401, "TOKEN_EXPIRED"],
    ["prefix of another grant", body({ ...good, token: otherToken }), 403, "PREFIX_NOT_GRANTED"],
    ["prefix that only starts like the grant", body({ ...good, prefix: `${grant}x-gen1` }), 403, "PREFIX_NOT_GRANTED"],
    ["prefix with a second '-'", body({ ...good, prefix: `${grant}-a-b` }), 403, "PREFIX_NOT_GRANTED"],
    ["body over the limit", overBody, 413, "BODY_TOO_LARGE"],
    ["corrupted batch (CRC)", corrupt, 400, "BATCH_CRC"],
    ["second section corrupted", secondCorrupt, 400, "BATCH_CRC"],
    ["truncated batch", ok.subarray(0, ok.length - 7), 400, "BATCH_TRUNCATED"],
    ["truncated inside a section's preamble", ok.subarray(0, ok.length - fresh().length + 5), 400, "BATCH_TRUNCATED"],
    ["topic not allowed", body({ ...good, topic: "payments" }), 403, "TOPIC_NOT_ALLOWED"],
    ["partition out of range", body({ ...good, sections: [[4, fresh()]] }), 400, "PARTITION_OUT_OF_RANGE"],
    ["too many records", tooMany, 413, "TOO_MANY_RECORDS"],
    ["record too large", body({ ...good, sections: [[1, batch(100, 1, { valueBytes: 600 })]] }), 413, "RECORD_TOO_LARGE"],
    ["the same offsets twice in one request", body({ ...good, sections: [[1, fresh()], [1, batch(102, 5)]] }), 400, "BATCH_OVERLAP"],
    ["no batch", body({ ...good, sections: [] }), 400, "EMPTY_BODY"],
    ["negative offsets", body({ ...good, sections: [[1, negative]] }), 400, "BATCH_INVALID"],
    ["more than 4 runs in one partition", manyRuns, 413, "TOO_MANY_RUNS"],
    ["not the wire format", new TextEncoder().encode('{"records":[]}'), 400, "BAD_ENVELOPE"],
    ["empty body", new Uint8Array(0), 400, "EMPTY_BODY"],
  ];
  for (const [what, bytes, status, code] of refusals) {
    const res = await post(base, bytes);
    assert.equal(res.status, status, `${what}: ${res.text}`);
    assert.equal(res.json?.code, code, `${what}: ${res.text}`);
    assert.equal(res.json.ok, false);
    assert.equal(typeof res.json.message, "string");
  }
  for (const [what, contentType, status, code] of [
    ["wrong content type", "text/plain", 415, "WRONG_CONTENT_TYPE"],
    ["no content type", null, 415, "WRONG_CONTENT_TYPE"],
    ["application/octet-stream", "application/octet-stream", 415, "WRONG_CONTENT_TYPE"],
  ]) {
    const res = await post(base, ok, { contentType });
    assert.equal(res.status, status, `${what}: ${res.text}`);
    assert.equal(res.json?.code, code, `${what}: ${res.text}`);
  }
  const foreign = await post(base, ok, { headers: { origin: "http://evil.test" } });
  assert.equal(foreign.status, 403, foreign.text);
  assert.equal(foreign.json.code, "ORIGIN_NOT_ALLOWED");
  const get = await post(base, null, { method: "GET" });
  assert.equal(get.status, 405, get.text);
  assert.equal(get.json.code, "METHOD_NOT_ALLOWED");
  // A body over the limit without a Content-Length (streamed, chunked): cut off while read.
  const streamed = await fetch(base, {
    method: "POST", duplex: "half", headers: { "content-type": CONTENT_TYPE },
    body: new ReadableStream({
      start(c) { for (let i = 0; i < overBody.length; i += 1000) c.enqueue(overBody.slice(i, i + 1000)); c.close(); },
    }),
  });
  assert.equal(streamed.status, 413);
  assert.equal((await streamed.json()).code, "BODY_TOO_LARGE");
  assert.deepEqual(new Set(mine(await streamIds(nats))), expected, "nothing of a refused request in the stream");

  // 4. CORS: the page's origin may post (with credentials: a beacon's mode); others may not.
  const pre = await fetch(base, { method: "OPTIONS", headers: { origin: ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "content-type" } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get("access-control-allow-origin"), ORIGIN);
  assert.equal(pre.headers.get("access-control-allow-credentials"), "true");
  assert.match(pre.headers.get("access-control-allow-headers"), /content-type/);
  const preOther = await fetch(base, { method: "OPTIONS", headers: { origin: "http://evil.test" } });
  assert.equal(preOther.status, 403);
  r = await post(base, body({ token, prefix, sections: [[1, batch(40, 2)]] }), { headers: { origin: ORIGIN } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get("access-control-allow-origin"), ORIGIN);
  expect(prefix, 1, 40, 42);

  // 5. JetStream cannot take the records (no stream for the topic; the sink keeps trying
  //    until the delivery timeout): 504 with the sink's last error as `cause` and what
  //    was not delivered, so the page sends them again later.
  r = await post(base, body({ token, topic: "orphan", prefix, sections: [[0, batch(0, 3)]] }));
  assert.equal(r.status, 504, r.text);
  assert.equal(r.json.code, "SINK_TIMEOUT", r.text);
  assert.equal(r.json.cause, "SINK_NO_STREAM", r.text);
  assert.deepEqual(r.json.undelivered, [{ partition: 0, fromOffset: 0, toOffset: 3 }]);

  const final = mine(await streamIds(nats));
  assert.deepEqual(new Set(final), expected);
  console.log(`${label}: ${expected.size} records stored once each through the ingest (replays and overlaps ` +
    `dropped by JetStream); ${refusals.length + 6} bad requests refused with their codes, none in the stream`);
}
