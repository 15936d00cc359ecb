// The sink against hostile and broken servers (issue 13's defects, one test each): small
// fake NATS servers over WebSocket in Node (the `ws` package's server on loopback), each
// misbehaving one way. What a server sends is untrusted input: nothing it does may throw
// out of a socket handler, grow memory without bound, storm it with connections, or leave
// the client unusable.
// Run: node --test --test-concurrency=1 tests/js/sink/badserver.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { Tributary } from "../../../pkg/node.js";
import { sleep } from "../../../scripts/loopback.mjs";
import { fakeNats, msgId, ack } from "./fakenats.mjs";

const dec = new TextDecoder();

test("defect 1: a server announcing a huge max_payload and streaming a 2^31-byte MSG: capped by the client, SINK_PROTOCOL and a reconnect, memory flat", { timeout: 30_000 }, async () => {
  let streamed = 0;
  let sub;
  const server = await fakeNats({
    info: { max_payload: 2 ** 40 },
    on: (op, conn) => {
      if (op.verb === "SUB") sub = op.args[0].replace(/\.>$/, "");
      if (op.verb !== "PING" || !sub || server.connections > 1) return;
      conn.send(`MSG ${sub}.0.0 1 ${2 ** 31}\r\n`);
      const chunk = Buffer.alloc(1 << 20, 120);
      const pump = () => {
        if (conn.ws.readyState !== 1 || streamed >= 96 * 2 ** 20) return;
        streamed += chunk.length;
        conn.ws.send(chunk, pump);
      };
      pump();
    },
  });
  const client = new Tributary();
  const states = [];
  try {
    client.createTopic("t", { partitions: 1 });
    const sink = client.connect("t", { server: server.url, WebSocket, backoffInitialMs: 2000, backoffMaxMs: 4000, onStateChange: (s, e) => states.push([s, e?.code]) });
    for (let i = 0; i < 200 && !states.some(([s]) => s === "reconnecting"); i++) await sleep(25);
    assert.ok(states.some(([s, c]) => s === "reconnecting" && c === "SINK_PROTOCOL"), JSON.stringify(states));
    assert.ok(streamed < 16 * 2 ** 20, `the client read on: ${streamed} bytes streamed`);
    assert.ok(sink.stats().disconnects >= 1);
    // The client is usable: it produces and reads.
    const md = await client.topicProducer("t").send("k", "v");
    assert.equal(dec.decode(client.read("t", 0, md.offset, 1)[0].value), "v");
    await sink.close({ timeoutMs: 0 });
  } finally {
    await client.close({ timeoutMs: 0 });
    await server.close();
  }
});

test("defect 2: a server that closes on every HPUB, maxRetries 1: every attempt counts; flush rejects naming each record; each sent at most twice as the first unacknowledged", { timeout: 30_000 }, async () => {
  const sends = new Map();
  const server = await fakeNats({
    on: (op, conn) => {
      if (op.verb !== "HPUB") return;
      const id = msgId(op.headers);
      sends.set(id, (sends.get(id) ?? 0) + 1);
      conn.close();
    },
  });
  const client = new Tributary();
  try {
    client.createTopic("t", { partitions: 1 });
    const sink = client.connect("t", { server: server.url, WebSocket, maxRetries: 1, backoffInitialMs: 10, backoffMaxMs: 40 });
    await client.topicProducer("t").sendAll([["a", "1"], ["b", "2"], ["c", "3"]]);
    await assert.rejects(client.flush(), (e) => {
      assert.equal(e.code, "SINK_UNDELIVERED", e.message);
      assert.deepEqual(e.undelivered.map((r) => r.fromOffset).sort(), [0, 1, 2]);
      return true;
    });
    assert.equal(sink.stats().failedRecords, 3);
    const [first] = [...sends.keys()].filter((id) => id.endsWith("-0-0"));
    assert.equal(sends.get(first), 2, `the first record was sent ${sends.get(first)} times`);
    for (const [id, n] of sends) assert.ok(n <= 6, `${id} sent ${n} times`);
  } finally {
    await client.close({ timeoutMs: 0 });
    await server.close();
  }
});

