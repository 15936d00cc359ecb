// The plain C ABI's boundary attacked from the public API (js/tributary.js over
// src/bindings): the one staging area, the one answer buffer, handles and receivers,
// values that run the user's code in the middle of a call. Each case ends by checking
// that the client still produces and reads what it should.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tributary, TopicProducer, TributaryError } from "tributary";

const text = (b) => (b == null ? null : Buffer.from(b).toString());
const values = (client, topic, partition = 0) => client.read(topic, partition, 0, 1000).map((r) => text(r.value));

function client2() {
  const client = new Tributary({ seed: 1 });
  client.createTopic("t", { partitions: 1 });
  client.createTopic("u", { partitions: 1 });
  return client;
}

/** Still usable: a record sent now lands and reads back. */
async function stillProduces(client, topic = "t") {
  const p = client.topicProducer(topic);
  const md = await p.send("k", "still");
  assert.equal(text(client.read(topic, 0, md.offset, 1)[0].value), "still");
  await p.close();
}

test("a call refused half-way through staging leaves nothing staged for the next call", async () => {
  const client = client2();
  await client.topicProducer("t").send("k", "a");
  // restore's partition is refused after its topic was staged; encodeBatch's second record
  // after the first was: the next call's topic must be its own.
  assert.throws(() => client.restore("u", -1, []), { code: "INVALID_ARGUMENT" });
  assert.equal(client.partitionInfo("t", 0).highWatermark, 1);
  const good = { offset: 0, key: null, value: "a", timestamp: 1 };
  assert.throws(() => Tributary.encodeBatch([good, { offset: 1, key: null, value: 5, timestamp: 1 }]), { code: "INVALID_ARGUMENT" });
  assert.equal(client.partitionInfo("t", 0).highWatermark, 1);
  assert.throws(() => client.restore("u", 0, [good, { offset: 1, value: "b", timestamp: -1 }]), { code: "INVALID_ARGUMENT" });
  assert.equal(client.partitionInfo("t", 0).highWatermark, 1);
  assert.equal(client.partitionInfo("u", 0).highWatermark, 0);
  await stillProduces(client);
  client.free();
});

test("a getter calling into the package while encodeBatch or restore reads its records", async () => {
  const client = client2();
  const first = { offset: 0, key: null, value: "a", timestamp: 1 };
  const second = {
    offset: 1,
    key: null,
    timestamp: 1,
    get value() {
      client.partitionInfo("t", 0);
      Tributary.encodeBatch([{ offset: 9, key: "x", value: "xxxxxxxx", timestamp: 5 }]);
      return "b";
    },
  };
  const batch = Tributary.encodeBatch([first, second]);
  assert.deepEqual(Tributary.decodeBatch(batch).records.map((r) => [r.offset, text(r.value)]), [[0, "a"], [1, "b"]]);
  const restored = {
    offset: 0,
    key: "k",
    timestamp: 1,
    get value() {
      client.createTopic("zz");
      return "r";
    },
  };
  client.restore("u", 0, [restored]);
  assert.deepEqual(values(client, "u"), ["r"]);
  assert.deepEqual(client.topics(), ["t", "u", "zz"]);
  await stillProduces(client);
  client.free();
});

test("settling promises runs the user's `then` getter: a call from it does not corrupt the report being settled", async () => {
  const client = client2();
  const p = client.topicProducer("t");
  let calls = 0;
  Object.defineProperty(Object.prototype, "then", {
    configurable: true,
    get() {
      if (calls++ < 20) {
        // Answers written over the answer buffer, and memory grown, in the middle of settling.
        client.read("t", 0, 0, 1000);
        client.partitionInfo("t", 0);
        client.topics();
        p.stats();
      }
      return undefined;
    },
  });
  let sent;
  try {
    sent = [p.send("k0", "v0"), p.send("k1", "v1"), p.sendAll([["k2", "v2"], ["k3", "v3"]]), p.send("k", "v", { partition: 4 }).catch((e) => e.code)];
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    delete Object.prototype.then;
  }
  const [a, b, group, refused] = await Promise.all(sent);
  assert.deepEqual([a.offset, b.offset, group.map((m) => m.offset), refused], [0, 1, [2, 3], "PARTITION_OUT_OF_RANGE"]);
  assert.ok(calls > 0);
  assert.deepEqual(values(client, "t"), ["v0", "v1", "v2", "v3"]);
  await stillProduces(client);
  client.free();
});

