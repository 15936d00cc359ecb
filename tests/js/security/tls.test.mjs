// The sink over `wss://` (issue 7). At test time openssl makes a throwaway CA and a
// server certificate for 127.0.0.1 (SAN IP:127.0.0.1); nats-server serves its WebSocket
// listener with it. From Node (the `ws` package, given the CA through a WebSocket
// subclass: the bindings construct `new WebSocket(url)`) 10,000 keyed records arrive,
// read back with the `nats` client over plain TCP: exact count, per-partition order,
// no duplicates. Without the CA (or with another CA) the TLS handshake is refused and
// the sink keeps every record, retrying. The same from Deno (`--cert ca.pem`, Deno's own
// WebSocket).
// Run: node --test --test-concurrency=1 --test-force-exit tests/js/security/*.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Tributary, TributaryError } from "../../../pkg/node.js";
import { startNats, readStream, checkDelivery, runCommand } from "../sink/harness.mjs";
import { makeTls, tempDir, webSocketWith, produce, addCounts } from "./helpers.mjs";

const root = new URL("../../../", import.meta.url).pathname;
const run = (cmd, args, options) => runCommand(cmd, args, { timeoutMs: 30_000, ...options });
// What Node's TLS says of a server certificate from a CA it does not trust.
const UNTRUSTED = /unable to verify the first certificate|self[- ]signed certificate|unable to get local issuer/;

let server;
let tls;
let other; // a second throwaway CA, not the server's
const temps = [];
before(async () => {
  const t = tempDir("tls");
  const o = tempDir("tls-other");
  temps.push(t, o);
  tls = makeTls(t.dir);
  other = makeTls(o.dir);
  server = await startNats({ name: "wss", wsTls: tls });
  assert.match(server.url, /^wss:\/\/127\.0\.0\.1:\d+$/);
});
after(async () => {
  await server?.stop();
  for (const t of temps) t.remove();
});

/** The records of each partition, [0, highWatermark), as flush's `undelivered` names them. */
function allOf(client, topic, partitions) {
  const out = [];
  for (let p = 0; p < partitions; p++) {
    const hw = client.partitionInfo(topic, p).highWatermark;
    if (hw > 0) out.push({ partition: p, fromOffset: 0, toOffset: hw });
  }
  return out;
}

test("Node, wss:// without the CA (and with another CA): the handshake is refused, the sink retries, keeps every record; with the CA 10,000 + the kept records arrive once, in order", { timeout: 50_000 }, async () => {
  const client = new Tributary({ seed: 71 });
  try {
    client.createTopic("wss", { partitions: 8 });
    const producer = client.topicProducer("wss");
    const early = await produce(producer, 500, { tag: "early" });
    await client.flush(); // no sink yet: appended to the log

    for (const [label, wsOptions] of [["no CA", {}], ["another CA", { ca: other.ca }]]) {
      const ws = webSocketWith(wsOptions);
      const states = [];
      const sink = client.connect("wss", {
        server: server.url, WebSocket: ws.WebSocket, provision: true,
        backoffInitialMs: 20, backoffMaxMs: 100,
        onStateChange: (s, e) => states.push(e ? `${s} (${e.code})` : s),
      });
      const started = Date.now();
      await assert.rejects(sink.flush({ timeoutMs: 1500 }), (e) => {
        assert.ok(e instanceof TributaryError, `${label}: a TributaryError, got ${e}`);
        // The flush timed out; its cause is the sink's error: the refused certificate.
        assert.equal(e.code, "SINK_TIMEOUT", `${label}: ${e.code} ${e.message}`);
        assert.deepEqual(e.undelivered, allOf(client, "wss", 8), `${label}: every record undelivered`);
        assert.equal(e.cause?.code, "SINK_CONNECT", `${label}: the flush's cause`);
        assert.match(e.cause.message, UNTRUSTED, `${label}: the cause names the certificate`);
        return true;
      });
      assert.ok(Date.now() - started < 5000, `${label}: the flush timeout held`);
      assert.ok(ws.errors.length >= 2, `${label}: retried (${ws.errors.length} attempts)`);
      for (const m of ws.errors) assert.match(m, UNTRUSTED, `${label}: the socket's error`);
      assert.equal(sink.state, "reconnecting", `${label}: still trying`);
      assert.deepEqual(states, ["reconnecting (SINK_CONNECT)"], `${label}: states`);
      // The sink names the failed connection: the server, and what the runtime said.
      assert.ok(sink.error instanceof TributaryError);
      assert.equal(sink.error.code, "SINK_CONNECT");
      assert.ok(sink.error.message.startsWith(`could not connect to ${server.url}: `), sink.error.message);
      assert.match(sink.error.message, UNTRUSTED);
      const stats = sink.stats();
      assert.equal(stats.connects, 0, `${label}: never connected`);
      assert.equal(stats.published, 0, `${label}: nothing written`);
      assert.equal(stats.acked, 0);
      assert.equal(stats.failedRecords, 0, `${label}: nothing given up`);
      for (let p = 0; p < 8; p++) {
        const info = client.partitionInfo("wss", p);
        assert.equal(info.ackedOffset, 0, `${label}: partition ${p} unacknowledged`);
        assert.equal(info.records, early.get(p) ?? 0, `${label}: partition ${p} keeps its records`);
      }
      console.log(`${label}: flush SINK_TIMEOUT after ${ws.errors.length} refused handshakes ` +
        `("${ws.errors[0]}"); sink.error ${sink.error?.code ?? null}, state ${sink.state}`);
      await sink.close();
    }

    const ws = webSocketWith({ ca: tls.ca });
    const sink = client.connect("wss", { server: server.url, WebSocket: ws.WebSocket, provision: true });
    const started = Date.now();
    const later = await produce(producer, 10_000, { tag: "tls" });
    await client.flush();
    const ms = Date.now() - started;
    const stats = sink.stats();
    assert.deepEqual(ws.errors, [], "no socket error with the CA");
    assert.equal(stats.acked, 10_500);
    assert.equal(stats.failedRecords, 0);
    assert.equal(stats.connects, 1);
    assert.equal(stats.server, server.url);
    assert.equal(sink.state, "connected");
    checkDelivery(assert, await readStream(server.port, "wss"), addCounts(early, later));
    console.log(`wss:// from Node: 10,500 records acknowledged in ${ms} ms`);
    await sink.close();
  } finally {
    await client.close();
  }
});


