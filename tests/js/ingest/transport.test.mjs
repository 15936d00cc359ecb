// The page side of tributary/ingest (pkg/ingest-client.js) from Node against the ingest
// in Node's http and a real nats-server: the HTTP transport (connectIngest) delivers
// every record once with the page's ids, through an ingest that drops connections for a
// while; beaconUnacked sends what fits the 64 KB a request outliving its page may carry.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import WebSocket from "ws";
import { Tributary } from "../../../pkg/node.js";
import { createIngest, issueToken, toNodeListener } from "../../../pkg/ingest.js";
import { KEEPALIVE_LIMIT, beaconUnacked, connectIngest } from "../../../pkg/ingest-client.js";
import { readStream } from "../sink/harness.mjs";
import { SECRET } from "./cases.mjs";
import { startIngestNats } from "./nats.mjs";
import { sleep } from "../../../scripts/loopback.mjs";

async function startIngest(nats) {
  const ingest = createIngest({
    Tributary, secret: SECRET, topics: { clicks: { partitions: 4 } },
    nats: { server: nats.url, token: nats.token, WebSocket, ackTimeoutMs: 2000 },
  });
  const listener = toNodeListener(ingest);
  const gate = { down: false, requests: 0, bodies: [] };
  const server = http.createServer((req, res) => {
    gate.requests++;
    if (gate.down) return req.socket.destroy(); // the ingest unreachable: a network error
    listener(req, res);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}/`, gate, close: () => { server.close(); server.closeAllConnections(); } };
}

async function storedIds(nats, want, prefix) {
  let ids = [];
  for (let i = 0; i < 100; i++) {
    ids = (await readStream(nats.port, "clicks", { token: nats.token })).map((m) => m.msgId).filter((id) => id.startsWith(`${prefix}-`));
    if (ids.length >= want) break;
    await sleep(100);
  }
  return ids;
}

test("HTTP transport: 3,000 records through an ingest that drops connections for a while, each once with its page id", async () => {
  const nats = await startIngestNats("ingest-transport");
  const ingest = await startIngest(nats);
  const client = new Tributary();
  try {
    client.createTopic("clicks", { partitions: 4 });
    const token = await issueToken(SECRET, { prefix: "http1" });
    const states = [];
    const acks = [];
    const sink = connectIngest(client, "clicks", {
      url: ingest.url, token, msgIdPrefix: "http1-gen", linger: 10, maxBodyBytes: 16_384,
      backoffInitialMs: 20, backoffMaxMs: 200,
      onStateChange: (s) => states.push(s), onAck: (p) => acks.push(...p),
    });
    const producer = client.topicProducer("clicks", { linger: 5 });
    const sends = [];
    for (let i = 0; i < 3000; i++) {
      sends.push(producer.send(`user-${i % 17}`, JSON.stringify({ click: i, pad: "x".repeat(i % 50) })));
      if (i === 1000) { await Promise.all(sends); ingest.gate.down = true; }
      if (i === 1500) { await sleep(500); ingest.gate.down = false; }
      if (i % 250 === 0) await sleep(5);
    }
    await Promise.all(sends);
    await sink.flush({ timeoutMs: 60_000 });
    const ids = await storedIds(nats, 3000, "http1-gen");
    assert.equal(ids.length, 3000, "every record");
    assert.equal(new Set(ids).size, 3000, "each once");
    const counts = [0, 1, 2, 3].map((p) => client.partitionInfo("clicks", p).highWatermark);
    for (let p = 0; p < 4; p++) for (let o = 0; o < counts[p]; o++) assert.ok(ids.includes(`http1-gen-${p}-${o}`), `${p}-${o}`);
    const stats = sink.stats();
    assert.equal(stats.acked, 3000);
    assert.ok(stats.errors > 0 && states.includes("reconnecting") && states.at(-1) === "connected", `went through the failure: ${states}`);
    assert.ok(acks.every((a) => a.ackedOffset <= counts[a.partition]));
    await sink.close();
    await assert.rejects(sink.flush(), (e) => e.code === "SINK_CLOSED");
    console.log(`HTTP transport: 3000 records in ${stats.requests} requests (${stats.errors} failed while the ingest was down, ` +
      `${stats.resent} records sent again, ${stats.duplicates} duplicates dropped), each stored once`);
  } finally {
    await client.close();
    ingest.close();
    await nats.stop();
  }
});

test("HTTP transport: a refused token fails the transport with its code and keeps the records", async () => {
  const nats = await startIngestNats("ingest-transport-refused");
  const ingest = await startIngest(nats);
  const client = new Tributary();
  try {
    client.createTopic("clicks", { partitions: 4 });
    const token = await issueToken("not the ingest's secret, but long enough", { prefix: "http2" });
    const sink = connectIngest(client, "clicks", { url: ingest.url, token });
    await client.topicProducer("clicks").send("k", "v");
    await assert.rejects(sink.flush({ timeoutMs: 10_000 }), (e) => e.code === "TOKEN_INVALID" && e.undelivered.length === 1);
    assert.equal(sink.state, "failed");
    const partition = [0, 1, 2, 3].find((p) => client.partitionInfo("clicks", p).highWatermark === 1);
    assert.equal(client.read("clicks", partition, 0, 1).length, 1, "the record is still in the log");
    await sink.close();
  } finally {
    await client.close();
    ingest.close();
    await nats.stop();
  }
});

test("beaconUnacked: the records not acknowledged, as many as fit 64 KB, in one request; again: still once", async () => {
  const nats = await startIngestNats("ingest-beacon");
  const ingest = await startIngest(nats);
  const client = new Tributary();
  try {
    client.createTopic("clicks", { partitions: 4 });
    const token = await issueToken(SECRET, { prefix: "bcn" });
    const producer = client.topicProducer("clicks");
    await producer.sendAll(Array.from({ length: 1000 }, (_, i) => [`user-${i % 7}`, JSON.stringify({ click: i, pad: "y".repeat(80) })]));
    // No sink: nothing is acknowledged; 1,000 records of ~100 bytes do not fit 64 KB.
    const first = beaconUnacked(client, "clicks", { url: ingest.url, token, msgIdPrefix: "bcn-g1" });
    assert.equal(first.method, "fetch", "Node has no sendBeacon: fetch with keepalive");
    assert.ok(first.bytes <= KEEPALIVE_LIMIT && first.bytes > KEEPALIVE_LIMIT * 0.9, `${first.bytes} bytes`);
    assert.ok(first.records > 300 && first.records < 1000, `${first.records} records`);
    assert.equal(first.sent.reduce((n, s) => n + s.toOffset - s.fromOffset, 0), first.records);
    let ids = await storedIds(nats, first.records, "bcn-g1");
    assert.equal(ids.length, first.records);
    // From where the first one ended: the rest (a second request; a third finds nothing new).
    const from = new Map([0, 1, 2, 3].map((p) => [p, first.sent.find((s) => s.partition === p)?.toOffset ?? 0]));
    const second = beaconUnacked(client, "clicks", { url: ingest.url, token, msgIdPrefix: "bcn-g1", from });
    for (const s of second.sent) from.set(s.partition, s.toOffset);
    const third = beaconUnacked(client, "clicks", { url: ingest.url, token, msgIdPrefix: "bcn-g1", from });
    assert.equal(first.records + second.records, 1000);
    assert.equal(third.records, 0);
    // The whole thing again (a later visit's replay): duplicates.
    beaconUnacked(client, "clicks", { url: ingest.url, token, msgIdPrefix: "bcn-g1" });
    await sleep(1500);
    ids = await storedIds(nats, 1000, "bcn-g1");
    assert.equal(ids.length, 1000);
    assert.equal(new Set(ids).size, 1000);
    assert.deepEqual(beaconUnacked(client, "clicks", { url: ingest.url, token, from: new Map([[0, 1e6]]) }),
      { records: 0, bytes: 0, method: null, sent: [] }, "nothing to send: no request");
    console.log(`beaconUnacked: 1000 records in 2 requests of at most 64 KB (${first.records}, ${second.records}), a repeat dropped, each once`);
  } finally {
    await client.close();
    ingest.close();
    await nats.stop();
  }
});