test("Object.prototype[Symbol.iterator] calling into the package while an answer is read", async () => {
  const client = client2();
  const p = client.topicProducer("t");
  await p.sendAll([["a", "1"], ["b", "22"], ["c", "333"]]);
  let calls = 0;
  Object.defineProperty(Object.prototype, Symbol.iterator, {
    configurable: true,
    get() {
      calls++;
      client.partitionInfo("u", 0);
      client.topics();
      return undefined;
    },
  });
  let read, topics, info;
  try {
    read = client.read("t", 0, 0, 10).map((r) => [text(r.key), text(r.value)]);
    topics = client.topics();
    info = client.partitionInfo("t", 0);
  } finally {
    delete Object.prototype[Symbol.iterator];
  }
  assert.deepEqual(read, [["a", "1"], ["b", "22"], ["c", "333"]]);
  assert.deepEqual(topics, ["t", "u"]);
  assert.equal(info.highWatermark, 3);
  await stillProduces(client);
  client.free();
});

test("a Uint8Array's own `length` / `byteLength` properties are not its bytes", async () => {
  const client = client2();
  const p = client.topicProducer("t");
  const lying = new Uint8Array([65, 65, 65, 65]);
  Object.defineProperty(lying, "length", { value: 2 });
  Object.defineProperty(lying, "byteLength", { value: 1 });
  await p.sendAll([[null, lying], [null, "BB"]]);
  await p.send(null, lying);
  await p.send(null, lying, { headers: { h: lying } });
  // A `length` or `byteLength` getter that sends while sendAll stages its records: the
  // package does not call it (it reads the internal slots), and a send from it could not
  // write over what is staged.
  const calling = new Uint8Array([67, 67, 67]);
  let inner = 0;
  for (const k of ["length", "byteLength"]) {
    Object.defineProperty(calling, k, {
      get() {
        inner++;
        p.send("xxxxxxxxxxxxxxxx", "yyyyyyyyyyyyyyyyyyyyy");
        return 3;
      },
    });
  }
  await p.sendAll([["k1", calling], ["k2", "DD"]]);
  await p.send("k3", calling);
  await client.flush();
  const got = values(client, "t");
  assert.deepEqual(got.slice(0, 4), ["AAAA", "BB", "AAAA", "AAAA"]);
  assert.deepEqual(text(client.read("t", 0, 3, 1)[0].headers.h), "AAAA");
  assert.deepEqual(got.slice(4), ["CCC", "DD", "CCC"]);
  assert.equal(inner, 0);
  await stillProduces(client);
  client.free();
});

test("holes in sendAll, restore and encodeBatch arrays are never read through Array.prototype", async () => {
  const client = client2();
  const p = client.topicProducer("t");
  const refused = async (promise, index) => {
    const e = await promise.then(() => assert.fail("taken"), (e) => e);
    assert.ok(e instanceof TributaryError);
    assert.equal(e.code, "INVALID_ARGUMENT");
    assert.equal(e.index, index);
  };
  Array.prototype[0] = ["pk", "pv"];
  Array.prototype[1] = "polluted";
  try {
    await refused(p.sendAll([["k"]]), 0); // fast path: no value
    await refused(p.sendAll([["k", , { timestamp: 1 }]]), 0); // general path
    await refused(p.sendAll([["k", "v"], , ["k", "v"]]), 1); // a hole for an entry
    await refused(p.sendAll([, ["k", "v"]]), 0);
    const md = await p.sendAll([[, "no key"]]); // a hole for a key: no key
    assert.equal(client.read("t", 0, md[0].offset, 1)[0].key, null);
    assert.throws(() => client.restore("u", 0, [, { offset: 1, key: null, value: "x", timestamp: 1 }]), { code: "INVALID_ARGUMENT" });
    assert.throws(() => Tributary.encodeBatch([, { offset: 1, key: null, value: "x", timestamp: 1 }]), { code: "INVALID_ARGUMENT" });
  } finally {
    delete Array.prototype[0];
    delete Array.prototype[1];
  }
  assert.deepEqual(values(client, "t"), ["no key"]);
  assert.equal(client.partitionInfo("u", 0).highWatermark, 0);
  await stillProduces(client);
  client.free();
});

