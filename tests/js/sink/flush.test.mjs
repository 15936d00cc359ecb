// What `flush()` and `close()` wait for (the core's waiters, src/sink.rs) and how the
// socket's one-frame-per-turn writes behave, against fake NATS servers (fakenats.mjs):
// a flush resolves once every record appended before it is acknowledged, and rejects,
// naming what was not, when the sink stops or was closed first; what a connection queued
// never reaches the next one.
// Run: node --test --test-concurrency=1 tests/js/sink/flush.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { Tributary } from "../../../pkg/node.js";
import { sleep } from "../../../scripts/loopback.mjs";
import { fakeNats, msgId, ack } from "./fakenats.mjs";

const count = (ranges) => ranges.reduce((n, r) => n + r.toOffset - r.fromOffset, 0);
const outcome = (p) => p.then(() => "resolved", (e) => e);

test("a flush on a closed sink rejects with SINK_CLOSED naming what was not acknowledged, and resolves when all was", { timeout: 30_000 }, async () => {
  const server = await fakeNats({ on: (op, conn) => op.verb === "HPUB" && ack(conn, op.reply) });
  const client = new Tributary();
  try {
    client.createTopic("t", { partitions: 2 });
    client.createTopic("u", { partitions: 1 });
    const p = client.topicProducer("t");
    // Never connected (nothing listens there): closed with 3 records unacknowledged.
    const sink = client.connect("t", { server: "ws://127.0.0.1:9", WebSocket });
    await p.sendAll([["a", "1"], ["b", "2"], ["c", "3"]]);
    await sink.close({ timeoutMs: 0 });
    const e = await outcome(sink.flush());
    assert.equal(e.code, "SINK_CLOSED", String(e));
    assert.equal(count(e.undelivered), 3, JSON.stringify(e.undelivered));
    // Everything acknowledged before the close: a later flush has nothing to wait for.
    const ok = client.connect("u", { server: server.url, WebSocket });
    await client.topicProducer("u").send("k", "v");
    await ok.flush();
    await ok.close();
    assert.equal(await outcome(ok.flush()), "resolved");
  } finally {
    await client.close({ timeoutMs: 0 });
    await server.close();
  }
});

test("client.flush() racing client.close(): it rejects, it does not resolve with records unacknowledged", { timeout: 30_000 }, async () => {
  const client = new Tributary();
  client.createTopic("t", { partitions: 1 });
  client.connect("t", { server: "ws://127.0.0.1:9", WebSocket });
  await client.topicProducer("t").send("a", "b");
  const flushed = outcome(client.flush());
  await client.close({ timeoutMs: 0 });
  const e = await flushed;
  assert.notEqual(e, "resolved", "the record was never acknowledged");
  assert.ok(["SINK_CLOSED", "CLOSED"].includes(e.code), String(e));
});

test("restore into an empty partition a sink tracks: the restored records stay unacknowledged (not evicted by retention), a flush waits for them, each is published with its id", { timeout: 30_000 }, async () => {
  const ids = [];
  let acking = false;
  const server = await fakeNats({
    on: (op, conn) => {
      if (op.verb !== "HPUB") return;
      ids.push(msgId(op.headers));
      if (acking) ack(conn, op.reply);
    },
  });
  const client = new Tributary();
  try {
    client.createTopic("t", { partitions: 1, retention: { maxRecords: 4 } });
    const sink = client.connect("t", { server: server.url, WebSocket, msgIdPrefix: "page", ackTimeoutMs: 200 });
    const pending = outcome(sink.flush());
    client.restore("t", 0, Array.from({ length: 10 }, (_, i) => ({ offset: 100 + i, value: `v${i}`, timestamp: 1 })));
    const info = client.partitionInfo("t", 0);
    assert.equal(info.lostRecords, 0, JSON.stringify(info));
    assert.equal(info.ackedOffset, 100, JSON.stringify(info));
    assert.equal(info.records, 10, "unacknowledged records are kept over the retention bound");
    assert.equal(await pending, "resolved", "a flush made before the restore waited for nothing");
    const flushed = outcome(sink.flush({ timeoutMs: 10_000 }));
    await sleep(100);
    acking = true;
    assert.equal(await flushed, "resolved");
    for (let o = 100; o < 110; o++) assert.ok(ids.includes(`page-0-${o}`), `page-0-${o} published: ${ids}`);
    assert.equal(client.partitionInfo("t", 0).ackedOffset, 110);
    await sink.close();
  } finally {
    await client.close({ timeoutMs: 0 });
    await server.close();
  }
});

