// The sink from Node 20 (WebSocket from the `ws` package) into a real nats-server with
// JetStream, read back by an independent client (`nats` over TCP): 100,000 records,
// connection cuts, a 3-node cluster losing the node in use, a stalled server, refused
// credentials, a publish permission violation, nkey login, at-most-once.
import { test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { createUser } from "nkeys.js";
import { connect as natsConnect } from "nats";
import { Tributary, TributaryError } from "tributary";
import {
  startNats, startCluster, readStream, checkDelivery, cuttingProxy, sleep, jetStreamReady,
} from "../sink/harness.mjs";

const enc = new TextEncoder();

/** Sends `n` keyed records in sendAll chunks; returns partition → count. */
async function produce(producer, n, { chunk = 5000, tag = "r" } = {}) {
  const counts = new Map();
  for (let start = 0; start < n; start += chunk) {
    const batch = [];
    for (let i = start; i < Math.min(n, start + chunk); i++) {
      batch.push([`user-${i % 1013}`, `${tag}-${i}-${"x".repeat(60)}`]);
    }
    const mds = await producer.sendAll(batch);
    for (const md of mds) counts.set(md.partition, (counts.get(md.partition) ?? 0) + 1);
  }
  return counts;
}

test("100,000 keyed records: exact count, per-partition offset order, zero duplicates", { timeout: 120_000 }, async () => {
  let client;
  const server = await startNats({ name: "n100k" });
  try {
    client = new Tributary({ seed: 1 });
    client.createTopic("clicks", { partitions: 16 });
    const producer = client.topicProducer("clicks");
    const sink = client.connect("clicks", { server: server.url, WebSocket, provision: true });
    const counts = await produce(producer, 100_000);
    await client.flush();
    const stats = sink.stats();
    assert.equal(stats.acked, 100_000);
    assert.equal(stats.failedRecords, 0);
    assert.equal(sink.state, "connected");
    for (let p = 0; p < 16; p++) {
      const info = client.partitionInfo("clicks", p);
      assert.equal(info.ackedOffset, info.highWatermark, `partition ${p} fully acknowledged`);
    }
    checkDelivery(assert, await readStream(server.port, "clicks"), counts);
    await sink.close();
    assert.equal(sink.state, "closed");
  } finally {
    await client?.close();
    await server.stop();
  }
});

test("a proxy cutting the connection at random moments (>= 20 cuts): zero lost, zero duplicated", { timeout: 120_000 }, async () => {
  let client;
  const server = await startNats({ name: "cuts" });
  const proxy = await cuttingProxy(server.wsPort, { minBytes: 30_000, maxBytes: 200_000, seed: 7 });
  try {
    client = new Tributary({ seed: 2 });
    client.createTopic("cuts", { partitions: 4 });
    const producer = client.topicProducer("cuts");
    const sink = client.connect("cuts", {
      server: `ws://127.0.0.1:${proxy.port}`, WebSocket, provision: true,
      backoffInitialMs: 5, backoffMaxMs: 50, ackTimeoutMs: 2000,
    });
    const counts = await produce(producer, 60_000);
    await client.flush();
    assert.ok(proxy.cuts() >= 20, `only ${proxy.cuts()} cuts`);
    const stats = sink.stats();
    assert.ok(stats.disconnects >= 20, `disconnects ${stats.disconnects}`);
    assert.equal(stats.failedRecords, 0);
    checkDelivery(assert, await readStream(server.port, "cuts"), counts);
    await sink.close();
  } finally {
    await client?.close();
    proxy.close();
    await server.stop();
  }
});

test("a 3-node cluster, R3 stream: the node in use is killed mid-run; the sink moves on, nothing lost or doubled", { timeout: 120_000 }, async () => {
  let client;
  // Should the run stall, say where: the phase, the sink and the partitions.
  let phase = "starting the cluster";
  let sink;
  let producer;
  const states = [];
  const watch = setTimeout(() => {
    const parts = client ? [0, 1, 2, 3].map((p) => JSON.stringify(client.partitionInfo("ha", p))) : [];
    console.error(`cluster test stalled in phase "${phase}": states ${states.join(" > ")}\n` +
      `sink ${JSON.stringify(sink?.stats())}\nproducer ${JSON.stringify(producer?.stats())}\n${parts.join("\n")}`);
  }, 100_000);
  watch.unref();
  const nodes = await startCluster(3, "tc");
  try {
    // The subject here is losing a node mid-run, not a cluster's first election.
    phase = "waiting for JetStream";
    await jetStreamReady(nodes[0].port);
    client = new Tributary({ seed: 3 });
    client.createTopic("ha", { partitions: 4, replicationFactor: 3 });
    producer = client.topicProducer("ha");
    sink = client.connect("ha", {
      servers: nodes.map((n) => n.url), WebSocket, provision: true,
      backoffInitialMs: 20, backoffMaxMs: 500, ackTimeoutMs: 2000,
      onStateChange: (s, e) => states.push(e ? `${s} (${e.code})` : s),
    });
    phase = "first 10,000";
    const first = await produce(producer, 10_000, { tag: "a" });
    phase = "first flush";
    await client.flush();
    const inUse = nodes.find((n) => n.url === sink.stats().server);
    const survivor = nodes.find((n) => n !== inUse);
    phase = "30,000 more";
    const rest = produce(producer, 30_000, { tag: "b" });
    await sleep(50);
    await inUse.kill();
    const second = await rest;
    phase = "second flush";
    await client.flush();
    phase = "reading back";
    assert.notEqual(sink.stats().server, inUse.url, "moved to another node");
    assert.ok(states.some((s) => s.startsWith("reconnecting")), `states: ${states}`);
    const counts = new Map(first);
    for (const [p, n] of second) counts.set(p, (counts.get(p) ?? 0) + n);
    // A leader change mid-window may reorder a resend; count and duplicates are exact.
    await jetStreamReady(survivor.port);
    checkDelivery(assert, await readStream(survivor.port, "ha"), counts, { ordered: false });
    await sink.close();
  } finally {
    clearTimeout(watch);
    await client?.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test("a stalled server (SIGSTOP): memory bounded, sends wait, nothing dropped; all arrives after SIGCONT", { timeout: 120_000 }, async () => {
  let client;
  const server = await startNats({ name: "stall" });
  try {
    client = new Tributary({ seed: 4 });
    const maxRecords = 5000;
    client.createTopic("stall", { partitions: 2, retention: { maxRecords, unacked: "keep" } });
    const producer = client.topicProducer("stall", { batchSize: 4096, batchQueueSize: 8 });
    const sink = client.connect("stall", {
      server: server.url, WebSocket, provision: true, ackTimeoutMs: 500, connectTimeoutMs: 1000,
      backoffInitialMs: 50, backoffMaxMs: 300,
    });
    const warm = await produce(producer, 2000, { tag: "w" });
    await client.flush();
    server.signal("SIGSTOP");
    const n = 30_000;
    let settled = 0;
    const sending = produce(producer, n, { chunk: 500, tag: "s" }).then((c) => { settled = n; return c; });
    let maxHeld = 0;
    for (let t = 0; t < 30; t++) {
      await sleep(100);
      for (const p of [0, 1]) {
        maxHeld = Math.max(maxHeld, client.partitionInfo("stall", p).records);
      }
    }
    assert.equal(settled, 0, "sends wait while the server is stalled");
    const { waiting, queuedRecords } = producer.stats();
    assert.ok(waiting + queuedRecords > 0, `records wait in the producer: ${waiting} + ${queuedRecords}`);
    // The outbox is bounded by retention (plus one segment's worth of slack).
    assert.ok(maxHeld <= maxRecords + maxRecords / 8 + 200, `held ${maxHeld}`);
    assert.equal(client.partitionInfo("stall", 0).lostRecords, 0);
    server.signal("SIGCONT");
    const counts = await sending;
    await client.flush();
    for (const [p, c] of warm) counts.set(p, (counts.get(p) ?? 0) + c);
    assert.equal(producer.stats().rejected, 0);
    checkDelivery(assert, await readStream(server.port, "stall"), counts, { ordered: false });
    await sink.close();
  } finally {
    await client?.close();
    server.signal("SIGCONT");
    await server.stop();
  }
});

test("wrong credentials: SINK_AUTH, records kept, delivered by a later sink that logs in; no secret in errors or stats", { timeout: 120_000 }, async () => {
  let client;
  const token = "right-token-0b3f";
  const wrong = "wrong-token-9c1d";
  const server = await startNats({ name: "auth", auth: `authorization { token: "${token}" }` });
  try {
    client = new Tributary({ seed: 5 });
    client.createTopic("auth", { partitions: 2 });
    const producer = client.topicProducer("auth");
    const bad = client.connect("auth", { server: server.url, WebSocket, provision: true, token: wrong });
    const counts = await produce(producer, 1000);
    await assert.rejects(client.flush(), (e) => {
      assert.ok(e instanceof TributaryError);
      assert.equal(e.code, "SINK_AUTH");
      assert.ok(Array.isArray(e.undelivered) && e.undelivered.length > 0);
      assert.ok(!e.message.includes(wrong));
      return true;
    });
    assert.equal(bad.state, "failed");
    assert.equal(bad.error.code, "SINK_AUTH");
    assert.ok(!JSON.stringify(bad.stats()).includes(wrong));
    assert.equal(client.partitionInfo("auth", 0).ackedOffset, 0, "nothing acknowledged, all kept");
    await bad.close();
    const good = client.connect("auth", { server: server.url, WebSocket, provision: true, token });
    await client.flush();
    assert.equal(good.stats().acked, 1000);
    checkDelivery(assert, await readStream(server.port, "auth", { token }), counts);
    await good.close();
  } finally {
    await client?.close();
    await server.stop();
  }
});

test("a publish permission violation is SINK_PERMISSION; user/password login", { timeout: 120_000 }, async () => {
  let client;
  const auth = `authorization { users: [
    { user: "admin", password: "admin-pw" },
    { user: "ro", password: "ro-pw", permissions: { publish: { deny: ["perm.>"] } } }
  ] }`;
  const server = await startNats({ name: "perm", auth });
  try {
    // The stream exists (made by the admin); the sink's user may not publish to it.
    const nc = await natsConnect({ servers: `127.0.0.1:${server.port}`, user: "admin", pass: "admin-pw" });
    await (await nc.jetstreamManager()).streams.add({ name: "perm", subjects: ["perm.*"] });
    await nc.close();
    client = new Tributary({ seed: 6 });
    client.createTopic("perm", { partitions: 1 });
    const producer = client.topicProducer("perm");
    const sink = client.connect("perm", { server: server.url, WebSocket, user: "ro", pass: "ro-pw" });
    await produce(producer, 10);
    await assert.rejects(client.flush(), (e) => e.code === "SINK_PERMISSION" && !e.message.includes("ro-pw"));
    assert.equal(sink.state, "failed");
    await sink.close();
    const admin = client.connect("perm", { server: server.url, WebSocket, user: "admin", pass: "admin-pw" });
    await client.flush();
    assert.equal(admin.stats().acked, 10);
    await admin.close();
  } finally {
    await client?.close();
    await server.stop();
  }
});

test("an nkey user logs in (nonce signed with WebCrypto Ed25519)", { timeout: 120_000 }, async () => {
  let client;
  const kp = createUser();
  const seed = new TextDecoder().decode(kp.getSeed());
  const server = await startNats({ name: "nkey", auth: `authorization { users: [ { nkey: "${kp.getPublicKey()}" } ] }` });
  try {
    client = new Tributary({ seed: 7 });
    client.createTopic("nk", { partitions: 2 });
    const sink = client.connect("nk", { server: server.url, WebSocket, provision: true, nkeySeed: seed });
    const counts = await produce(client.topicProducer("nk"), 500);
    await client.flush();
    assert.equal(sink.stats().acked, 500);
    assert.ok(!JSON.stringify(sink.stats()).includes(seed));
    assert.equal([...counts.values()].reduce((a, b) => a + b, 0), 500);
    assert.throws(() => client.connect("nk", { server: server.url, WebSocket }), (e) => e.code === "SINK_EXISTS");
    await sink.close();
    const other = new TextDecoder().decode(createUser().getSeed());
    const refused = client.connect("nk", { server: server.url, WebSocket, nkeySeed: other });
    await produce(client.topicProducer("nk"), 1);
    await assert.rejects(refused.flush({ timeoutMs: 10_000 }), (e) => e.code === "SINK_AUTH" && !e.message.includes(other));
    await refused.close();
  } finally {
    await client?.close();
    await server.stop();
  }
});

test("at-most-once: delivered when written, nothing resent", { timeout: 120_000 }, async () => {
  let client;
  const server = await startNats({ name: "amo" });
  try {
    const nc = await natsConnect({ servers: `127.0.0.1:${server.port}` });
    await (await nc.jetstreamManager()).streams.add({ name: "amo", subjects: ["amo.*"] });
    await nc.close();
    client = new Tributary({ seed: 8 });
    client.createTopic("amo", { partitions: 2 });
    const sink = client.connect("amo", { server: server.url, WebSocket, delivery: "at-most-once" });
    const counts = await produce(client.topicProducer("amo"), 2000);
    await client.flush();
    await sleep(300); // written is "delivered": give the server a moment to store them
    assert.equal(sink.stats().resent, 0);
    checkDelivery(assert, await readStream(server.port, "amo"), counts);
    await sink.close();
  } finally {
    await client?.close();
    await server.stop();
  }
});

test("provisioning: the stream's limits are the topic's retention over all its partitions", { timeout: 120_000 }, async () => {
  let client;
  const server = await startNats({ name: "prov" });
  try {
    client = new Tributary({ seed: 9 });
    // retention.maxBytes bounds each partition's log: the stream, which holds all five
    // partitions' subjects, must take five times that, or JetStream drops records early.
    client.createTopic("prov", { partitions: 5, replicationFactor: 1, retention: { maxBytes: 1 << 20, maxAgeMs: 3_600_000 } });
    const sink = client.connect("prov", { server: server.url, WebSocket, provision: true });
    const counts = await produce(client.topicProducer("prov"), 500);
    await client.flush();
    const nc = await natsConnect({ servers: `127.0.0.1:${server.port}` });
    const { config } = await (await nc.jetstreamManager()).streams.info("prov");
    await nc.close();
    assert.equal(config.max_bytes, 5 * (1 << 20));
    assert.equal(config.max_age, 3_600_000 * 1e6);
    assert.equal(config.num_replicas, 1);
    assert.deepEqual(config.subjects, ["prov.*"]);
    checkDelivery(assert, await readStream(server.port, "prov"), counts);
    await sink.close();
  } finally {
    await client?.close();
    await server.stop();
  }
});

test("bad sink options throw INVALID_CONFIG and change nothing", () => {
  const client = new Tributary();
  client.createTopic("t", { partitions: 1 });
  const bad = [
    [{}, "INVALID_CONFIG"],
    [{ server: "http://127.0.0.1:1", WebSocket }, "INVALID_CONFIG"],
    [{ servers: "ws://x", WebSocket }, "INVALID_CONFIG"],
    [{ server: "ws://127.0.0.1:1", WebSocket, token: "t", user: "u" }, "INVALID_CONFIG"],
    [{ server: "ws://127.0.0.1:1", WebSocket, creds: "not a creds file" }, "INVALID_CONFIG"],
    [{ server: "ws://127.0.0.1:1", WebSocket, nkeySeed: "SUXXXX" }, "INVALID_CONFIG"],
    [{ server: "ws://127.0.0.1:1", WebSocket, delivery: "exactly-once" }, "INVALID_CONFIG"],
    [{ server: "ws://127.0.0.1:1", WebSocket, maxInFlight: 0 }, "INVALID_CONFIG"],
    [{ server: "ws://127.0.0.1:1", WebSocket, stream: "a.b" }, "INVALID_CONFIG"],
    [{ server: "ws://127.0.0.1:1", WebSocket, ackTimeoutMs: -1 }, "INVALID_CONFIG"],
    [{ server: "ws://127.0.0.1:1", WebSocket, onAck: 3 }, "INVALID_CONFIG"],
    [{ server: "ws://127.0.0.1:1" }, "INVALID_CONFIG"], // Node 20: no global WebSocket
  ];
  for (const [options, code] of bad) {
    assert.throws(() => client.connect("t", options), (e) => e instanceof TributaryError && e.code === code, JSON.stringify(options));
  }
  assert.throws(() => client.connect("nope", { server: "ws://127.0.0.1:1", WebSocket }), (e) => e.code === "UNKNOWN_TOPIC");
  assert.equal(client.partitionInfo("t", 0).ackedOffset, null, "no sink attached by a failed connect");
  void enc;
});

test("restore: records put back at their offsets are resent with the same ids, and JetStream keeps each once", { timeout: 120_000 }, async () => {
  let client;
  let again;
  const server = await startNats({ name: "restore" });
  try {
    client = new Tributary({ seed: 9 });
    client.createTopic("out", { partitions: 2 });
    const sink = client.connect("out", { server: server.url, WebSocket, provision: true, msgIdPrefix: "tab1" });
    const counts = await produce(client.topicProducer("out"), 3000);
    await client.flush();
    assert.equal(sink.stats().duplicates, 0);
    // What a page would have persisted: every record with its partition and offset.
    const saved = [0, 1].map((p) => client.read("out", p, 0, 10_000));
    await client.close();

    again = new Tributary({ seed: 10 });
    again.createTopic("out", { partitions: 2 });
    for (const p of [0, 1]) {
      // Records from offset 10 on (as if the first ten had been acknowledged and dropped).
      const records = saved[p].slice(10).map((r) => ({ ...r, headers: {} }));
      again.restore("out", p, records);
      const info = again.partitionInfo("out", p);
      assert.equal(info.logStartOffset, 10);
      assert.equal(info.highWatermark, saved[p].length);
    }
    assert.throws(() => again.restore("out", 0, [{ offset: 0, value: "x", timestamp: 0 }]), (e) => e.code === "OFFSET_OUT_OF_RANGE");
    const resend = again.connect("out", { server: server.url, WebSocket, msgIdPrefix: "tab1" });
    await again.flush();
    assert.equal(resend.stats().duplicates, 3000 - 20, "every resent record was a duplicate");
    checkDelivery(assert, await readStream(server.port, "out"), counts);
  } finally {
    await again?.close();
    await client?.close();
    await server.stop();
  }
});

test("restore into a topic whose sink is connected and idle: the restored records are published at once", { timeout: 120_000 }, async () => {
  // tributary/durable puts every record into the log with restore(), after the sink is
  // up: an append by restore must wake the sink like a producer's batch does.
  let client;
  const server = await startNats({ name: "live" });
  try {
    client = new Tributary({ seed: 11 });
    client.createTopic("live", { partitions: 3 });
    const sink = client.connect("live", { server: server.url, WebSocket, provision: true, msgIdPrefix: "g1" });
    const deadline = Date.now() + 30_000;
    while (sink.state !== "connected" && Date.now() < deadline) await sleep(20);
    assert.equal(sink.state, "connected");
    await sleep(200); // idle: nothing to send, no timer due
    const counts = new Map();
    for (const p of [0, 1, 2]) {
      const records = Array.from({ length: 40 }, (_, i) => ({ offset: i, key: `k${p}`, value: `v-${p}-${i}`, timestamp: Date.now() }));
      client.restore("live", p, records);
      counts.set(p, 40);
    }
    while (sink.stats().acked < 120 && Date.now() < deadline) await sleep(20);
    assert.equal(sink.stats().acked, 120, "the restored records were published without another append or flush");
    checkDelivery(assert, await readStream(server.port, "live"), counts);
    await sink.close();
  } finally {
    await client?.close();
    await server.stop();
  }
});

/** Every message of `stream` as { subject, headers: Map name -> [values], data } (nats over TCP). */
async function readRaw(port, stream, n) {
  const nc = await natsConnect({ servers: `127.0.0.1:${port}` });
  try {
    const consumer = await nc.jetstream().consumers.get(stream);
    const out = [];
    while (out.length < n) {
      const m = await consumer.next({ expires: 5000 });
      if (!m) break;
      const headers = new Map();
      for (const [k, v] of m.headers ?? []) headers.set(k, v);
      out.push({ subject: m.subject, headers, data: m.data });
    }
    return out;
  } finally {
    await nc.close();
  }
}

test("non-ASCII and BOM keys, header names and values, and stream name through nats-server: the header block's size is its UTF-8 size, every byte read back; a record one byte over max_payload is given up without a disconnect", { timeout: 120_000 }, async () => {
  let client;
  const max = 2048;
  const server = await startNats({ name: "wire", extra: `max_payload: ${max}` });
  try {
    const stream = "wire-ström";
    client = new Tributary({ seed: 12 });
    client.createTopic("wire", { partitions: 1 });
    const sink = client.connect("wire", { server: server.url, WebSocket, provision: true, stream, msgIdPrefix: "w", maxRetries: 0 });
    const p = client.topicProducer("wire");
    const ts = 1700000000000;
    const b64 = (s) => Buffer.from(s).toString("base64url");
    // [key, value, headers]: text keys and values stay text, a BOM stays (base64 then).
    const records = [
      ["kéy-日本", "välue-€", { "x-name": "wért 日本語 🎉", "ü-name": "€" }],
      ["\uFEFFbom-key", "v", { h: "\uFEFFbom-value" }],
      ["plain", "v", { h: "\uFEFF" }],
    ];
    for (const [k, v, headers] of records) await p.send(k, v, { headers, timestamp: ts });
    // The header block the sink writes for the next record (offset 3), and a value that
    // makes the message exactly max_payload in UTF-8 (the text's UTF-16 length is less).
    const value3 = "€".repeat(100);
    const head = `NATS/1.0\r\nNats-Msg-Id: w-0-3\r\nNats-Expected-Stream: ${stream}\r\nTributary-Key: é\r\nTributary-Timestamp: ${ts}\r\nh: ${value3}\r\n\r\n`;
    const fill = max - Buffer.byteLength(head);
    assert.ok(fill > 0 && head.length + fill < max - 150);
    await p.send("é", "x".repeat(fill), { headers: { h: value3 }, timestamp: ts }); // offset 3: exactly max
    await p.send("é", "x".repeat(fill + 1), { headers: { h: value3 }, timestamp: ts }); // offset 4: one over
    await p.send("last", "end", { timestamp: ts });
    await assert.rejects(client.flush(), (e) => {
      assert.equal(e.code, "SINK_UNDELIVERED");
      assert.deepEqual(e.undelivered, [{ partition: 0, fromOffset: 4, toOffset: 5 }]);
      return true;
    });
    const stats = sink.stats();
    assert.equal(stats.acked, 5);
    assert.equal(stats.disconnects, 0, "no size the server refused");
    const got = await readRaw(server.port, stream, 5);
    const view = got.map((m) => [m.headers.get("Nats-Msg-Id")[0], Buffer.from(m.data).toString(),
      Object.fromEntries([...m.headers].filter(([k]) => !/^(Nats-Msg-Id|Nats-Expected-Stream|Tributary-Timestamp)$/.test(k)))]);
    assert.deepEqual(view, [
      ["w-0-0", "välue-€", { "Tributary-Key": ["kéy-日本"], "x-name": ["wért 日本語 🎉"], "Tributary-Header-Base64": [`${b64("ü-name")}:${b64("€")}`] }],
      ["w-0-1", "v", { "Tributary-Key-Base64": [b64("\uFEFFbom-key")], "h-Base64": [b64("\uFEFFbom-value")] }],
      ["w-0-2", "v", { "Tributary-Key": ["plain"], "h-Base64": [b64("\uFEFF")] }],
      ["w-0-3", "x".repeat(fill), { "Tributary-Key": ["é"], h: [value3] }],
      ["w-0-5", "end", { "Tributary-Key": ["last"] }],
    ]);
    for (const m of got) assert.deepEqual(m.headers.get("Nats-Expected-Stream"), [stream]);
    await sink.close();
  } finally {
    await client?.close();
    await server.stop();
  }
});