const code = async (f) => {
  try {
    const r = f();
    if (r instanceof Promise) {
      const v = await r.then(() => "ok", (e) => (e instanceof TributaryError ? `rejected ${e.code}` : `rejected ${e}`));
      return v;
    }
    return "ok";
  } catch (e) {
    return e instanceof TributaryError ? `threw ${e.code}` : `threw ${e}`;
  }
};

test("closed and freed clients and producers: CLOSED, thrown or rejected as the method returns, never another client's data", async () => {
  const c1 = client2();
  const p1 = c1.topicProducer("t", { linger: 600_000 });
  const pending = p1.send("k", "queued").then(() => "landed", (e) => e.code);
  const waiting = c1.topicProducer("t", { batchSize: 1, batchQueueSize: 1, linger: 600_000 });
  const waits = [1, 2, 3].map((i) => waiting.send("k", `w${i}`).then(() => "landed", (e) => e.code));
  c1.free(); // as close(): sent records are appended, those waiting for room fail
  assert.equal(await pending, "landed");
  for (const o of await Promise.all(waits)) assert.ok(o === "landed" || o === "CLOSED", o);
  // The next client takes the freed slot: the old objects must not reach it.
  const c2 = client2();
  const p2 = c2.topicProducer("t", { linger: 600_000 });
  p2.send("k", "mine");
  assert.equal(await code(() => p1.send("k", "old")), "rejected CLOSED");
  assert.equal(await code(() => p1.sendAll([["k", "old"]])), "rejected CLOSED");
  assert.equal(await code(() => p1.stats()), "threw CLOSED");
  assert.equal(await code(() => p1.flush()), "rejected CLOSED");
  assert.equal(await code(() => c1.read("t", 0, 0, 1)), "threw CLOSED");
  assert.equal(await code(() => c1.topics()), "threw CLOSED");
  assert.equal(await code(() => c1.flush()), "rejected CLOSED");
  assert.equal(await code(() => c1.free()), "threw CLOSED");
  assert.equal(await code(() => p1.close()), "ok");
  assert.equal(await code(() => p1.free()), "ok");
  assert.equal(p2.stats().records, 1, "the old producer's calls did not touch the new one");
  await c2.flush();
  assert.deepEqual(values(c2, "t"), ["mine"]);

  // Closed (not freed): every producer call is CLOSED, the client's own reads too.
  await c2.close();
  assert.equal(await code(() => p2.send("k", "v")), "rejected CLOSED");
  assert.equal(await code(() => p2.stats()), "threw CLOSED");
  assert.equal(await code(() => c2.read("t", 0, 0, 1)), "threw CLOSED");
  assert.equal(await code(() => c2.topicProducer("t")), "threw CLOSED");
  assert.equal(await code(() => c2.createTopic("v")), "threw CLOSED");
  assert.equal(await code(() => c2.close()), "ok");
  assert.equal(await code(() => c2.free()), "ok");
  assert.equal(await code(() => c2.free()), "threw CLOSED");
  const c3 = client2();
  await stillProduces(c3);
  c3.free();
});

