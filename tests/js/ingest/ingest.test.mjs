// tributary/ingest (the built package, pkg/ingest.js) served by Node's http
// (toNodeListener), Deno.serve and Bun.serve beside a real nats-server: the cases of
// cases.mjs (records stored once with the page's ids, replays dropped, every bad request
// a 4xx with its code and nothing in the stream); then the handler's options, tokens and
// the batch codec as a user meets them.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { spawn } from "node:child_process";
import WebSocket from "ws";
import { Tributary, TributaryError } from "../../../pkg/node.js";
import * as full from "../../../pkg/full/node.js";
import { gzipSync } from "node:zlib";
import { CONTENT_TYPE, createIngest, grants, issueToken, toNodeListener, tokenPrefix } from "../../../pkg/ingest.js";
import { ORIGIN, LIMITS, SECRET, TOPICS, batch, body, post, runCases } from "./cases.mjs";
import { startIngestNats } from "./nats.mjs";
import { sleep } from "../../../scripts/loopback.mjs";

test("the ingest in Node's http: records stored once with the page's ids, every bad request refused", async () => {
  const nats = await startIngestNats("ingest-node");
  const ingest = createIngest({
    Tributary, secret: SECRET, topics: TOPICS, ...LIMITS, allowedOrigins: [ORIGIN],
    nats: { server: nats.url, token: nats.token, WebSocket, ackTimeoutMs: 2000 },
  });
  const server = http.createServer(toNodeListener(ingest));
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  try {
    await runCases({ base: `http://127.0.0.1:${server.address().port}/ingest`, nats, label: "Node", grant: "node" });
  } finally {
    server.close();
    server.closeAllConnections();
    await nats.stop();
  }
});