test("defect 3: a server that logs in (PONG) and closes at once: the backoff grows, no connection storm", { timeout: 30_000 }, async () => {
  const server = await fakeNats({
    on: (op, conn) => {
      if (op.verb === "SUB") setTimeout(() => conn.close(), 5);
    },
  });
  const client = new Tributary();
  try {
    client.createTopic("t", { partitions: 1 });
    const sink = client.connect("t", { server: server.url, WebSocket, backoffInitialMs: 100, backoffMaxMs: 5000 });
    await sleep(5000);
    // 100, 200, 400, 800, 1600, 3200 ms (each drawn from [d/2, d]): at most 9 connections in 5 s.
    assert.ok(server.connections <= 9, `${server.connections} connections in 5 s`);
    assert.ok(server.connections >= 3, `${server.connections} connections in 5 s`);
    await sink.close({ timeoutMs: 0 });
  } finally {
    await client.close({ timeoutMs: 0 });
    await server.close();
  }
});

test("defect 4: message ids are stable for a record's life: a new connect() on the same client resends with the same ids", { timeout: 30_000 }, async () => {
  const ids = [];
  const server = await fakeNats({ on: (op) => op.verb === "HPUB" && ids.push(msgId(op.headers)) });
  const client = new Tributary();
  try {
    client.createTopic("t", { partitions: 1 });
    let sink = client.connect("t", { server: server.url, WebSocket });
    await client.topicProducer("t").send("k", "v");
    for (let i = 0; i < 100 && ids.length < 1; i++) await sleep(20);
    await sink.close({ timeoutMs: 0 });
    sink = client.connect("t", { server: server.url, WebSocket });
    for (let i = 0; i < 100 && ids.length < 2; i++) await sleep(20);
    assert.equal(ids.length, 2);
    assert.equal(ids[0], ids[1], "the same id on both sinks");
    assert.match(ids[0], /^[0-9a-f]{16}-0-0$/);
    await sink.close({ timeoutMs: 0 });
  } finally {
    await client.close({ timeoutMs: 0 });
    await server.close();
  }
});

test("defect 5: a refused subscription to the reply inbox is SINK_INBOX_PERMISSION (no resend storm); inboxPrefix moves the inbox", { timeout: 30_000 }, async () => {
  let hpubs = 0;
  let subject;
  const server = await fakeNats({
    on: (op, conn) => {
      if (op.verb === "HPUB") hpubs++;
      if (op.verb === "SUB") {
        subject = op.args[0];
        if (subject.startsWith("_INBOX.")) conn.send(`-ERR 'Permissions Violation for Subscription to "${subject}"'\r\n`);
      }
    },
  });
  const client = new Tributary();
  try {
    client.createTopic("t", { partitions: 1 });
    const states = [];
    const sink = client.connect("t", { server: server.url, WebSocket, ackTimeoutMs: 100, onStateChange: (s, e) => states.push([s, e?.code]) });
    await client.topicProducer("t").send("k", "v");
    await assert.rejects(sink.flush({ timeoutMs: 5000 }), (e) => e.code === "SINK_INBOX_PERMISSION");
    assert.equal(sink.state, "failed");
    assert.equal(sink.error.code, "SINK_INBOX_PERMISSION");
    assert.match(sink.error.message, /inboxPrefix/);
    await sleep(300);
    assert.equal(hpubs, 0, "nothing published");
    assert.equal(server.connections, 1, "no reconnect storm");
    await sink.close({ timeoutMs: 0 });
    // With an inbox the account may subscribe to, it delivers.
    const ok = client.connect("t", { server: server.url, WebSocket, inboxPrefix: "_R.app" });
    for (let i = 0; i < 100 && !hpubs; i++) await sleep(20);
    assert.match(subject, /^_R\.app\.[0-9a-f]+\.>$/);
    assert.equal(hpubs, 1);
    assert.throws(() => client.connect("u", { server: server.url, WebSocket, inboxPrefix: "a b" }), (e) => e.code === "UNKNOWN_TOPIC");
    client.createTopic("u", { partitions: 1 });
    assert.throws(() => client.connect("u", { server: server.url, WebSocket, inboxPrefix: "a b" }), (e) => e.code === "INVALID_CONFIG");
    await ok.close({ timeoutMs: 0 });
  } finally {
    await client.close({ timeoutMs: 0 });
    await server.close();
  }
});

