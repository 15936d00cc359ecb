// Records given up (issue 7; RELIABILITY.md: "A record given up (after `maxRetries`, or
// larger than the server's max payload) is counted (`failedRecords`) and named by
// `flush()`'s rejection (`undelivered`), never dropped silently"). Three ways a record
// is given up, each against a real nats-server:
// - larger than the server's `max_payload` (4 KB here), among records that fit;
// - `maxRetries` with a server that never acknowledges: no stream, and a plain NATS
//   subscriber on the subjects that swallows every publish (so each attempt ends in an
//   ack timeout), which also counts how often each record was sent;
// - `maxRetries` with a stream missing (each publish answered "no responders").
// Then the records given up are still in the log (`read()`) and a restored client
// resends them with their ids once the stream exists.
// Run: node --test --test-concurrency=1 --test-force-exit tests/js/security/*.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { connect as natsConnect } from "nats";
import { Tributary, TributaryError } from "../../../pkg/node.js";
import { startNats, readStream, checkDelivery } from "../sink/harness.mjs";
import { produce, addCounts } from "./helpers.mjs";

const dec = new TextDecoder();
const one = (partition, offset) => ({ partition, fromOffset: offset, toOffset: offset + 1 });
const byPlace = (a, b) => a.partition - b.partition || a.fromOffset - b.fromOffset;

test("a record larger than max_payload (4 KB) among 400 that fit: counted, named by flush's SINK_UNDELIVERED, the others delivered in order", { timeout: 30_000 }, async () => {
  const server = await startNats({ name: "maxpayload", extra: "max_payload: 4096" });
  const client = new Tributary({ seed: 41 });
  try {
    client.createTopic("mp", { partitions: 4 });
    const producer = client.topicProducer("mp");
    const sink = client.connect("mp", { server: server.url, WebSocket, provision: true });
    const before = await produce(producer, 200, { tag: "a" });
    const bigValue = "B".repeat(5000);
    const big = await producer.send("big-key", bigValue);
    const after = await produce(producer, 200, { tag: "b" });
    await assert.rejects(client.flush(), (e) => {
      assert.ok(e instanceof TributaryError, String(e));
      assert.equal(e.code, "SINK_UNDELIVERED", e.message);
      assert.equal(e.message, "some records were given up (see `undelivered`)");
      assert.deepEqual(e.undelivered, [one(big.partition, big.offset)], "exactly the big record");
      return true;
    });
    const stats = sink.stats();
    assert.equal(stats.failedRecords, 1, "failedRecords");
    assert.equal(stats.acked, 400, "every record that fits acknowledged");
    assert.equal(stats.published, 400, "the big one never written");
    assert.equal(stats.inFlight, 0);
    assert.equal(sink.state, "connected", "the sink goes on");
    assert.equal(sink.error.code, "SINK_UNDELIVERED");
    assert.equal(sink.error.message, `record ${big.offset} of partition ${big.partition} was not delivered`);
    // The log still holds it, byte for byte; its cursor has passed it (given up counts as
    // settled for the log: ackedOffset == highWatermark).
    const [held] = client.read("mp", big.partition, big.offset, 1);
    assert.equal(held.offset, big.offset);
    assert.equal(dec.decode(held.value), bigValue);
    assert.equal(dec.decode(held.key), "big-key");
    const info = client.partitionInfo("mp", big.partition);
    assert.equal(info.ackedOffset, info.highWatermark);

    // The stream holds the 400 others, each once, in offset order around the gap.
    const messages = await readStream(server.port, "mp", { timeoutMs: 15_000 });
    const expected = addCounts(before, after);
    assert.equal(messages.length, 400);
    assert.ok(!messages.some((m) => m.partition === big.partition && m.offset === big.offset), "the big record is not in the stream");
    const gapless = messages.map((m) => (m.partition === big.partition && m.offset > big.offset ? { ...m, offset: m.offset - 1 } : m));
    checkDelivery(assert, gapless, expected);

    // A given-up record is reported once, by the flush that settled after it: a later
    // flush whose records are all acknowledged resolves.
    await produce(producer, 10, { tag: "c" });
    await sink.flush();
    assert.equal(sink.stats().acked, 410);
    // A second record too large: the next flush names that one only.
    const big2 = await producer.send("big-key-2", bigValue);
    await assert.rejects(client.flush(), (e) => e.code === "SINK_UNDELIVERED" &&
      JSON.stringify(e.undelivered) === JSON.stringify([one(big2.partition, big2.offset)]));
    assert.equal(sink.stats().failedRecords, 2);
    await sink.close();
  } finally {
    await client.close();
    await server.stop();
  }
});

