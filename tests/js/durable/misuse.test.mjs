// Issue 14's misuse defects in tributary/durable and its HTTP transport (pkg/durable.js,
// pkg/durable/journal.js, pkg/ingest-client.js, as the package ships them): options are
// read as own properties only, never from a polluted Object.prototype; a Map of headers
// is journaled as the producer takes it; a method called on another object is
// INVALID_ARGUMENT, rejected by the methods that return promises.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Journal } from "../../../pkg/durable/journal.js";
import { IngestSink, beaconUnacked } from "../../../pkg/ingest-client.js";
import { DurableProducer, DurableTopic } from "../../../pkg/durable.js";
import { Tributary } from "../../../pkg/node.js";
import { polluted } from "../app/misuse.mjs";


test("the journal keeps a send's own options only, and a Map of headers as an object", async () => {
  const j = new Journal("g", { generation: "g", topic: "t", partitions: 1 });
  const [plain, noHeaders] = await polluted({ headers: { evil: "x" }, partition: 0 }, () => {
    const a = j.enqueue("k", "v", {});
    const b = j.enqueue("k", "v", undefined);
    return [j.assign(a, 0, 0, 1), j.assign(b, 0, 1, 1)];
  });
  assert.deepEqual(plain.headers, {}, "no header from Object.prototype.headers");
  assert.deepEqual(noHeaders.headers, {});
  assert.deepEqual(j.outbox.get(0)[0].e.options, { headers: undefined, timestamp: undefined, partition: undefined });
  const m = j.enqueue("k", "v", { headers: new Map([["a", "b"]]), partition: 0 });
  assert.deepEqual(m.options, { headers: { a: "b" }, timestamp: undefined, partition: 0 });
  assert.deepEqual(j.assign(m, 0, 2, 1).headers, { a: "b" });
});

test("beaconUnacked reads its options as own properties: an inherited `read` or `from` is not used", async () => {
  const client = new Tributary({ seed: 1 });
  client.createTopic("t", { partitions: 1 });
  await client.topicProducer("t").send("k", "v");
  const result = await polluted({ read: () => [], from: new Map([[0, 1]]) }, () =>
    // Port 1: nothing listens; the request fails quietly (the records stay in the log).
    beaconUnacked(client, "t", { url: "http://127.0.0.1:1/ingest", token: "t", msgIdPrefix: "p" }));
  assert.equal(result.records, 1, "the log's one record, read from offset 0 by the log reader");
  await client.close();
});

test("DurableTopic, DurableProducer and IngestSink methods called on another object are INVALID_ARGUMENT", async () => {
  const cases = [
    [DurableProducer, ["send", "sendAll", "flush", "close"], ["stats"]],
    [DurableTopic, ["scan", "flush", "close"], ["producer", "stats", "pause", "resume"]],
    [IngestSink, ["flush", "close"], ["stats", "pause", "resume"]],
  ];
  for (const [C, promises, plain] of cases) {
    for (const receiver of [{}, Object.create(C.prototype), null]) {
      for (const name of promises) {
        let result;
        assert.doesNotThrow(() => (result = C.prototype[name].call(receiver, "k", "v")), `${C.name}.${name} rejects, never throws`);
        await assert.rejects(result, (e) => e.code === "INVALID_ARGUMENT", `${C.name}.${name}`);
      }
      for (const name of plain) {
        assert.throws(() => C.prototype[name].call(receiver), (e) => e.code === "INVALID_ARGUMENT", `${C.name}.${name}`);
      }
    }
    for (const getter of Object.entries(Object.getOwnPropertyDescriptors(C.prototype)).filter(([k, d]) => d.get && !k.startsWith("_"))) {
      assert.throws(() => getter[1].get.call({}), (e) => e.code === "INVALID_ARGUMENT", `${C.name}.${getter[0]}`);
    }
  }
});

// A DurableProducer over the outbox's journal alone (the page's lifecycle and storage are
// not needed to see what a send reads and journals): DurableTopic's own `_track`.
function durableProducer() {
  const client = new Tributary({ seed: 1 });
  client.createTopic("t", { partitions: 1 });
  const durable = {
    _journal: new Journal("g", { generation: "g", topic: "t", partitions: 1 }),
    _frozen: false,
    _base: [0],
    _queueSave() {},
    _checkIdle() {},
    _settled: () => Promise.resolve(),
    _track: DurableTopic.prototype._track,
  };
  return { client, durable, producer: new DurableProducer(durable, client.topicProducer("t")) };
}

test("DurableProducer.send and sendAll: a value that cannot be read is a coded rejection that journals and sends nothing", async () => {
  const { client, durable, producer } = durableProducer();
  const throwing = { get headers() { throw new Error("boom"); } };
  const detached = new Uint8Array(4);
  structuredClone(detached.buffer, { transfer: [detached.buffer] });
  const badEntry = ["k", "v"];
  Object.defineProperty(badEntry, 1, { get() { throw new Error("boom"); } });
  const calls = [
    () => producer.send("k", "v", throwing),
    () => producer.send(detached, "v"),
    () => producer.send("k", "v", { headers: { a: detached } }),
    () => producer.sendAll([["a", "1"], badEntry, ["c", "3"]]),
    () => producer.sendAll([["a", "1"], ["b", "2", throwing]]),
  ];
  for (const [n, call] of calls.entries()) {
    let p;
    assert.doesNotThrow(() => (p = call()), `call ${n} rejects, never throws`);
    await assert.rejects(p, (e) => e.code === "INVALID_ARGUMENT", `call ${n}`);
  }
  await assert.rejects(calls[3](), (e) => e.index === 1, "sendAll names the entry");
  await producer.flush();
  assert.equal(durable._journal.fresh.size, 0, "nothing left half-journaled");
  assert.equal([...durable._journal.records()].length, 0, "nothing journaled");
  assert.equal(client.partitionInfo("t", 0).records, 0, "nothing sent");
  // Still usable.
  producer.send("k", "v");
  await client.flush();
  assert.equal(client.partitionInfo("t", 0).records, 1);
  await client.close();
});

test("DurableProducer: each record is read once, and the journal keeps what was sent", async () => {
  const { client, durable, producer } = durableProducer();
  let reads = 0;
  const shifty = ["k", "v"];
  Object.defineProperty(shifty, 1, { get: () => `v${reads++}` });
  let hreads = 0;
  const headers = { get h() { return `h${hreads++}`; } };
  // (Their promises settle once the rows are written: this outbox writes none.)
  producer.sendAll([shifty, ["k2", "w", { headers }]]);
  producer.send("k3", "x", { headers });
  await client.flush();
  await new Promise((r) => setTimeout(r, 0));
  const logged = client.read("t", 0, 0, 10).map((r) => [new TextDecoder().decode(r.value), new TextDecoder().decode(r.headers.h ?? new Uint8Array())]);
  const journaled = [...durable._journal.records()].map((r) => [r.value, r.headers.h ?? ""]);
  assert.deepEqual(journaled, logged, "the journal holds exactly what the log holds");
  assert.deepEqual(logged, [["v0", ""], ["w", "h0"], ["x", "h1"]]);
  await client.close();
});
