// Misuse of the JS API (issue 14's defects), one case per defect, run by the conformance
// suite in every runtime (suite.mjs) and against tributary/local and tributary/full in
// Node (misuse.test.mjs). Every misuse must be a TributaryError with a stable code,
// thrown by the methods that return values and rejected by those that return promises,
// and must leave the client as it was.

/** How a call failed: { how: "throw" | "reject" | "ok", error } (a rejection is awaited). */
async function outcome(call) {
  let result;
  try {
    result = call();
  } catch (error) {
    return { how: "throw", error };
  }
  if (!(result instanceof Promise)) return { how: "ok", error: null };
  try {
    await result;
    return { how: "ok", error: null };
  } catch (error) {
    return { how: "reject", error };
  }
}

/** Asserts `call` fails with `code` the way its kind of method must (`how`). */
async function fails(t, assert, call, how, code, what) {
  const o = await outcome(call);
  const seen = o.error instanceof Error ? `${o.error.constructor.name}: ${o.error.message}` : String(o.error);
  assert.equal(o.how, how, `${what}: expected ${how}, got ${o.how} (${seen})`);
  assert.ok(o.error instanceof t.TributaryError, `${what}: not a TributaryError (${seen})`);
  assert.equal(o.error.code, code, `${what}: ${seen}`);
}

const total = (client, topic, n) => {
  let records = 0;
  for (let p = 0; p < n; p++) records += client.partitionInfo(topic, p).highWatermark;
  return records;
};

/** Runs `f` with `props` set on Object.prototype (enumerable, like a polluting assignment). */
export async function polluted(props, f) {
  for (const [k, v] of Object.entries(props)) Object.prototype[k] = v;
  try {
    return await f();
  } finally {
    for (const k of Object.keys(props)) delete Object.prototype[k];
  }
}

/** A Uint8Array whose buffer was transferred away (detached), or null where it cannot be. */
function detached() {
  const a = new Uint8Array([1, 2, 3]);
  try {
    structuredClone(a.buffer, { transfer: [a.buffer] });
  } catch {
    return null;
  }
  return a.byteLength === 0 ? a : null;
}