test("concurrent flushes across connection cuts: each resolves once its records are acknowledged; every connection begins CONNECT, PING, and none carries another's queued bytes", { timeout: 60_000 }, async () => {
  const ops = new Map(); // conn -> verbs in order
  const acked = new Set();
  let hpubs = 0;
  const server = await fakeNats({
    on: (op, conn) => {
      if (!ops.has(conn)) ops.set(conn, []);
      const list = ops.get(conn);
      list.push(op.verb === "HPUB" ? `HPUB ${msgId(op.headers)}` : op.verb);
      if (op.verb !== "HPUB") return;
      // Every 50th publish cuts the connection with what is queued (its ack never sent).
      if (++hpubs % 50 === 0) return conn.close();
      acked.add(msgId(op.headers));
      ack(conn, op.reply);
    },
  });
  const client = new Tributary();
  try {
    client.createTopic("t", { partitions: 4 });
    const sink = client.connect("t", { server: server.url, WebSocket, backoffInitialMs: 5, backoffMaxMs: 20, maxInFlight: 64 });
    const p = client.topicProducer("t");
    const flushes = [];
    let sent = 0;
    for (let round = 0; round < 5; round++) {
      await p.sendAll(Array.from({ length: 100 }, (_, i) => [`k${i}`, `v${round}-${i}`]));
      sent += 100;
      const upTo = sent;
      // When a flush resolves, the records sent before it are acknowledged.
      const settled = () => Math.min(sink.stats().acked, acked.size) >= upTo ? upTo : `${upTo}: ${sink.stats().acked} acked`;
      flushes.push(sink.flush().then(settled));
      flushes.push(client.flush().then(settled));
    }
    const done = await Promise.all(flushes);
    assert.deepEqual(done, [100, 100, 200, 200, 300, 300, 400, 400, 500, 500]);
    assert.equal(sink.stats().acked, 500);
    assert.equal(acked.size, 500, "each record acknowledged under its own id");
    assert.ok(sink.stats().disconnects >= 5, `${sink.stats().disconnects} cuts`);
    for (const list of ops.values()) {
      assert.deepEqual(list.slice(0, 3), ["CONNECT", "PING", "SUB"], list.slice(0, 6).join(" "));
      // A record goes again only on a later connection: never twice on one.
      const pubs = list.filter((v) => v.startsWith("HPUB"));
      assert.equal(new Set(pubs).size, pubs.length, "a connection carries each record once");
    }
    await sink.close();
  } finally {
    await client.close({ timeoutMs: 0 });
    await server.close();
  }
});

test("a flush racing close(): the pending flushes reject SINK_CLOSED naming the unacknowledged records; close reports the same", { timeout: 30_000 }, async () => {
  const server = await fakeNats(); // takes publishes, never acknowledges
  const client = new Tributary();
  try {
    client.createTopic("t", { partitions: 3 });
    const states = [];
    const sink = client.connect("t", { server: server.url, WebSocket, onStateChange: (s, e) => states.push([s, e]) });
    await client.topicProducer("t").sendAll(Array.from({ length: 30 }, (_, i) => [`k${i}`, "v"]));
    const a = outcome(sink.flush()), b = outcome(sink.flush({ timeoutMs: 60_000 })), c = outcome(client.flush());
    await sink.close({ timeoutMs: 200 });
    for (const e of [await a, await b, await c]) {
      assert.equal(e.code, "SINK_CLOSED", String(e));
      assert.equal(count(e.undelivered), 30, JSON.stringify(e.undelivered));
    }
    const [state, e] = states.at(-1);
    assert.equal(state, "closed");
    assert.equal(e.code, "SINK_CLOSED");
    assert.equal(count(e.undelivered), 30);
  } finally {
    await client.close({ timeoutMs: 0 });
    await server.close();
  }
});

test("close() reports a record given up and not yet named by a flush (SINK_CLOSED, undelivered), whatever its timeout; one a flush named is not named again", { timeout: 30_000 }, async () => {
  // max_payload 200: a 500-byte record is given up at once (too large), the rest acknowledged.
  const server = await fakeNats({ info: { max_payload: 200 }, on: (op, conn) => op.verb === "HPUB" && ack(conn, op.reply) });
  const client = new Tributary();
  try {
    client.createTopic("t", { partitions: 1 });
    const p = client.topicProducer("t");
    for (const timeoutMs of [undefined, 0]) {
      const states = [];
      const sink = client.connect("t", { server: server.url, WebSocket, onStateChange: (s, e) => states.push([s, e]) });
      const big = await p.send("a", "x".repeat(500));
      await p.send("b", "y");
      for (let i = 0; i < 100 && sink.stats().acked + sink.stats().failedRecords < 2; i++) await sleep(20);
      await sink.close({ timeoutMs });
      const [state, e] = states.at(-1);
      assert.equal(state, "closed");
      assert.equal(e?.code, "SINK_CLOSED", `timeoutMs ${timeoutMs}: ${e}`);
      assert.deepEqual(e.undelivered, [{ partition: 0, fromOffset: big.offset, toOffset: big.offset + 1 }]);
      assert.equal(sink.error, e);
    }
    // Named by a flush first: the close has nothing more to report.
    const states = [];
    const sink = client.connect("t", { server: server.url, WebSocket, onStateChange: (s, e) => states.push([s, e]) });
    const big = await p.send("c", "z".repeat(500));
    const e = await outcome(sink.flush());
    assert.equal(e.code, "SINK_UNDELIVERED");
    assert.deepEqual(e.undelivered, [{ partition: 0, fromOffset: big.offset, toOffset: big.offset + 1 }]);
    await sink.close();
    assert.notEqual(states.at(-1)[1]?.code, "SINK_CLOSED");
  } finally {
    await client.close({ timeoutMs: 0 });
    await server.close();
  }
});