/** A server whose INFO `info` gives no headers: SINK_NO_HEADERS at once, one connection;
 * `polluted` sets `Object.prototype.headers = true` meanwhile (the INFO's own fields count). */
async function noHeaders(info, polluted) {
  const server = await fakeNats({ info });
  const client = new Tributary();
  if (polluted) Object.prototype.headers = true;
  try {
    client.createTopic("t", { partitions: 1 });
    const sink = client.connect("t", { server: server.url, WebSocket });
    await client.topicProducer("t").send("k", "v");
    await assert.rejects(sink.flush({ timeoutMs: 5000 }), (e) => e.code === "SINK_NO_HEADERS");
    assert.equal(sink.state, "failed");
    await sleep(300);
    assert.equal(server.connections, 1);
  } finally {
    if (polluted) delete Object.prototype.headers;
    await client.close({ timeoutMs: 0 });
    await server.close();
  }
}

test("defect 6: a server whose INFO says headers: false is SINK_NO_HEADERS at once, no loop", { timeout: 30_000 }, () => noHeaders({ headers: false }));

// INFO with no `headers` field at all (JSON.stringify leaves undefined out).
test("the server's JSON is read as its own fields: an INFO without headers is SINK_NO_HEADERS with Object.prototype.headers set", { timeout: 30_000 }, () =>
  noHeaders({ headers: undefined }, true));

test("defect 7: a WebSocket whose property setters throw (a frozen object): coded, and the client stays usable", { timeout: 30_000 }, async () => {
  // A host object whose properties cannot be set (setting one throws in strict code).
  class Frozen {
    constructor() {
      return Object.freeze({ close() {}, send() {} });
    }
  }
  class Throws {
    constructor() {
      throw new RangeError("no sockets here");
    }
  }
  const client = new Tributary();
  try {
    client.createTopic("t", { partitions: 1 });
    client.createTopic("u", { partitions: 1 });
    const states = [];
    const sink = client.connect("t", { server: "ws://127.0.0.1:9", WebSocket: Frozen, onStateChange: (s, e) => states.push([s, e?.code]) });
    const other = client.connect("u", { server: "ws://127.0.0.1:9", WebSocket: Throws });
    await sleep(50);
    assert.equal(sink.error?.code, "SINK_CONNECT");
    assert.equal(other.error?.code, "SINK_CONNECT");
    assert.match(other.error.message, /no sockets here/);
    assert.deepEqual(states[0], ["reconnecting", "SINK_CONNECT"]);
    // The client's local log is the program's still.
    const p = client.topicProducer("t");
    const mds = await p.sendAll([["a", "1"], ["b", "2"]]);
    assert.deepEqual(client.read("t", 0, 0, 10).map((r) => dec.decode(r.value)), ["1", "2"]);
    assert.equal(mds[1].offset, 1);
    assert.equal(sink.stats().state, "reconnecting");
    await sink.close({ timeoutMs: 0 });
    await other.close({ timeoutMs: 0 });
  } finally {
    await client.close({ timeoutMs: 0 });
  }
});

test("defect 8: 200 records on a 65,536-partition topic are delivered and acknowledged", { timeout: 60_000 }, async () => {
  const server = await fakeNats({ on: (op, conn) => op.verb === "HPUB" && ack(conn, op.reply) });
  const client = new Tributary();
  try {
    client.createTopic("t", { partitions: 65536 });
    const sink = client.connect("t", { server: server.url, WebSocket });
    const p = client.topicProducer("t");
    for (let i = 0; i < 200; i++) await p.send(`key-${i}`, "v");
    await client.flush();
    assert.equal(sink.stats().acked, 200);
  } finally {
    await client.close({ timeoutMs: 0 });
    await server.close();
  }
});

