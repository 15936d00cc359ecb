// The conformance suite every runtime runs against the built package: partition table,
// offsets, retention, errors. `assert` is node:assert/strict (Node, Deno, Bun) or a
// small equivalent where that module does not exist.
import table from "../partition-table.mjs";
import { misuse } from "./misuse.mjs";

const hexBytes = (hex) => new Uint8Array(hex.match(/../g)?.map((h) => parseInt(h, 16)) ?? []);
const text = (bytes) => new TextDecoder().decode(bytes);

export const cases = {
  "partitionFor matches the shared table and DESIGN.md's samples"({ partitionFor }, assert) {
    for (const [hex, want] of table.rows) {
      const got = table.counts.map((n) => partitionFor(hexBytes(hex), n));
      assert.deepEqual(got, want, `key ${hex}`);
    }
    assert.deepEqual([2, 3, 7].map((n) => partitionFor("", n)), [1, 2, 3]);
    assert.deepEqual([2, 3, 7].map((n) => partitionFor("user-1", n)), [0, 1, 5]);
    assert.deepEqual([2, 3, 7].map((n) => partitionFor("click", n)), [0, 1, 4]);
  },

  async "send resolves with metadata; offsets start at 0 per partition, in order"({ Tributary, partitionFor }, assert) {
    const client = new Tributary({ seed: 1 });
    client.createTopic("clicks", { partitions: 4 });
    const producer = client.topicProducer("clicks");
    const mds = await Promise.all(Array.from({ length: 10 }, (_, i) => producer.send("user-42", `v${i}`)));
    const p = partitionFor("user-42", 4);
    assert.deepEqual(mds.map((m) => m.offset), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const m of mds) {
      assert.equal(m.topic, "clicks");
      assert.equal(m.partition, p);
      assert.equal(typeof m.timestamp, "number");
    }
    const records = client.read("clicks", p, 0, 100);
    assert.deepEqual(records.map((r) => text(r.value)), mds.map((_, i) => `v${i}`));
    assert.equal(text(records[0].key), "user-42");
  },

  async "sendAll crosses once and keeps order; null keys round-robin"({ Tributary }, assert) {
    const client = new Tributary({ seed: 2 });
    client.createTopic("t", { partitions: 3 });
    const producer = client.topicProducer("t");
    const mds = await producer.sendAll([["user-1", "a"], [null, "b"], [null, "c"], [null, "d", { partition: 2 }]]);
    assert.equal(mds.length, 4);
    assert.equal(mds[3].partition, 2);
    assert.equal((mds[1].partition + 1) % 3, mds[2].partition);
    const r = client.read("t", mds[1].partition, mds[1].offset, 1)[0];
    assert.equal(r.key, null);
    assert.equal(text(r.value), "b");
  },

  async "sendAll of plain string pairs (the packed path) lands exactly as the general path"({ Tributary, partitionFor }, assert) {
    const entries = [["user-1", "a"], [null, "b"], ["", "é ☃ 𝄞"], ["k".repeat(300), "v".repeat(5000)], [undefined, ""]];
    const land = async (withOption) => {
      const client = new Tributary({ seed: 3 });
      client.createTopic("t", { partitions: 5 });
      const producer = client.topicProducer("t");
      // One entry with options sends the whole call down the general path.
      const mds = await producer.sendAll(withOption ? [...entries, ["x", "y", {}]] : entries);
      return { client, mds: mds.slice(0, entries.length) };
    };
    const packed = await land(false);
    const general = await land(true);
    assert.deepEqual(packed.mds.map(({ timestamp, ...m }) => m), general.mds.map(({ timestamp, ...m }) => m));
    for (const [i, [k, v]] of entries.entries()) {
      const md = packed.mds[i];
      assert.equal(md.topic, "t");
      if (typeof k === "string") assert.equal(md.partition, partitionFor(k, 5));
      const [r] = packed.client.read("t", md.partition, md.offset, 1);
      assert.equal(text(r.value), v);
      assert.equal(r.key === null ? null : text(r.key), typeof k === "string" ? k : null);
    }
    // A lone surrogate is refused with its index, not replaced.
    const producer = packed.client.topicProducer("t");
    const refused = await producer.sendAll([["ok", "a"], ["bad", "\ud800"]]).then(() => null, (e) => e);
    assert.equal(refused?.code, "INVALID_ARGUMENT");
    assert.equal(refused.index, 1);
    assert.deepEqual(await producer.sendAll([]), []);
  },

  async "empty key and absent key are different; headers and timestamps round-trip"({ Tributary, partitionFor }, assert) {
    const client = new Tributary();
    client.createTopic("t", { partitions: 7 });
    const producer = client.topicProducer("t");
    const md = await producer.send("", "x", { timestamp: 1234, headers: { trace: "abc", bin: new Uint8Array([1, 2]) } });
    assert.equal(md.partition, partitionFor("", 7));
    assert.equal(md.timestamp, 1234);
    const [r] = client.read("t", md.partition, md.offset, 1);
    assert.deepEqual(r.key, new Uint8Array(0));
    assert.equal(r.timestamp, 1234);
    assert.equal(text(r.headers.trace), "abc");
    assert.deepEqual(r.headers.bin, new Uint8Array([1, 2]));
  },

  async "retention evicts from the head; reading an evicted offset is OFFSET_EVICTED with nextAvailable"({ Tributary }, assert) {
    const client = new Tributary();
    client.createTopic("r", { partitions: 1, retention: { maxRecords: 80 } });
    const producer = client.topicProducer("r");
    for (let i = 0; i < 50; i++) {
      await producer.sendAll(Array.from({ length: 10 }, (_, j) => [null, `${i * 10 + j}`]));
    }
    const info = client.partitionInfo("r", 0);
    assert.equal(info.highWatermark, 500);
    assert.ok(info.records <= 80, `records ${info.records}`);
    assert.equal(info.logStartOffset + info.records, 500);
    assert.equal(info.evictedRecords, 500 - info.records);
    const err = catchSync(() => client.read("r", 0, 0, 10));
    assert.equal(err.code, "OFFSET_EVICTED");
    assert.equal(err.nextAvailable, info.logStartOffset);
    const first = client.read("r", 0, info.logStartOffset, 1)[0];
    assert.equal(first.offset, info.logStartOffset);
    assert.equal(text(first.value), String(info.logStartOffset));
    assert.equal(producer.stats().evicted, info.evictedRecords);
  },

  async "errors are TributaryError with stable codes, and leave the client usable"({ Tributary, TributaryError }, assert) {
    const client = new Tributary();
    client.createTopic("e", { partitions: 2 });
    const producer = client.topicProducer("e", { maxRequestSize: 1000 });
    const codeOf = async (p) => {
      try {
        await p;
      } catch (e) {
        assert.ok(e instanceof TributaryError, `not a TributaryError: ${e}`);
        assert.ok(e instanceof Error);
        return e.code;
      }
      return "resolved";
    };
    const sync = (f) => catchSync(f).code;
    assert.equal(sync(() => client.createTopic("e", {})), "TOPIC_EXISTS");
    assert.equal(sync(() => client.createTopic("bad name", {})), "INVALID_TOPIC_NAME");
    assert.equal(sync(() => client.createTopic("z", { partitions: 0 })), "INVALID_CONFIG");
    assert.equal(sync(() => client.createTopic("z", { partitions: 1.5 })), "INVALID_CONFIG");
    assert.equal(sync(() => client.createTopic("z", { partitions: NaN })), "INVALID_CONFIG");
    assert.equal(sync(() => client.createTopic("z", { retention: { maxBytes: -1 } })), "INVALID_CONFIG");
    assert.equal(sync(() => client.topicProducer("nope")), "UNKNOWN_TOPIC");
    assert.equal(sync(() => client.topicProducer("e", { batchSize: "big" })), "INVALID_CONFIG");
    assert.equal(await codeOf(producer.send("k", "x".repeat(2000))), "RECORD_TOO_LARGE");
    assert.equal(await codeOf(producer.send("k", "v", { partition: 2 })), "PARTITION_OUT_OF_RANGE");
    assert.equal(await codeOf(producer.send("k", 42)), "INVALID_ARGUMENT");
    assert.equal(await codeOf(producer.send("\ud800", "v")), "INVALID_ARGUMENT");
    assert.equal(await codeOf(producer.send("k", "v", { timestamp: 2 ** 53 })), "INVALID_ARGUMENT");
    assert.equal(await codeOf(producer.send("k", "v", { timestamp: -1 })), "INVALID_ARGUMENT");
    assert.equal(await codeOf(producer.sendAll([["k", "ok"], ["k", "x".repeat(2000)]])), "RECORD_TOO_LARGE");
    assert.equal(sync(() => client.read("e", 0, 2 ** 53, 1)), "INVALID_ARGUMENT");
    assert.equal(sync(() => client.read("e", 5, 0, 1)), "PARTITION_OUT_OF_RANGE");
    assert.equal(sync(() => client.read("e", 0, 1, 1)), "OFFSET_OUT_OF_RANGE");
    // Nothing above was half-done: the log is empty and the producer still works.
    assert.equal(client.partitionInfo("e", 0).highWatermark + client.partitionInfo("e", 1).highWatermark, 0);
    const md = await producer.send("k", "fine");
    assert.equal(md.offset, 0);
    const stats = producer.stats();
    assert.equal(stats.records, 1);
    assert.equal(stats.recordsAppended, 1);
    await client.close();
    assert.equal(await codeOf(producer.send("k", "v")), "CLOSED");
    assert.equal(sync(() => client.createTopic("later", {})), "CLOSED");
  },

  async "a full queue fails fast with onQueueFull: error, and waits by default"({ Tributary }, assert) {
    const client = new Tributary();
    client.createTopic("q", { partitions: 1 });
    const fast = client.topicProducer("q", { batchSize: 100, batchQueueSize: 2, onQueueFull: "error" });
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => fast.send(null, "x".repeat(40))));
    const codes = results.filter((r) => r.status === "rejected").map((r) => r.reason.code);
    assert.ok(codes.length > 0 && codes.every((c) => c === "QUEUE_FULL"), JSON.stringify(codes));
    const ok = results.filter((r) => r.status === "fulfilled").map((r) => r.value.offset);
    assert.deepEqual(ok, ok.map((_, i) => i));
    const waiting = client.topicProducer("q", { batchSize: 100, batchQueueSize: 2 });
    const mds = await Promise.all(Array.from({ length: 20 }, (_, i) => waiting.send(null, `w${i}`.padEnd(40))));
    const offsets = mds.map((m) => m.offset);
    assert.deepEqual(offsets, offsets.map((_, i) => ok.length + i));
  },

  async "linger holds a batch until its timer fires; flush does not wait"({ Tributary }, assert) {
    const client = new Tributary();
    client.createTopic("l", { partitions: 1 });
    const producer = client.topicProducer("l", { linger: 40 });
    const started = Date.now();
    const md = await producer.send(null, "a");
    assert.ok(Date.now() - started >= 35, "resolved before the linger");
    assert.equal(md.offset, 0);
    const slow = client.topicProducer("l", { linger: 60_000 });
    const p = slow.send(null, "b");
    await client.flush();
    assert.equal((await p).offset, 1);
  },

  async "send and sendAll of bytes and text (staged in wasm memory) land as the general path lands them, also after wasm memory grew"({ Tributary }, assert) {
    const bytes = (n, seed) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);
    const entries = [
      [bytes(16, 1), bytes(100, 2)], ["ascii", bytes(3, 3)], [bytes(1, 4), "é ☃ 𝄞 x"], [null, bytes(1, 5)],
      ["naïve-key", "v"], [undefined, new Uint8Array(0)], [new Uint8Array(0), "empty key"], ["k", "x".repeat(70_000)],
    ];
    const client = new Tributary({ seed: 9 });
    client.createTopic("t", { partitions: 3 });
    const producer = client.topicProducer("t");
    const check = async (mds) => {
      for (const [i, [k, v]] of entries.entries()) {
        const [r] = client.read("t", mds[i].partition, mds[i].offset, 1);
        const want = (x) => (typeof x === "string" ? new TextEncoder().encode(x) : x);
        assert.deepEqual(r.value, want(v), `value ${i}`);
        assert.deepEqual(r.key, k == null ? null : want(k), `key ${i}`);
      }
    };
    const general = await producer.sendAll([...entries, ["x", "y", {}]]); // options: the general path
    await check(general);
    await check(await producer.sendAll(entries));
    await check(await Promise.all(entries.map(([k, v]) => producer.send(k, v))));
    // Wasm memory grows (views of it taken before are detached): what is staged after still lands intact.
    const memoryBefore = client.partitionInfo("t", 0).bytes;
    await producer.sendAll(Array.from({ length: 400 }, (_, i) => [`g${i}`, bytes(50_000, i)]));
    assert.ok(client.partitionInfo("t", 0).bytes > memoryBefore);
    await check(await producer.sendAll(entries));
    await check(await Promise.all(entries.map(([k, v]) => producer.send(k, v))));
    await client.close();
    // Closed: send and sendAll are CLOSED (the fast path writes nothing more into the
    // staging area; the soak's clients phase found writes after close corrupting the heap).
    const big = "x".repeat(100_000);
    assert.equal(await producer.send("k", big).then(() => "sent", (e) => e.code), "CLOSED");
    assert.equal(await producer.sendAll([["k", big]]).then(() => "sent", (e) => e.code), "CLOSED");
  },

  async "close appends what a linger holds, at once"({ Tributary }, assert) {
    const client = new Tributary();
    client.createTopic("t");
    const producer = client.topicProducer("t", { linger: 60_000 });
    const sent = producer.send(null, "v");
    await client.close();
    // Resolves at once: close flushed the batch its minute-long linger would have held.
    assert.equal((await sent).offset, 0);
    assert.equal(catchSync(() => client.createTopic("u")).code, "CLOSED");
  },

  // Issue 14's misuse defects (tests/js/app/misuse.mjs).
  ...misuse,
};

function catchSync(f) {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

/** Runs every case in order; returns { passed, failed, lines } (one line per case). */
export async function runAll(tributary, assert) {
  const lines = [];
  let passed = 0;
  let failed = 0;
  for (const [name, run] of Object.entries(cases)) {
    try {
      await run(tributary, assert);
      passed++;
      lines.push(`ok - ${name}`);
    } catch (e) {
      failed++;
      lines.push(`not ok - ${name}\n  ${e?.stack ?? e}`);
    }
  }
  return { passed, failed, lines };
}