/** A folder Deno runs our scripts from, whose node_modules is tests/js/app's. */
function denoDir() {
  const installed = join(root, "tests/js/app/node_modules");
  assert.ok(existsSync(join(installed, "tributary")), "tests/js/app is not installed (make test-js-suite)");
  const t = tempDir("deno");
  temps.push(t);
  copyFileSync(join(root, "tests/js/sink/deno.mjs"), join(t.dir, "deno.mjs"));
  copyFileSync(join(root, "tests/js/sink/produce.mjs"), join(t.dir, "produce.mjs"));
  copyFileSync(join(root, "tests/js/security/deno-refused.mjs"), join(t.dir, "deno-refused.mjs"));
  writeFileSync(join(t.dir, "package.json"), JSON.stringify({ type: "module", private: true }));
  symlinkSync(installed, join(t.dir, "node_modules"));
  return t.dir;
}
const deno = join(root, "node_modules/.bin/deno");

test("Deno, wss://: with --cert ca.pem 10,000 records arrive once, in order; without it the handshake is refused and every record is kept", { timeout: 50_000 }, async () => {
  const dir = denoDir();
  const refused = JSON.parse((await run(deno, ["run", "--allow-net", "--allow-read", "deno-refused.mjs", server.url, "denorefused"], { cwd: dir }))
    .trim().split("\n").at(-1));
  assert.equal(refused.flush.code, "SINK_TIMEOUT", JSON.stringify(refused));
  const total = refused.info.reduce((n, i) => n + i.highWatermark, 0);
  assert.equal(total, 100);
  assert.equal(refused.flush.undelivered.reduce((n, r) => n + r.toOffset - r.fromOffset, 0), 100, "every record undelivered");
  assert.ok(refused.info.every((i) => i.ackedOffset === 0 && i.records === i.highWatermark), "records kept");
  assert.ok(refused.attempts >= 2, `retried: ${refused.attempts}`);
  assert.equal(refused.state, "reconnecting");
  assert.equal(refused.stats.connects, 0);
  // As in Node, the sink names the failed connection with what Deno said.
  assert.equal(refused.error?.code, "SINK_CONNECT", JSON.stringify(refused.error));
  assert.match(refused.error.message, /^could not connect to wss:\/\/127\.0\.0\.1:\d+: .*(UnknownIssuer|certificate)/);
  assert.equal(refused.flush.cause?.code, "SINK_CONNECT");
  assert.deepEqual(refused.states, ["reconnecting (SINK_CONNECT)"]);
  console.log(`Deno without --cert: ${JSON.stringify({ flush: refused.flush.code, socketErrors: refused.socketErrors, attempts: refused.attempts, state: refused.state })}`);

  const COUNT = 10_000;
  const out = await run(deno, ["run", "--allow-net", "--allow-read", "--cert", tls.caFile, "deno.mjs", server.url, "denotls", String(COUNT)], { cwd: dir });
  const result = JSON.parse(out.trim().split("\n").at(-1));
  assert.equal(result.stats.acked, COUNT);
  assert.equal(result.stats.failedRecords, 0);
  assert.equal(result.stats.server, server.url);
  const counts = new Map(result.perPartition.map((n, p) => [p, n]));
  const messages = await readStream(server.port, "denotls");
  checkDelivery(assert, messages, counts);
  console.log(`wss:// from ${result.runtime}: ${COUNT} records acknowledged in ${result.ms} ms, read back ${messages.length}`);
});