test("defect 9: close() waits for delivery, then reports what was not delivered; a lost connection says why", { timeout: 30_000 }, async () => {
  let acking = true;
  let closeAfterLogin = false;
  const server = await fakeNats({
    on: (op, conn) => {
      if (op.verb === "SUB" && closeAfterLogin) setTimeout(() => conn.close(), 20);
      if (op.verb === "HPUB" && acking) setTimeout(() => ack(conn, op.reply), 100);
    },
  });
  const client = new Tributary();
  try {
    client.createTopic("t", { partitions: 4 });
    const states = [];
    const sink = client.connect("t", { server: server.url, WebSocket, onStateChange: (s, e) => states.push([s, e]) });
    const p = client.topicProducer("t");
    await p.sendAll(Array.from({ length: 2000 }, (_, i) => [`k${i}`, `v${i}`]));
    await sink.close();
    assert.equal(sink.stats().acked, 2000, "close waited for every ack");
    assert.equal(states.at(-1)[0], "closed");
    assert.equal(states.at(-1)[1], undefined, "nothing undelivered");

    // A server that stops acknowledging: close waits timeoutMs, then reports.
    acking = false;
    const states2 = [];
    const sink2 = client.connect("t", { server: server.url, WebSocket, onStateChange: (s, e) => states2.push([s, e]) });
    await p.sendAll([["a", "x"], ["b", "y"]]);
    const started = Date.now();
    await sink2.close({ timeoutMs: 300 });
    assert.ok(Date.now() - started >= 250);
    const [state, e] = states2.at(-1);
    assert.equal(state, "closed");
    assert.equal(e.code, "SINK_CLOSED");
    assert.equal(e.undelivered.reduce((n, r) => n + r.toOffset - r.fromOffset, 0), 2);
    assert.equal(sink2.error.code, "SINK_CLOSED");

    // A lost connection reaches onStateChange with its cause.
    closeAfterLogin = true;
    const states3 = [];
    const sink3 = client.connect("t", { server: server.url, WebSocket, backoffInitialMs: 1000, onStateChange: (s, e) => states3.push([s, e?.code]) });
    for (let i = 0; i < 100 && !states3.some(([s]) => s === "reconnecting"); i++) await sleep(20);
    assert.deepEqual(states3.find(([s]) => s === "reconnecting"), ["reconnecting", "SINK_DISCONNECTED"]);
    await sink3.close({ timeoutMs: 0 });
  } finally {
    await client.close({ timeoutMs: 0 });
    await server.close();
  }
});