test("maxRetries: 2 and a server that never acknowledges (publishes swallowed): each record given up after 3 ack timeouts, counted, named; the log keeps them and a restored client delivers them", { timeout: 30_000 }, async () => {
  const N = 2;
  const server = await startNats({ name: "blackhole" });
  const nc = await natsConnect({ servers: `127.0.0.1:${server.port}` });
  const client = new Tributary({ seed: 42 });
  let again;
  try {
    // The black hole: a subscriber on the subjects (so no "no responders"), no stream,
    // no reply. It counts each record's sends by its Nats-Msg-Id.
    const sends = new Map();
    nc.subscribe("bh.*", {
      callback: (_, m) => {
        const id = m.headers?.get("Nats-Msg-Id");
        sends.set(id, (sends.get(id) ?? 0) + 1);
      },
    });
    await nc.flush();
    client.createTopic("bh", { partitions: 2 });
    const states = [];
    const acks = [];
    const sink = client.connect("bh", {
      server: server.url, WebSocket, maxRetries: N, ackTimeoutMs: 200,
      backoffInitialMs: 10, backoffMaxMs: 20, msgIdPrefix: "gen1",
      onStateChange: (s, e) => states.push(e ? `${s} (${e.code})` : s),
      onAck: (progress) => acks.push(...progress),
    });
    const values = ["v0", "v1", "v2", "v3", "v4", "v5"];
    const mds = await client.topicProducer("bh").sendAll(values.map((v, i) => [`key-${i}`, v]));
    const expected = mds.map((md) => one(md.partition, md.offset)).sort(byPlace);
    assert.ok(new Set(mds.map((md) => md.partition)).size === 2, "both partitions used");
    const started = Date.now();
    await assert.rejects(client.flush(), (e) => {
      assert.ok(e instanceof TributaryError, String(e));
      assert.equal(e.code, "SINK_UNDELIVERED", e.message);
      assert.deepEqual([...e.undelivered].sort(byPlace), expected, "every record named, one range each");
      return true;
    });
    const ms = Date.now() - started;
    const stats = sink.stats();
    assert.equal(stats.failedRecords, 6, "failedRecords");
    assert.equal(stats.acked, 0);
    assert.equal(stats.errors, 0, "no error replies: this path is timeouts");
    // Records are given up one at a time, each after N + 1 ack timeouts as the first
    // unacknowledged record of its partition.
    assert.equal(stats.timeouts, 6 * (N + 1), "ack timeouts");
    assert.equal(stats.inFlight, 0);
    // Every publish reached the black hole; a resend is every publish but the first.
    const total = [...sends.values()].reduce((a, b) => a + b, 0);
    assert.equal(stats.published, total, `published vs seen by the subscriber: ${JSON.stringify([...sends])}`);
    assert.equal(stats.resent, total - 6);
    for (const md of mds) {
      const n = sends.get(`gen1-${md.partition}-${md.offset}`) ?? 0;
      assert.ok(n >= N + 1, `${md.partition}@${md.offset} sent ${n} times, at least ${N + 1}`);
      if (md.offset === 0) assert.equal(n, N + 1, `${md.partition}@0 sent exactly ${N + 1} times`);
    }
    assert.equal(sink.state, "connected");
    assert.deepEqual(states, ["connected"], "no state change: the connection was fine");
    assert.equal(sink.error.code, "SINK_UNDELIVERED");
    // The log's cursor passed them (onAck reports it as progress, ackedOffset too) ...
    for (const p of [0, 1]) {
      const info = client.partitionInfo("bh", p);
      assert.equal(info.ackedOffset, info.highWatermark, `partition ${p}: cursor past the given-up records`);
      assert.equal(info.records, info.highWatermark, `partition ${p}: but the log still holds them`);
    }
    // onAck reports that as progress too (with stream sequence 0: nothing was stored),
    // naming each record it passed without an ack in `givenUp`, so an app deleting what
    // onAck covers (tributary/durable's outbox does) knows what never arrived.
    for (const p of [0, 1]) {
      const last = acks.filter((a) => a.partition === p).at(-1);
      assert.equal(last.ackedOffset, client.partitionInfo("bh", p).highWatermark, `onAck progress of partition ${p}`);
      assert.equal(last.streamSeq, 0);
      const givenUp = acks.filter((a) => a.partition === p).flatMap((a) => a.givenUp ?? []);
      assert.deepEqual(givenUp, expected.filter((r) => r.partition === p),
        `onAck's givenUp of partition ${p}: ${JSON.stringify(acks)}`);
    }
    // ... and still holds them: read them back and resend from a restored client once
    // the stream exists, with the same ids.
    const saved = [0, 1].map((p) => client.read("bh", p, 0, 100));
    assert.deepEqual(saved.flat().map((r) => dec.decode(r.value)).sort(), values);
    console.log(`maxRetries ${N}: 6 records given up in ${ms} ms; sends per record ${JSON.stringify(Object.fromEntries(sends))}`);
    await sink.close();
    await client.close();

    nc.close();
    const admin = await natsConnect({ servers: `127.0.0.1:${server.port}` });
    await (await admin.jetstreamManager()).streams.add({ name: "bh", subjects: ["bh.*"] });
    await admin.close();
    again = new Tributary({ seed: 43 });
    again.createTopic("bh", { partitions: 2 });
    for (const p of [0, 1]) again.restore("bh", p, saved[p]);
    const resend = again.connect("bh", { server: server.url, WebSocket, msgIdPrefix: "gen1" });
    await again.flush();
    assert.equal(resend.stats().acked, 6);
    assert.equal(resend.stats().failedRecords, 0);
    const counts = new Map([0, 1].map((p) => [p, saved[p].length]));
    const messages = await readStream(server.port, "bh", { timeoutMs: 15_000 });
    checkDelivery(assert, messages, counts);
    assert.deepEqual(messages.map((m) => m.msgId).sort(), mds.map((md) => `gen1-${md.partition}-${md.offset}`).sort());
    await resend.close();
  } finally {
    await again?.close();
    await client.close().catch(() => {});
    await nc.close().catch(() => {});
    await server.stop();
  }
});