export const misuse = {
  async "misuse 1: options, configs and records are read as own properties only, never through Object.prototype"(t, assert) {
    const { Tributary, partitionFor } = t;
    const client = new Tributary({ seed: 11 });
    client.createTopic("own", { partitions: 4 });
    const producer = client.topicProducer("own");
    const keys = ["a", "b", "c", "d", "e", "f", "g", "h"];
    const got = await polluted({ partition: 0, timestamp: 5, headers: { evil: "x" }, partitions: 3, onQueueFull: "bogus" }, async () => {
      client.createTopic("one", {}); // 1 partition: `partitions` is not its own
      const other = client.topicProducer("own", {}); // `onQueueFull: "bogus"` would be INVALID_CONFIG
      const mds = await Promise.all(keys.map((k) => producer.send(k, "v", {})));
      const all = await other.sendAll(keys.map((k) => [k, "w", {}]));
      return { mds, all };
    });
    assert.equal(client.partitionInfo("one", 0).highWatermark, 0);
    const beyond = await outcome(() => client.partitionInfo("one", 1));
    assert.equal(beyond.error?.code, "PARTITION_OUT_OF_RANGE", "a topic created with {} has 1 partition");
    for (const [i, md] of [...got.mds, ...got.all].entries()) {
      const key = keys[i % keys.length];
      assert.equal(md.partition, partitionFor(key, 4), `key ${key} lands by its hash, not on Object.prototype.partition`);
      assert.ok(md.timestamp !== 5, "the timestamp is not Object.prototype.timestamp");
      const [r] = client.read("own", md.partition, md.offset, 1);
      assert.deepEqual(Object.keys(r.headers), [], "no header from Object.prototype.headers");
    }
    // The sink's options and restored records: the same rule (in the entries with a sink).
    if (client.connect) {
      await polluted({ server: "ws://127.0.0.1:1" }, async () => {
        let sink;
        const o = await outcome(() => (sink = client.connect("own", { servers: [] })));
        await sink?.close({ timeoutMs: 0 });
        assert.equal(o.error?.code, "INVALID_CONFIG", "Object.prototype.server is not a server");
      });
    }
    if (client.restore) {
      client.createTopic("back", { partitions: 1 });
      await polluted({ key: "inherited", headers: { evil: "x" } }, () => {
        client.restore("back", 0, [{ offset: 0, value: "v", timestamp: 1 }]);
      });
      const [r] = client.read("back", 0, 0, 1);
      assert.equal(r.key, null, "no key from Object.prototype.key");
      assert.deepEqual(Object.keys(r.headers), []);
    }
  },

  async "misuse 2: methods and getters called on another object are INVALID_ARGUMENT and touch nothing"(t, assert) {
    const { Tributary, TopicProducer, TributaryError } = t;
    const client = new Tributary({ seed: 12 });
    client.createTopic("this", { partitions: 2 });
    const producer = client.topicProducer("this");
    const other = new Tributary();
    other.createTopic("o", { partitions: 1 });
    const otherProducer = other.topicProducer("o");
    const async = new Set(["send", "sendAll", "flush", "close"]);
    const strangers = [{}, Object.create(TopicProducer.prototype), Object.create(Tributary.prototype), null, undefined, 1];
    const instances = [client, producer, other, otherProducer];
    for (const C of [Tributary, TopicProducer, t.Sink].filter(Boolean)) {
      // Plain objects, and every real instance of the other classes.
      const receivers = [...strangers, ...instances.filter((o) => !(o instanceof C))];
      for (const k of Reflect.ownKeys(C.prototype)) {
        if (k === "constructor") continue;
        const d = Object.getOwnPropertyDescriptor(C.prototype, k);
        const f = d.get ?? d.value;
        if (typeof f !== "function") continue;
        const how = async.has(k) ? "reject" : "throw";
        const name = `${C.name}.prototype.${String(k)}`;
        for (const r of receivers) {
          await fails(t, assert, () => f.call(r, "this", 0, 0, 10), how, "INVALID_ARGUMENT", `${name} on ${String(r?.constructor?.name ?? r)}`);
        }
      }
    }
    // The cases: nothing was appended, closed or read.
    await fails(t, assert, () => TopicProducer.prototype.send.call(client, "k", "v"), "reject", "INVALID_ARGUMENT", "send on a client");
    await fails(t, assert, () => TopicProducer.prototype.close.call(other), "reject", "INVALID_ARGUMENT", "close on another client");
    await fails(t, assert, () => Tributary.prototype.read.call(producer, "this", 0, 0, 10), "throw", "INVALID_ARGUMENT", "read on a producer");
    if (t.Sink) await fails(t, assert, () => new t.Sink(), "throw", "INVALID_ARGUMENT", "new Sink()");
    assert.equal(total(client, "this", 2), 0);
    assert.equal((await otherProducer.send("k", "still open")).offset, 0, "the other client's producer is not closed");
    assert.equal((await producer.send("k", "v")).offset, 0);
    assert.equal(producer.topic, "this");
    // A freed object is CLOSED (not "null pointer passed to rust").
    const gone = client.topicProducer("this");
    gone.free();
    await fails(t, assert, () => gone.send("k", "v"), "reject", "CLOSED", "send on a freed producer");
    await fails(t, assert, () => gone.stats(), "throw", "CLOSED", "stats on a freed producer");
    assert.ok(new TributaryError("X", "y") instanceof Error);
    await client.close();
    await other.close();
  },

  async "misuse 3: values that throw when read (detached buffers, getters, Proxies) are INVALID_ARGUMENT rejections, and the client stays usable"(t, assert) {
    const { Tributary, partitionFor } = t;
    const client = new Tributary({ seed: 13 });
    client.createTopic("raw", { partitions: 2 });
    const producer = client.topicProducer("raw");
    const boom = () => {
      throw new Error("boom");
    };
    const gone = detached();
    assert.ok(gone, "this runtime detaches a transferred buffer");
    const u8proxy = new Proxy(new Uint8Array([1, 2]), {});
    const bad = {
      "a detached key": ["send", [gone, "v"]],
      "a detached value": ["send", ["k", gone]],
      "a detached header value": ["send", ["k", "v", { headers: { h: gone } }]],
      "headers with a throwing getter": ["send", ["k", "v", { headers: { get h() { return boom(); } } }]],
      "headers whose ownKeys throws": ["send", ["k", "v", { headers: new Proxy({}, { ownKeys: boom }) }]],
      "a Proxy around a Uint8Array as key": ["send", [u8proxy, "v"]],
      "a Proxy around a Uint8Array as value": ["send", ["k", u8proxy]],
      "options with a throwing getter": ["send", ["k", "v", { get partition() { return boom(); } }]],
      "options whose property lookup throws": ["send", ["k", "v", new Proxy({}, { getOwnPropertyDescriptor: boom })]],
      "a Map of headers whose iterator throws": ["send", ["k", "v", { headers: Object.assign(new Map(), { [Symbol.iterator]: boom }) }]],
      "sendAll: a detached key": ["sendAll", [[[gone, "v"]]]],
      "sendAll: an entry with a throwing getter": ["sendAll", [[Object.defineProperty(["k", "v"], 0, { get: boom })]]],
      "sendAll: a Proxy entry": ["sendAll", [[new Proxy(["k", "v"], { get: boom })]]],
      "sendAll: a Proxy array": ["sendAll", [new Proxy([["k", "v"]], { get: boom })]],
      "sendAll: options with a throwing getter": ["sendAll", [[["k", "v", { get headers() { return boom(); } }]]]],
    };
    const revoked = Proxy.revocable([["k", "v"]], {});
    revoked.revoke();
    bad["sendAll: a revoked Proxy"] = ["sendAll", [revoked.proxy]];
    for (const [what, [method, args]] of Object.entries(bad)) {
      await fails(t, assert, () => producer[method](...args), "reject", "INVALID_ARGUMENT", what);
    }
    const sync = {
      "createTopic: config with a throwing getter": () => client.createTopic("x", { get partitions() { return boom(); } }),
      "topicProducer: config Proxy that throws": () => client.topicProducer("raw", new Proxy({}, { getOwnPropertyDescriptor: boom })),
      "new Tributary: options with a throwing getter": () => new Tributary({ get seed() { return boom(); } }),
      "partitionFor: a detached key": () => partitionFor(gone, 3),
      "partitionFor: a Proxy around a Uint8Array": () => partitionFor(u8proxy, 3),
    };
    if (client.restore) {
      client.createTopic("r", { partitions: 1 });
      sync["restore: a record with a throwing getter"] = () => client.restore("r", 0, [{ offset: 0, get value() { return boom(); }, timestamp: 1 }]);
      sync["restore: a Proxy array"] = () => client.restore("r", 0, new Proxy([{}], { get: boom }));
      sync["decodeBatch: a detached buffer"] = () => Tributary.decodeBatch(gone);
      sync["decodeBatch: a Proxy around a Uint8Array"] = () => Tributary.decodeBatch(u8proxy);
      sync["encodeBatch: a detached value"] = () => Tributary.encodeBatch([{ offset: 0, value: gone, timestamp: 1 }]);
    }
    for (const [what, call] of Object.entries(sync)) await fails(t, assert, call, "throw", "INVALID_ARGUMENT", what);
    // Nothing of it landed, and everything still works.
    assert.deepEqual(client.topics(), client.restore ? ["r", "raw"] : ["raw"]);
    assert.equal(total(client, "raw", 2), 0);
    assert.equal(producer.stats().records, 0);
    const md = await producer.send("k", "v", { headers: { h: "x" } });
    assert.equal(md.partition, partitionFor("k", 2));
    assert.equal((await producer.sendAll([["k", "w"], ["k", new Uint8Array([1]), {}]])).length, 2);
    assert.equal(total(client, "raw", 2), 3);
  },

  async "misuse 4: a Map of headers is taken as the same object would be"(t, assert) {
    const { Tributary } = t;
    const client = new Tributary({ seed: 14 });
    client.createTopic("map", { partitions: 1 });
    const producer = client.topicProducer("map");
    const headers = new Map([["trace", "abc"], ["bin", new Uint8Array([1, 2])], ["__proto__", "p"]]);
    const one = await producer.send("k", "v", { headers });
    const [many] = await producer.sendAll([["k", "w", { headers }]]);
    for (const md of [one, many]) {
      const [r] = client.read("map", 0, md.offset, 1);
      assert.deepEqual(Object.keys(r.headers), ["trace", "bin", "__proto__"]);
      assert.equal(new TextDecoder().decode(r.headers.trace), "abc");
      assert.deepEqual(r.headers.bin, new Uint8Array([1, 2]));
    }
    // The same rules as an object's: names are well-formed strings, values strings or bytes.
    for (const bad of [new Map([[1, "v"]]), new Map([["n", 2]]), new Map([["\ud800", "v"]]), new Set(["n"])]) {
      await fails(t, assert, () => producer.send("k", "v", { headers: bad }), "reject", "INVALID_ARGUMENT", "a bad Map");
    }
    assert.equal(producer.stats().records, 2);
    // An empty Map is no headers.
    const md = await producer.send("k", "v", { headers: new Map() });
    assert.deepEqual(Object.keys(client.read("map", 0, md.offset, 1)[0].headers), []);
  },

  async "misuse 5: a getter that closes the producer or client while a call reads its input leaves nothing half-done"(t, assert) {
    const { Tributary } = t;
    const client = new Tributary({ seed: 15 });
    client.createTopic("a", { partitions: 1 });
    client.createTopic("b", { partitions: 1 });
    // The getter closes the producer and opens another one (which may take the closed
    // one's id): the record must not land in the other topic, nor anywhere.
    let producer = client.topicProducer("a");
    let next;
    const closing = (p) => ({
      get timestamp() {
        p.close();
        next = client.topicProducer("b");
        return undefined;
      },
    });
    await fails(t, assert, () => producer.send("k", "v", closing(producer)), "reject", "CLOSED", "send whose options close its producer");
    producer = client.topicProducer("a");
    await fails(t, assert, () => producer.sendAll([["k", "v", closing(producer)]]), "reject", "CLOSED", "sendAll whose options close its producer");
    assert.equal(total(client, "a", 1) + total(client, "b", 1), 0, "nothing landed");
    assert.equal((await next.send("k", "b")).topic, "b");
    // A getter that sends during a send: both land, in the order they were made.
    const p = client.topicProducer("a");
    let inner;
    const outer = await p.send("k", "outer", { get timestamp() { inner = p.send("k", "inner"); return undefined; } });
    assert.equal((await inner).offset, 0);
    assert.equal(outer.offset, 1);
    // createTopic / topicProducer whose config closes the client (synchronously in
    // tributary/local; after the sinks, a turn later, with the sink): never a topic or
    // producer on a closed client.
    const c = new Tributary();
    c.createTopic("t");
    let closed;
    const made = await outcome(() => c.createTopic("x", { get partitions() { closed = c.close(); return 2; } }));
    await closed;
    if (made.how !== "ok") assert.equal(made.error?.code, "CLOSED");
    assert.deepEqual(c.topics(), []);
    const c2 = new Tributary();
    c2.createTopic("t");
    const prod = await outcome(() => c2.topicProducer("t", { get linger() { closed = c2.close(); return 0; } }));
    await closed;
    if (prod.how !== "ok") assert.equal(prod.error?.code, "CLOSED");
    await fails(t, assert, () => c2.createTopic("y"), "throw", "CLOSED", "createTopic after close");
    assert.deepEqual(c2.topics(), []);
    await client.close();
  },
};