test("accessors on Object.prototype and Array.prototype (indexes 0..5, `length`, the sink's and the server JSON's field names) change nothing the sink does or hands out", { timeout: 30_000 }, async () => {
  // A scripted WebSocket in this process (no sockets: ws and Node's own code would meet
  // the accessors too); everything the sink does runs while they are there.
  let sock, wire = "", inbox = "";
  const latin = new TextDecoder("latin1");
  class FakeWS {
    constructor(url) {
      sock = this;
      this.url = url;
    }
    send(b) {
      wire += latin.decode(b);
    }
    close() {}
  }
  const feed = (text) => sock.onmessage({ data: new TextEncoder().encode(text) });
  const ticks = async () => {
    for (let i = 0; i < 5; i++) await null;
  };
  const calls = new Map();
  let n = 0;
  const client = new Tributary();
  client.createTopic("t", { partitions: 1 });
  const p = client.topicProducer("t");
  const names = ["0", "1", "2", "state", "server", "progress", "givenUp", "missing", "undelivered", "cause", "id", "parts", "topicInfo", "woken", "gone", "busy",
    "timer", "due", "phase", "ws", "out", "parser", "url", "maxPayload", "reason", "inboxId", "inbox", "last", "provAsked", "headers", "status", "seed", "auth_token",
    "user", "pass", "jwt", "published", "acked", "inFlight", "maxRetries", "ackTimeoutMs", "closeTimeoutMs", "duplicateWindowMs", "msgIdPrefix",
    // The PubAck's fields, read as its own (a reply without them is no acknowledgement).
    "seq", "stream", "duplicate", "error", "err_code", "code",
    // The INFO's (read as its own), more indexes, and `length` (Object.prototype's: Array.prototype's own cannot be replaced).
    "max_payload", "nonce", "3", "4", "5", "length"];
  // Node's timer heap is filled by index: used once first (see boundary.test.mjs).
  for (let i = 0; i < 4; i++) clearTimeout(setTimeout(() => {}, 1e6 + i));
  // The test runner's output so far written first (its streams are arrays filled by index
  // too); from here to the accessors' removal, only microtasks run (no timer, no I/O).
  await new Promise((r) => setTimeout(r, 100));
  const got = {};
  let flushed;
  for (const P of [Object.prototype, Array.prototype]) {
    for (const k of names) if (!Object.hasOwn(P, k)) Object.defineProperty(P, k, { configurable: true, get: () => "evil", set() {} });
  }
  try {
    const sink = client.connect("t", {
      server: "ws://127.0.0.1:9", WebSocket: FakeWS, maxRetries: 0,
      onAck: (progress) => calls.set(n++, progress),
      onStateChange: (state) => calls.set(n++, state),
    });
    feed(`INFO {"server_id":"x","headers":true,"max_payload":1048576}\r\n`);
    await ticks();
    got.connect = /^CONNECT (\{.*\})\r\nPING\r\n$/.exec(wire)?.[1];
    wire = "";
    feed("PONG\r\n");
    await ticks();
    inbox = /^SUB (\S+)\.> 1\r\nPING\r\n$/.exec(wire)?.[1];
    wire = "";
    feed("PONG\r\n");
    await p.sendAll([["a", "1"], ["b", "2"], ["c", "3"]]);
    flushed = sink.flush().then(() => "resolved", (e) => ({ code: e.code, undelivered: Object.hasOwn(e, "undelivered") ? e.undelivered : "not own" }));
    await ticks();
    const replies = [...wire.matchAll(/HPUB t\.0 (\S+) /g)].map((m) => m[1]);
    got.replies = replies.map((r) => r.slice(inbox.length));
    wire = "";
    // Records 0 and 2 acknowledged; 1 refused (503), given up (maxRetries 0).
    const ackOf = (r, seq) => `MSG ${r} 1 ${JSON.stringify({ stream: "t", seq }).length}\r\n${JSON.stringify({ stream: "t", seq })}\r\n`;
    feed(ackOf(replies[0], 1) + `HMSG ${replies[1]} 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n` + ackOf(replies[2], 2));
    await ticks();
    got.stats = sink.stats();
    got.sinkState = sink.state;
    await sink.close();
    got.closed = sink.stats();
  } finally {
    for (const P of [Object.prototype, Array.prototype]) for (const k of names) if (k !== "length" || P === Object.prototype) delete P[k];
  }
  got.connect = got.connect && JSON.parse(got.connect);
  got.flushed = await flushed;
  got.calls = [...calls.values()];
  await client.close({ timeoutMs: 0 });
  // What the same run gives without the accessors: the second record refused (503) is
  // resent once and given up (maxRetries 0), the others acknowledged.
  const stats = { published: 4, acked: 2, duplicates: 0, resent: 1, timeouts: 0, errors: 1, failedRecords: 1, connects: 1, disconnects: 0, inFlight: 0 };
  const gap = [{ partition: 0, fromOffset: 1, toOffset: 2 }];
  assert.deepEqual(got, {
    connect: { lang: "tributary", version: "js", protocol: 1, verbose: false, echo: false, headers: true, no_responders: true },
    replies: [".0.0", ".0.1", ".0.2"],
    stats: { ...stats, state: "connected", server: "ws://127.0.0.1:9" },
    sinkState: "connected",
    closed: { ...stats, state: "closed", server: "ws://127.0.0.1:9" },
    flushed: { code: "SINK_UNDELIVERED", undelivered: gap },
    calls: ["connected", [{ partition: 0, ackedOffset: 1, streamSeq: 1 }], [{ partition: 0, ackedOffset: 2, streamSeq: 1, givenUp: gap }], [{ partition: 0, ackedOffset: 3, streamSeq: 2 }], "closed"],
  });
  for (const c of got.calls) if (typeof c !== "string") assert.equal(Object.getPrototypeOf(c), Array.prototype);
});