test("toNodeListener: a request Node's parser takes but `Request` refuses is a 4xx with a code, and the server lives on", async () => {
  const ingest = createIngest({ Tributary, secret: SECRET, topics: TOPICS, nats: { server: "ws://127.0.0.1:9", WebSocket } });
  const server = http.createServer(toNodeListener(ingest));
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const raw = (text) => new Promise((resolve, reject) => {
    const socket = net.connect(server.address().port, "127.0.0.1", () => socket.write(text));
    let out = "";
    socket.on("data", (d) => { out += d; });
    socket.on("close", () => resolve(out));
    socket.on("error", reject);
  });
  try {
    for (const [what, head, status, code] of [
      ["TRACE", "TRACE / HTTP/1.1\r\nHost: ingest.test", 405, "METHOD_NOT_ALLOWED"],
      ["a Host that makes no URL", "POST / HTTP/1.1\r\nHost: [::1", 400, "BAD_REQUEST"],
      ["a Host with a space", "POST / HTTP/1.1\r\nHost: a b", 400, "BAD_REQUEST"],
      ["a target that makes no URL", "POST http://[ HTTP/1.1\r\nHost: ingest.test", 400, "BAD_REQUEST"],
    ]) {
      const out = await raw(`${head}\r\nContent-Type: ${CONTENT_TYPE}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      assert.match(out, new RegExp(`^HTTP/1.1 ${status} `), `${what}: ${out}`);
      assert.equal(JSON.parse(out.slice(out.indexOf("\r\n\r\n") + 4)).code, code, `${what}: ${out}`);
    }
    // Still serving.
    const res = await fetch(`http://127.0.0.1:${server.address().port}/`, { method: "POST", headers: { "content-type": "text/plain" }, body: "x" });
    assert.equal(res.status, 415);
  } finally {
    server.close();
    server.closeAllConnections();
  }
});

test("the handler without a server (Request in, Response out), and a sink that cannot connect: 504 in time", async () => {
  const ingest = createIngest({
    Tributary, secret: SECRET, topics: TOPICS, deliveryTimeoutMs: 700,
    nats: { server: "ws://127.0.0.1:9", WebSocket, connectTimeoutMs: 200 }, // nothing listens on port 9
  });
  const token = await issueToken(SECRET, { prefix: "offline" });
  const started = Date.now();
  const res = await ingest.fetch(new Request("http://ingest.test/", {
    method: "POST", headers: { "content-type": CONTENT_TYPE },
    body: body({ token, prefix: "offline-1", sections: [[0, batch(0, 3)]] }),
  }), {}, { waitUntil: (p) => p });
  const answer = await res.json();
  assert.equal(res.status, 504, JSON.stringify(answer));
  assert.equal(answer.code, "SINK_TIMEOUT");
  assert.deepEqual(answer.undelivered, [{ partition: 0, fromOffset: 0, toOffset: 3 }]);
  assert.deepEqual(answer.accepted, []);
  assert.ok(Date.now() - started < 5000, "answered within the delivery timeout");
  // The ingest's own sink options are wrong (found when a request connects): 500.
  const misconfigured = createIngest({ Tributary, secret: SECRET, topics: TOPICS, nats: { server: "ws://127.0.0.1:9", WebSocket: 5 } });
  const res2 = await misconfigured.fetch(new Request("http://ingest.test/", {
    method: "POST", headers: { "content-type": CONTENT_TYPE },
    body: body({ token, prefix: "offline-1", sections: [[0, batch(0, 3)]] }),
  }));
  assert.equal(res2.status, 500);
  assert.equal((await res2.json()).code, "INVALID_CONFIG");
});

test("limits raised (maxRecords, maxBodyBytes): two batches of 250,000 records back to back are one run, not a RangeError", async () => {
  const ingest = createIngest({
    Tributary, secret: SECRET, topics: TOPICS, maxRecords: 1_000_000, maxBodyBytes: 16 << 20, deliveryTimeoutMs: 300,
    nats: { server: "ws://127.0.0.1:9", WebSocket, connectTimeoutMs: 100 }, // nothing listens on port 9
  });
  const token = await issueToken(SECRET, { prefix: "big" });
  const n = 250_000;
  const first = Tributary.encodeBatch(Array.from({ length: n }, (_, i) => ({ offset: i, key: null, value: "", timestamp: 1_700_000_000_000 })));
  const second = first.slice();
  new DataView(second.buffer).setBigInt64(0, BigInt(n)); // the base offset is outside the CRC
  const res = await ingest.fetch(new Request("http://ingest.test/", {
    method: "POST", headers: { "content-type": CONTENT_TYPE },
    body: body({ token, prefix: "big", sections: [[0, first], [0, second]] }),
  }));
  const answer = await res.json();
  assert.equal(res.status, 504, JSON.stringify(answer).slice(0, 300));
  assert.deepEqual(answer.undelivered, [{ partition: 0, fromOffset: 0, toOffset: 2 * n }]);
});

test("compressed batches (tributary/full): what one request inflates to is bounded by maxDecodedBytes, counted across its batches", async () => {
  // A gzip batch made by hand from an uncompressed one: the records' bytes compressed,
  // the compression bits set, the length and the CRC-32C (over attributes onwards) redone.
  const crc32c = (bytes) => {
    let c = ~0;
    for (const b of bytes) { c ^= b; for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1; }
    return ~c >>> 0;
  };
  const gzipBatch = (from, n, valueBytes) => {
    const plain = full.Tributary.encodeBatch(Array.from({ length: n }, (_, i) => ({
      offset: from + i, key: null, value: "x".repeat(valueBytes), timestamp: 1_700_000_000_000,
    })));
    const packed = gzipSync(plain.subarray(57));
    const out = new Uint8Array(57 + packed.length);
    out.set(plain.subarray(0, 57));
    out.set(packed, 57);
    const view = new DataView(out.buffer);
    view.setInt32(8, 45 + packed.length);
    view.setInt16(21, (view.getInt16(21) & ~7) | 1);
    view.setUint32(17, crc32c(out.subarray(21)));
    return out;
  };
  // 60 records of 16,000 bytes (each under maxRecordBytes): ~960 KB inflated from ~2 KB.
  const a = gzipBatch(0, 60, 16_000);
  const b = gzipBatch(60, 60, 16_000);
  assert.ok(a.length < 4096, `${a.length} bytes compressed`);
  assert.equal(full.Tributary.decodeBatch(a).records.length, 60, "the hand-made batch decodes");
  const token = await issueToken(SECRET, { prefix: "zip" });
  const send = async (limits, sections) => {
    const ingest = createIngest({
      Tributary: full.Tributary, secret: SECRET, topics: TOPICS, deliveryTimeoutMs: 300, ...limits,
      nats: { server: "ws://127.0.0.1:9", WebSocket, connectTimeoutMs: 100 }, // nothing listens on port 9
    });
    const res = await ingest.fetch(new Request("http://ingest.test/", {
      method: "POST", headers: { "content-type": CONTENT_TYPE },
      body: body({ token, prefix: "zip", sections }),
    }));
    return { status: res.status, answer: await res.json() };
  };
  // One such batch is within the default 1 MiB: checked, then on to delivery (504 here,
  // no server).
  assert.equal((await send({}, [[0, a]])).status, 504);
  // Two of them, in one request, are not: the second is refused before it inflates, and
  // nothing is sent.
  for (const sections of [[[0, a], [0, b]], [[0, a], [1, b]]]) {
    const { status, answer } = await send({}, sections);
    assert.equal(status, 413, JSON.stringify(answer));
    assert.equal(answer.code, "DECODED_TOO_LARGE");
    assert.match(answer.message, /section 2/);
  }
  // The bound is an option: raised, the same request is taken.
  assert.equal((await send({ maxDecodedBytes: 4 << 20 }, [[0, a], [0, b]])).status, 504);
  // And lowered below one batch, that batch alone is refused.
  const { status, answer } = await send({ maxDecodedBytes: 100_000 }, [[0, a]]);
  assert.equal(status, 413);
  assert.equal(answer.code, "DECODED_TOO_LARGE");
});

test("createIngest keeps its own copy of a secret given as bytes: zeroing them afterwards makes no key of zeros", async () => {
  const secret = new TextEncoder().encode(SECRET);
  const ingest = createIngest({
    Tributary, secret, topics: TOPICS, deliveryTimeoutMs: 300,
    nats: { server: "ws://127.0.0.1:9", WebSocket, connectTimeoutMs: 100 }, // nothing listens on port 9
  });
  secret.fill(0);
  const send = async (token) => {
    const res = await ingest.fetch(new Request("http://ingest.test/", {
      method: "POST", headers: { "content-type": CONTENT_TYPE },
      body: body({ token, prefix: "copy", sections: [[0, batch(0, 1)]] }),
    }));
    return [res.status, (await res.json()).code];
  };
  const zeros = await issueToken(new Uint8Array(secret.length), { prefix: "copy" });
  assert.deepEqual(await send(zeros), [401, "TOKEN_INVALID"], "a token signed with zeros");
  assert.deepEqual(await send(await issueToken(SECRET, { prefix: "copy" })), [504, "SINK_TIMEOUT"], "the real secret's token");
});

test("createIngest: each bad option is a TributaryError INVALID_CONFIG naming it; options are read as own properties", () => {
  const base = { Tributary, secret: SECRET, topics: TOPICS, nats: { server: "ws://127.0.0.1:4222" } };
  const bad = [
    [undefined, "options"],
    [{ ...base, Tributary: undefined }, "Tributary"],
    [{ ...base, Tributary: class {} }, "Tributary"],
    [{ ...base, secret: "short" }, "secret"],
    [{ ...base, secret: 42 }, "secret"],
    [{ ...base, topics: {} }, "topics"],
    [{ ...base, topics: { clicks: {} } }, "topics.clicks.partitions"],
    [{ ...base, topics: { clicks: { partitions: 0 } } }, "topics.clicks.partitions"],
    [{ ...base, topics: { "a b": { partitions: 1 } } }, "topics.a b"],
    [{ ...base, topics: { clicks: { partitions: 1, stream: 5 } } }, "topics.clicks.stream"],
    [{ ...base, nats: undefined }, "nats"],
    [{ ...base, nats: { server: "ws://x", msgIdPrefix: "p" } }, "nats.msgIdPrefix"],
    [{ ...base, nats: { server: "ws://x", onAck() {} } }, "nats.onAck"],
    [{ ...base, nats: { server: "ws://x", stream: "s" } }, "nats.stream"],
    [{ ...base, maxBodyBytes: 0 }, "maxBodyBytes"],
    [{ ...base, maxRecords: 1.5 }, "maxRecords"],
    [{ ...base, maxRecordBytes: "1" }, "maxRecordBytes"],
    [{ ...base, deliveryTimeoutMs: -1 }, "deliveryTimeoutMs"],
    [{ ...base, allowedOrigins: "*" }, "allowedOrigins"],
    [Object.create({ ...base }), "Tributary"], // inherited options are not read
  ];
  for (const [options, field] of bad) {
    assert.throws(() => createIngest(options), (e) => {
      assert.ok(e instanceof TributaryError, `${field}: ${e}`);
      assert.equal(e.code, "INVALID_CONFIG");
      assert.ok(e.message.includes(`\`${field}\``), `${field}: ${e.message}`);
      return true;
    });
  }
  assert.equal(typeof createIngest(base).fetch, "function");
});

test("issueToken / tokenPrefix / grants", async () => {
  const token = await issueToken(SECRET, { prefix: "sess_42", ttlMs: 60_000 });
  assert.match(token, /^sess_42\.\d+\.[A-Za-z0-9_-]{43}$/);
  assert.ok(Math.abs(Number(token.split(".")[1]) - (Date.now() + 60_000)) < 5000);
  assert.equal(tokenPrefix(token), "sess_42");
  assert.equal(tokenPrefix("nope"), null);
  assert.equal(await issueToken(SECRET, { prefix: "a", expiresAt: 5 }), await issueToken(new TextEncoder().encode(SECRET), { prefix: "a", expiresAt: 5 }));
  assert.ok(grants("g", "g") && grants("g", "g-abc_1") && !grants("g", "gx") && !grants("g", "g-a-b") && !grants("g", "g-"));
  assert.ok(grants("g", `g-${"a".repeat(62)}`) && !grants("g", `g-${"a".repeat(63)}`), "64 characters at most, as a message-id prefix");
  for (const [args, what] of [
    [["short", { prefix: "a" }], "secret"],
    [[SECRET, { prefix: "a-b" }], "prefix"],
    [[SECRET, { prefix: "" }], "prefix"],
    [[SECRET, { prefix: "x".repeat(41) }], "prefix"],
    [[SECRET, { prefix: "a", ttlMs: -1 }], "ttlMs"],
    [[SECRET, { prefix: "a", expiresAt: 1.5 }], "expiresAt"],
    [[SECRET, { prefix: "a", expiresAt: 1, ttlMs: 1 }], "options"],
    [[SECRET, null], "options"],
    [[SECRET, Object.create({ prefix: "a" })], "prefix"],
  ]) {
    await assert.rejects(issueToken(...args), (e) => {
      assert.ok(e instanceof TributaryError, `${what}: ${e}`);
      assert.equal(e.code, "INVALID_ARGUMENT");
      assert.ok(e.message.includes(what), `${what}: ${e.message}`);
      return true;
    });
  }
});

test("Tributary.encodeBatch / decodeBatch: what one encodes the other reads; bad input has its code", () => {
  const records = [
    { offset: 7, key: "k", value: "v", timestamp: 1000, headers: { h: new Uint8Array([1, 2]) } },
    { offset: 8, key: null, value: new Uint8Array([0, 255]), timestamp: 999 },
  ];
  const bytes = Tributary.encodeBatch(records);
  const d = Tributary.decodeBatch(bytes);
  assert.equal(d.baseOffset, 7);
  assert.equal(d.size, bytes.length);
  assert.deepEqual(d.records.map((r) => [r.offset, r.key && new TextDecoder().decode(r.key), [...r.value], r.timestamp, Object.keys(r.headers)]),
    [[7, "k", [118], 1000, ["h"]], [8, null, [0, 255], 999, []]]);
  const client = new Tributary();
  client.createTopic("t", { partitions: 1 });
  client.restore("t", 0, d.records); // decoded records restore as they are
  assert.equal(client.partitionInfo("t", 0).highWatermark, 9);
  const withTail = new Uint8Array(bytes.length + 3);
  withTail.set(bytes);
  assert.equal(Tributary.decodeBatch(withTail).size, bytes.length, "size: the bytes the batch took");
  const corrupt = bytes.slice();
  corrupt[bytes.length - 1] ^= 1;
  for (const [input, reason] of [[corrupt, "crc"], [bytes.subarray(0, 30), "truncated"], [bytes.subarray(0, bytes.length - 1), "truncated"]]) {
    assert.throws(() => Tributary.decodeBatch(input), (e) => e instanceof TributaryError && e.code === "CORRUPT_BATCH" && e.reason === reason);
  }
  const magic = bytes.slice();
  magic[16] = 1;
  assert.throws(() => Tributary.decodeBatch(magic), (e) => e.code === "CORRUPT_BATCH" && e.reason === "invalid");
  for (const bad of [[], [{ offset: 1, value: "a", timestamp: 1 }, { offset: 3, value: "b", timestamp: 1 }],
    [{ offset: 1, value: "a", timestamp: 0 }, { offset: 2, value: "b", timestamp: 2 ** 31 }], "x", [{ offset: -1, value: "a", timestamp: 1 }]]) {
    assert.throws(() => Tributary.encodeBatch(bad), (e) => e instanceof TributaryError && e.code === "INVALID_ARGUMENT", JSON.stringify(bad));
  }
});

for (const runtime of ["deno", "bun"]) {
  test(`the ingest in ${runtime === "deno" ? "Deno (Deno.serve)" : "Bun (Bun.serve)"}: the same cases`, async () => {
    const nats = await startIngestNats(`ingest-${runtime}`);
    const config = JSON.stringify({ nats: { server: nats.url, token: nats.token }, secret: SECRET, topics: TOPICS, limits: LIMITS, origins: [ORIGIN] });
    const bin = new URL(`../../../node_modules/.bin/${runtime}`, import.meta.url).pathname;
    const script = new URL("./serve.mjs", import.meta.url).pathname;
    const args = runtime === "deno" ? ["run", "--allow-read", "--allow-net", "--allow-env", script, config] : [script, config];
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => { output += d; });
    child.stderr.on("data", (d) => { output += d; });
    try {
      const deadline = Date.now() + 30_000;
      let port;
      while (!(port = output.match(/listening (\d+)/)?.[1])) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${runtime} did not serve:\n${output}`);
        await sleep(50);
      }
      await runCases({ base: `http://127.0.0.1:${port}/`, nats, label: runtime, grant: runtime });
    } catch (e) {
      e.message += `\n${runtime} said:\n${output}`;
      throw e;
    } finally {
      child.kill("SIGKILL");
      await nats.stop();
    }
  });
}
