// Property tests over the JS API (issue 7), with fast-check: partitioning (determinism,
// range, a string and its UTF-8 bytes agree, the producer agrees with partitionFor, the
// murmur2 partitioner agrees with kafkajs), records round-tripping, sendAll's packed path
// landing exactly as the general path, and offsets consecutive per partition.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import fc from "fast-check";
import { Tributary, TributaryError, partitionFor } from "tributary";

const require = createRequire(import.meta.url);
const { Partitioners } = require("kafkajs");

const enc = new TextEncoder();
const dec = new TextDecoder();
const RUNS = { numRuns: 150 };

const text = fc.string({ unit: "binary", maxLength: 40 }); // well-formed: any code point
const bytes = fc.uint8Array({ maxLength: 60 });
const key = fc.oneof(fc.constant(null), text, bytes);
const value = fc.oneof(text, bytes);
// "__proto__" as a header name has its own case below too.
const headerName = text;
const headers = fc.dictionary(headerName, fc.oneof(text, bytes), { maxKeys: 4 });
const count = fc.integer({ min: 1, max: 65536 });
const asBytes = (v) => (typeof v === "string" ? enc.encode(v) : v);

test("partitionFor: deterministic, in range, and a string agrees with its UTF-8 bytes", () => {
  fc.assert(
    fc.property(text, count, (k, n) => {
      const p = partitionFor(k, n);
      assert.ok(Number.isInteger(p) && p >= 0 && p < n, `${p} of ${n}`);
      assert.equal(partitionFor(k, n), p);
      assert.equal(partitionFor(enc.encode(k), n), p);
    }),
    RUNS,
  );
});

test("partitionFor: one partition is always 0; bytes of any kind stay in range", () => {
  fc.assert(
    fc.property(bytes, count, (k, n) => {
      assert.equal(partitionFor(k, 1), 0);
      const p = partitionFor(k, n);
      assert.ok(p >= 0 && p < n);
    }),
    RUNS,
  );
});

test("partitionFor: a string with a lone surrogate is always INVALID_ARGUMENT", () => {
  fc.assert(
    fc.property(text, text, fc.integer({ min: 0xdc00, max: 0xdfff }), count, (a, b, unit, n) => {
      // A low surrogate after a well-formed string (and before anything) pairs with nothing.
      const bad = a + String.fromCharCode(unit) + b;
      assert.throws(() => partitionFor(bad, n), (e) => e instanceof TributaryError && e.code === "INVALID_ARGUMENT");
    }),
    RUNS,
  );
});

test("a keyed send lands on partitionFor(key, n); the murmur2 partitioner on kafkajs's choice", async () => {
  const kafkajs = Partitioners.DefaultPartitioner();
  await fc.assert(
    fc.asyncProperty(fc.oneof(text, bytes), fc.integer({ min: 1, max: 64 }), async (k, n) => {
      const client = new Tributary();
      client.createTopic("t", { partitions: n });
      const sip = await client.topicProducer("t").send(k, "v");
      assert.equal(sip.partition, partitionFor(k, n));
      const mm = await client.topicProducer("t", { partitioner: "murmur2" }).send(k, "v");
      const partitionMetadata = Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: 0 }));
      const want = kafkajs({ topic: "t", partitionMetadata, message: { key: Buffer.from(asBytes(k)), value: "v" } });
      assert.equal(mm.partition, want);
      await client.close();
    }),
    RUNS,
  );
});

test("send then read round-trips any key, value, headers and timestamp", async () => {
  await fc.assert(
    fc.asyncProperty(
      key, value, headers, fc.option(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), { nil: undefined }),
      async (k, v, h, timestamp) => {
        const client = new Tributary({ seed: 11 });
        client.createTopic("t", { partitions: 3 });
        const md = await client.topicProducer("t").send(k, v, { headers: h, timestamp });
        if (timestamp !== undefined) assert.equal(md.timestamp, timestamp);
        const [r] = client.read("t", md.partition, md.offset, 1);
        assert.equal(r.offset, md.offset);
        assert.equal(r.timestamp, md.timestamp);
        assert.deepEqual(r.key, k === null ? null : asBytes(k));
        assert.deepEqual(r.value, asBytes(v));
        assert.deepEqual(Object.keys(r.headers).sort(), Object.keys(h).sort());
        for (const [name, hv] of Object.entries(h)) assert.deepEqual(r.headers[name], asBytes(hv), `header ${name}`);
        await client.close();
      },
    ),
    RUNS,
  );
});