test("writes queued in a turn: a socket closed before the turn ends takes its bytes with it, a send() that throws is a lost connection; each connection begins CONNECT PING, SUB PING, then the records", { timeout: 30_000 }, async () => {
  // A scripted WebSocket per connection, the bytes each was sent kept apart.
  const socks = [];
  let throwing = 0;
  const latin = new TextDecoder("latin1");
  class FakeWS {
    constructor() {
      this.wire = "";
      socks.push(this);
    }
    send(b) {
      if (throwing && !--throwing) throw new Error("send failed");
      this.wire += latin.decode(b);
    }
    close() {}
  }
  const feed = (ws, text) => ws.onmessage({ data: new TextEncoder().encode(text) });
  const ticks = async () => {
    for (let i = 0; i < 10; i++) await null;
  };
  const next = async (n) => {
    for (let i = 0; i < 200 && socks.length < n; i++) await sleep(5);
    assert.equal(socks.length, n);
    return socks[n - 1];
  };
  const login = async (ws) => {
    feed(ws, `INFO {"headers":true,"max_payload":1048576}\r\n`);
    await ticks();
    feed(ws, "PONG\r\n");
    await ticks();
    feed(ws, "PONG\r\n");
    await ticks();
  };
  // What a connection was sent, its CONNECT's JSON, inbox, timestamps and sizes blanked
  // (the sizes are checked through nats-server in tests/js/app/sink.test.mjs).
  const shape = (wire) => wire.replace(/^CONNECT \{.*\}/, "CONNECT {}").replace(/_INBOX\.[0-9a-f]+\./g, "_INBOX.x.")
    .replace(/Tributary-Timestamp: \d+/g, "Tributary-Timestamp: T").replace(/^(HPUB \S+ \S+) \d+ \d+\r$/gm, "$1 H N\r");
  const states = [];
  const client = new Tributary();
  try {
    client.createTopic("t", { partitions: 1 });
    const sink = client.connect("t", { server: "ws://127.0.0.1:9", WebSocket: FakeWS, msgIdPrefix: "m", backoffInitialMs: 10, backoffMaxMs: 20, onStateChange: (s, e) => states.push([s, e?.code]) });
    const a = await next(1);
    await login(a);
    await client.topicProducer("t").sendAll([["a", "1"], ["b", "2"]]);
    await ticks();
    const records = (inbox) => ["a", "b"].map((k, i) => `HPUB t.0 ${inbox}0.${i} H N\r\nNATS/1.0\r\nNats-Msg-Id: m-0-${i}\r\nNats-Expected-Stream: t\r\nTributary-Key: ${k}\r\nTributary-Timestamp: T\r\n\r\n${i + 1}\r\n`).join("");
    const begin = "CONNECT {}\r\nPING\r\nSUB _INBOX.x.> 1\r\nPING\r\n";
    assert.equal(shape(a.wire), begin + records("_INBOX.x."));
    // The server pings and the connection closes in the same turn: the PONG goes nowhere.
    const sent = a.wire;
    feed(a, "PING\r\n");
    a.onclose({ code: 1006 });
    await ticks();
    assert.equal(a.wire, sent);
    // The next connection's first write throws: a lost connection, then another.
    const b = await next(2);
    throwing = 1;
    feed(b, `INFO {"headers":true,"max_payload":1048576}\r\n`);
    await ticks();
    assert.equal(b.wire, "");
    assert.equal(sink.error?.code, "SINK_DISCONNECTED");
    assert.match(sink.error.message, /send failed/);
    const c = await next(3);
    await login(c);
    await ticks();
    assert.equal(shape(c.wire), begin + records("_INBOX.x."));
    assert.deepEqual(states, [["connected", undefined], ["reconnecting", "SINK_DISCONNECTED"], ["connected", undefined]]);
    assert.equal(sink.stats().resent, 2);
    await sink.close({ timeoutMs: 0 });
  } finally {
    await client.close({ timeoutMs: 0 });
  }
});