test("maxRetries: 3 and no stream (every publish answered 'no responders'): every record given up, counted, named; SINK_NO_STREAM while retrying", { timeout: 30_000 }, async () => {
  const N = 3;
  const server = await startNats({ name: "nostream" });
  const client = new Tributary({ seed: 44 });
  try {
    client.createTopic("ns", { partitions: 2 });
    const errors = [];
    const sink = client.connect("ns", {
      server: server.url, WebSocket, maxRetries: N, backoffInitialMs: 20, backoffMaxMs: 40,
    });
    const mds = await client.topicProducer("ns").sendAll([0, 1, 2, 3, 4, 5].map((i) => [`key-${i}`, `v${i}`]));
    // While retrying, the sink names the cause.
    const watch = setInterval(() => { if (sink.error) errors.push(sink.error.code); }, 5);
    try {
      await assert.rejects(client.flush(), (e) => {
        assert.equal(e.code, "SINK_UNDELIVERED", e.message);
        assert.deepEqual([...e.undelivered].sort(byPlace), mds.map((md) => one(md.partition, md.offset)).sort(byPlace));
        return true;
      });
    } finally {
      clearInterval(watch);
    }
    const stats = sink.stats();
    assert.equal(stats.failedRecords, 6);
    assert.equal(stats.acked, 0);
    assert.equal(stats.timeouts, 0, "this path is error replies");
    assert.equal(stats.errors, stats.published, "every publish answered with an error");
    assert.ok(stats.published >= 6 * (N + 1), `each record sent at least ${N + 1} times: ${stats.published} publishes`);
    assert.ok(errors.includes("SINK_NO_STREAM"), `sink.error while retrying: ${[...new Set(errors)]}`);
    assert.equal(sink.error.code, "SINK_UNDELIVERED", "the cause is replaced by the give-up");
    for (const md of mds) assert.equal(client.read("ns", md.partition, md.offset, 1)[0].offset, md.offset, "still in the log");
    await sink.close();
  } finally {
    await client.close();
    await server.stop();
  }
});