test("a header named __proto__ round-trips as an own property", async () => {
  const client = new Tributary();
  client.createTopic("t", { partitions: 1 });
  const h = JSON.parse('{"__proto__": "x", "a": "b"}'); // an own property named __proto__
  const md = await client.topicProducer("t").send("k", "v", { headers: h });
  const [r] = client.read("t", 0, md.offset, 1);
  await client.close();
  assert.deepEqual(Object.keys(r.headers).sort(), ["__proto__", "a"]);
  assert.ok(Object.hasOwn(r.headers, "__proto__"));
  assert.deepEqual(r.headers.__proto__, enc.encode("x"));
});

test("sendAll of string pairs (the packed path) lands exactly as the general path", async () => {
  const pair = fc.tuple(fc.oneof(fc.constant(null), fc.constant(undefined), text), text);
  await fc.assert(
    fc.asyncProperty(fc.array(pair, { maxLength: 30 }), fc.integer({ min: 1, max: 8 }), async (entries, n) => {
      const land = async (general) => {
        const client = new Tributary({ seed: 3 });
        client.createTopic("t", { partitions: n });
        // One entry with options sends the whole call down the general path.
        const mds = await client.topicProducer("t").sendAll(general ? [...entries, ["x", "y", {}]] : entries);
        const got = mds.slice(0, entries.length).map(({ timestamp, ...m }) => {
          const [r] = client.read("t", m.partition, m.offset, 1);
          return { ...m, key: r.key && dec.decode(r.key), value: dec.decode(r.value) };
        });
        await client.close();
        return got;
      };
      const packed = await land(false);
      assert.deepEqual(packed, await land(true));
      assert.deepEqual(packed.map((r) => r.value), entries.map(([, v]) => v));
      assert.deepEqual(packed.map((r) => r.key), entries.map(([k]) => (typeof k === "string" ? k : null)));
    }),
    RUNS,
  );
});

test("offsets are consecutive from 0 per partition, whatever the mix of send and sendAll", async () => {
  const n = 5;
  const record = fc.tuple(fc.oneof(fc.constant(null), text), fc.option(fc.integer({ min: 0, max: n - 1 }), { nil: undefined }));
  const call = fc.oneof(record.map((r) => [r]), fc.array(record, { minLength: 1, maxLength: 20 }));
  await fc.assert(
    fc.asyncProperty(fc.array(call, { maxLength: 15 }), fc.boolean(), async (calls, concurrent) => {
      const client = new Tributary({ seed: 5 });
      client.createTopic("t", { partitions: n });
      const producer = client.topicProducer("t", { batchSize: 256 });
      const run = (c) =>
        c.length === 1
          ? producer.send(c[0][0], "v", { partition: c[0][1] }).then((md) => [md])
          : producer.sendAll(c.map(([k, partition]) => [k, "v", { partition }]));
      const results = concurrent ? await Promise.all(calls.map(run)) : [];
      if (!concurrent) for (const c of calls) results.push(await run(c));
      const next = Array(n).fill(0);
      for (const [i, mds] of results.entries()) {
        for (const [j, md] of mds.entries()) {
          const [k, partition] = calls[i][j];
          if (partition !== undefined) assert.equal(md.partition, partition);
          else if (k !== null) assert.equal(md.partition, partitionFor(k, n));
          assert.equal(md.offset, next[md.partition]++, `partition ${md.partition}`);
        }
      }
      for (let p = 0; p < n; p++) assert.equal(client.partitionInfo("t", p).highWatermark, next[p]);
      const stats = producer.stats();
      const total = next.reduce((a, b) => a + b, 0);
      assert.equal(stats.records, total);
      assert.equal(stats.recordsAppended, total);
      await client.close();
    }),
    RUNS,
  );
});