test("every method and getter refuses a wrong receiver with INVALID_ARGUMENT, rejected where it returns a promise", async () => {
  const client = client2();
  const producer = client.topicProducer("t");
  const other = client2();
  const receivers = {
    Tributary: [{}, producer, Object.create(Tributary.prototype), null, 1],
    TopicProducer: [{}, client, other, Object.create(TopicProducer.prototype), null],
  };
  const promised = ["send", "sendAll", "flush", "close", "connect"];
  for (const [name, C] of [["Tributary", Tributary], ["TopicProducer", TopicProducer]]) {
    for (const k of Reflect.ownKeys(C.prototype)) {
      if (k === "constructor") continue;
      const d = Object.getOwnPropertyDescriptor(C.prototype, k);
      const f = d.get ?? d.value;
      for (const r of receivers[name]) {
        const got = await code(() => f.call(r, "t", 0, 0, 1));
        const want = promised.includes(k) && k !== "connect" ? "rejected INVALID_ARGUMENT" : "threw INVALID_ARGUMENT";
        assert.equal(got, want, `${name}.${String(k)} on ${Object.prototype.toString.call(r)}`);
      }
    }
  }
  // A subclass instance is an instance.
  class Mine extends Tributary {}
  const mine = new Mine({ seed: 1 });
  mine.createTopic("t");
  await stillProduces(mine);
  mine.free();
  assert.deepEqual(client.topics(), ["t", "u"]);
  await stillProduces(client);
  await stillProduces(other);
  client.free();
  other.free();
});

test("numbers: NaN, ±Infinity, -0, negatives, fractions, 2^53, BigInt and Symbols for every numeric argument", async () => {
  const client = client2();
  const p = client.topicProducer("t");
  const bad = [NaN, Infinity, -Infinity, -1, 1.5, 2 ** 53, 10n, Symbol("n"), "1", null];
  for (const v of bad) {
    const calls = [
      () => p.send("k", "v", { partition: v }),
      () => p.send("k", "v", { timestamp: v }),
      () => p.sendAll([["k", "v", { partition: v }]]),
      () => client.read("t", v, 0, 1),
      () => client.read("t", 0, v, 1),
      () => client.read("t", 0, 0, v),
      () => client.partitionInfo("t", v),
      () => client.restore("u", v, []),
      () => client.restore("u", 0, [{ offset: v, key: null, value: "x", timestamp: 1 }]),
      () => client.restore("u", 0, [{ offset: 0, key: null, value: "x", timestamp: v }]),
      () => Tributary.decodeBatch(new Uint8Array(1), v),
      () => new Tributary({ seed: v }),
    ];
    for (const [i, f] of calls.entries()) {
      const got = await code(f);
      assert.match(got, /(threw|rejected) INVALID_ARGUMENT/, `call ${i} with ${String(v)}`);
    }
    for (const k of ["batchSize", "linger", "maxRequestSize", "batchQueueSize"]) {
      assert.equal(await code(() => client.topicProducer("t", { [k]: v })), "threw INVALID_CONFIG", `${k} ${String(v)}`);
    }
    for (const k of ["partitions", "replicationFactor"]) {
      assert.equal(await code(() => client.createTopic("n", { [k]: v })), "threw INVALID_CONFIG", `${k} ${String(v)}`);
    }
  }
  // -0 is 0.
  assert.equal((await p.send("k", "v", { partition: -0, timestamp: -0 })).timestamp, 0);
  assert.equal(client.read("t", -0, -0, 1).length, 1);
  assert.deepEqual(client.topics(), ["t", "u"]);
  await stillProduces(client);
  client.free();
});

test("the sink's methods and getters refuse a wrong receiver with INVALID_ARGUMENT, rejected where they return a promise", async () => {
  const { Sink } = await import("tributary");
  const client = client2();
  for (const k of Reflect.ownKeys(Sink.prototype)) {
    if (k === "constructor") continue;
    const d = Object.getOwnPropertyDescriptor(Sink.prototype, k);
    const f = d.get ?? d.value;
    for (const r of [{}, client, Object.create(Sink.prototype)]) {
      const want = k === "flush" || k === "close" ? "rejected INVALID_ARGUMENT" : "threw INVALID_ARGUMENT";
      assert.equal(await code(() => f.call(r)), want, `Sink.${String(k)}`);
    }
  }
  assert.throws(() => new Sink(), { code: "INVALID_ARGUMENT" });
  await stillProduces(client);
  client.free();
});