test("tributary/durable: a record given up leaves the outbox reported (onError SINK_UNDELIVERED with the record, stats().undelivered), never silently", { timeout: 30_000 }, async () => {
  const { openDurable } = await import("../../../pkg/durable.js");
  const server = await startNats({ name: "durablegiveup", extra: "max_payload: 4096" });
  const client = new Tributary({ seed: 45 });
  const errors = [];
  let durable;
  try {
    client.createTopic("dg", { partitions: 2 });
    durable = await openDurable(client, "dg", {
      server: server.url, WebSocket, provision: true, storage: "none",
      window: new EventTarget(), onError: (e) => errors.push(e),
    });
    const producer = durable.producer();
    const small = await Promise.all([0, 1, 2, 3].map((i) => producer.send(`k${i}`, `v${i}`)));
    const bigValue = "B".repeat(5000);
    const big = await producer.send("big", bigValue);
    await assert.rejects(durable.flush(), (e) => e.code === "SINK_UNDELIVERED" &&
      JSON.stringify(e.undelivered) === JSON.stringify([one(big.partition, big.offset)]));
    await new Promise((r) => setTimeout(r, 50)); // onAck runs after the flush settles
    assert.equal(errors.length, 1, errors.map(String).join("; "));
    const [e] = errors;
    assert.equal(e.name, "DurableError");
    assert.equal(e.code, "SINK_UNDELIVERED");
    assert.match(e.message, new RegExp(`^1 record of partition ${big.partition} .* given up by the sink`));
    assert.equal(e.records.length, 1);
    assert.equal(e.records[0].partition, big.partition);
    assert.equal(e.records[0].offset, big.offset);
    assert.equal(e.records[0].key, "big");
    assert.equal(e.records[0].value, bigValue);
    const stats = durable.stats();
    assert.equal(stats.undelivered, 1);
    assert.equal(stats.pending, 0, "nothing left waiting: four acknowledged, one given up and reported");
    assert.equal(durable.lastError, e);
    const messages = await readStream(server.port, "dg", { timeoutMs: 15_000 });
    assert.equal(messages.length, small.length);
  } finally {
    await durable?.close();
    await client.close();
    await server.stop();
  }
});

test("a record given up after a flush was made, beyond that flush's records, is reported by the next flush", { timeout: 30_000 }, async () => {
  const server = await startNats({ name: "reportonce", extra: "max_payload: 4096" });
  const client = new Tributary({ seed: 46 });
  try {
    client.createTopic("ro", { partitions: 1 });
    const producer = client.topicProducer("ro");
    const sink = client.connect("ro", { server: server.url, WebSocket, provision: true });
    await client.flush(); // connected, the stream made
    await producer.send("a", "small");
    const first = sink.flush(); // covers offset 0 only
    const big = await producer.send("b", "B".repeat(5000)); // offset 1: given up when published
    await first; // everything it covers arrived
    await assert.rejects(sink.flush(), (e) => {
      assert.equal(e.code, "SINK_UNDELIVERED", e.message);
      assert.deepEqual(e.undelivered, [one(0, big.offset)]);
      return true;
    });
    await producer.send("c", "small again");
    await sink.flush(); // reported once: the next flush resolves
    assert.equal(sink.stats().failedRecords, 1);
    assert.equal(sink.stats().acked, 2);
  } finally {
    await client.close();
    await server.stop();
  }
});