test("sendAll: a buffer detached or grown by a later entry's getter is a coded rejection, nothing appended", async () => {
  const client = client2();
  const p = client.topicProducer("t");
  // The fast path sizes each entry as it reads it; a later entry's Proxy then detaches
  // (or grows) an earlier entry's buffer before it is copied.
  const detached = new Uint8Array(4);
  const detach = new Proxy(["k", "v"], {
    get(t, k, r) {
      if (detached.length) structuredClone(detached.buffer, { transfer: [detached.buffer] });
      return Reflect.get(t, k, r);
    },
  });
  await assert.rejects(p.sendAll([[null, detached], detach]), (e) => e instanceof TributaryError && e.code === "INVALID_ARGUMENT" && e.index === 0);
  const rab = new ArrayBuffer(8, { maxByteLength: 1 << 16 });
  const grown = new Uint8Array(rab);
  const grow = new Proxy(["k", "v"], {
    get(t, k, r) {
      rab.resize(1 << 16);
      return Reflect.get(t, k, r);
    },
  });
  const md = await p.sendAll([[null, grown], grow]);
  assert.deepEqual(md.map((m) => m.offset), [0, 1]);
  assert.deepEqual(client.read("t", 0, 0, 10).map((r) => r.value.length), [1 << 16, 1]);
  await stillProduces(client);
  client.free();
});

test("an error's name and code are its own, whatever accessors Object.prototype holds", async () => {
  const { DurableError } = await import("tributary/durable");
  let set = 0;
  for (const k of ["name", "code", "records"]) {
    Object.defineProperty(Object.prototype, k, { configurable: true, get: () => "evil", set: () => void set++ });
  }
  let e;
  try {
    try {
      new Tributary({ seed: NaN });
    } catch (x) {
      e = x;
    }
    const d = new DurableError("STORAGE_FAILED", "m");
    assert.ok(e instanceof TributaryError);
    assert.deepEqual([e.name, e.code, Object.hasOwn(e, "code")], ["TributaryError", "INVALID_ARGUMENT", true]);
    assert.deepEqual([d.name, d.code, d.records, Object.hasOwn(d, "records")], ["DurableError", "STORAGE_FAILED", undefined, true]);
  } finally {
    for (const k of ["name", "code", "records"]) delete Object.prototype[k];
  }
  assert.equal(set, 0);
});

test("the package's own state is never read through Object.prototype (`h`, Symbol.iterator, setters)", async () => {
  const client = client2();
  const p = client.topicProducer("t");
  const freed = client.topicProducer("t");
  freed.free();
  let md, headers, stats;
  try {
    Object.prototype.h = 0;
    md = await p.send("k", "v");
    Object.prototype.h = 1;
    await assert.rejects(freed.send("k", "v"), { code: "CLOSED", message: /not a live TopicProducer/ });
    delete Object.prototype.h;
    // An empty headers object is no Map: not iterated through Object.prototype's iterator.
    Object.prototype[Symbol.iterator] = function* () {
      yield ["evil", "x"];
    };
    const h = await p.send("k", "v", { headers: {} });
    delete Object.prototype[Symbol.iterator];
    headers = client.read("t", 0, h.offset, 1)[0].headers;
    // A setter on Object.prototype does not take an answer's field.
    Object.defineProperty(Object.prototype, "records", { configurable: true, set() {} });
    stats = p.stats();
  } finally {
    delete Object.prototype.h;
    delete Object.prototype[Symbol.iterator];
    delete Object.prototype.records;
  }
  assert.equal(md.offset, 0);
  assert.deepEqual(headers, {});
  assert.ok(Object.hasOwn(stats, "records"));
  assert.equal(stats.records, 2);
  await stillProduces(client);
  client.free();
});

test("the package's own arrays, objects and error fields are built whatever Object.prototype and Array.prototype hold (indexes 0..2, field names)", async () => {
  const client = client2();
  client.createTopic("r", { partitions: 1, retention: { maxRecords: 1 } });
  const p = client.topicProducer("t");
  const r = client.topicProducer("r");
  await r.sendAll([["a", "1"], ["b", "2"], ["c", "3"]]);
  await r.flush();
  const rec = (offset, value) => ({ offset, key: "k", value, timestamp: 5, headers: { h: "x" } });
  const bad = Tributary.encodeBatch([rec(0, "v")]);
  bad[bad.length - 1] ^= 1;
  const names = ["0", "1", "2", "index", "reason", "nextAvailable", "records", "at", "f", "s", "wakes", "slots", "out", "left", "base", "head"];
  const caught = (f) => {
    try {
      return f();
    } catch (e) {
      return Promise.reject(e);
    }
  };
  const field = (promise, k) => promise.then(() => "taken", (e) => [e.code, Object.hasOwn(e, k) ? e[k] : "not own"]);
  // Everything runs while the accessors are there, nothing awaited (the test runner's
  // own arrays would meet them): flush settles what was sent, at once.
  let got, sent;
  // Node's own timer heap (an array, holey until used) is filled by index too: used once
  // first, so that a timer the package sets meets no accessor.
  for (let i = 0; i < 4; i++) clearTimeout(setTimeout(() => {}, 1e6 + i));
  for (const P of [Object.prototype, Array.prototype]) {
    for (const k of names) Object.defineProperty(P, k, { configurable: true, get: () => "evil", set() {} });
  }
  try {
    sent = [p.send("k0", "v0"), p.send("k1", "v1", { headers: { h: "x", i: "y" } }), p.sendAll([["k2", "v2"], ["k3", "v3"], ["k4", "v4"]])];
    client.flush();
    client.restore("u", 0, [rec(0, "r0"), rec(1, "r1"), rec(2, "r2")]);
    const batch = Tributary.encodeBatch([rec(0, "e0"), rec(1, "e1"), rec(2, "e2")]);
    got = {
      read: client.read("t", 0, 0, 10).map((x) => [text(x.key), text(x.value), Object.keys(x.headers)]),
      restored: client.read("u", 0, 0, 10).map((x) => text(x.value)),
      topics: client.topics(),
      stats: p.stats().records,
      info: client.partitionInfo("t", 0).highWatermark,
      decoded: Tributary.decodeBatch(batch).records.map((x) => [x.offset, text(x.value), text(x.headers.h)]),
      index: p.sendAll([["k", "v"], ["k", 5]]),
      reason: caught(() => Tributary.decodeBatch(bad)),
      nextAvailable: caught(() => client.read("r", 0, 0, 1)),
    };
  } finally {
    for (const P of [Object.prototype, Array.prototype]) for (const k of names) delete P[k];
  }
  const limit = (promise) => Promise.race([promise, new Promise((_, no) => setTimeout(() => no(new Error("never settled")), 2000))]);
  sent = await limit(Promise.all(sent));
  got.sent = [sent[0].offset, sent[1].offset, sent[2].length, sent[2].map((m) => m.offset)];
  for (const k of ["index", "reason", "nextAvailable"]) got[k] = await limit(field(got[k], k));
  assert.deepEqual(got, {
    sent: [0, 1, 3, [2, 3, 4]],
    read: [["k0", "v0", []], ["k1", "v1", ["h", "i"]], ["k2", "v2", []], ["k3", "v3", []], ["k4", "v4", []]],
    restored: ["r0", "r1", "r2"],
    topics: ["r", "t", "u"],
    stats: 5,
    info: 5,
    decoded: [[0, "e0", "x"], [1, "e1", "x"], [2, "e2", "x"]],
    index: ["INVALID_ARGUMENT", 1],
    reason: ["CORRUPT_BATCH", "crc"],
    nextAvailable: ["OFFSET_EVICTED", 3],
  });
  // The sink's way into the core is the package's own, not a method a user may call.
  for (const k of ["sinkOpen", "sinkDo"]) assert.equal(k in client, false, k);
  await stillProduces(client);
  client.free();
});
