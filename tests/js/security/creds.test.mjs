// `.creds` (JWT + nkey seed) login from the JS sink, end to end (issue 7). At test time
// nkeys.js (a dev dependency) makes an operator, an account with JetStream enabled, a
// system account and users, and signs their JWTs (`helpers.mjs`, no `exp`: they do not
// expire; nothing is committed). nats-server runs in operator mode (MEMORY resolver
// preloaded with the accounts) with JetStream. An unknown user (signed by an account the
// server does not know) and a stolen JWT presented with another seed are SINK_AUTH, the
// records stay in the log; then the real user's `.creds` delivers all 1,000, read back
// with the `nats` client logged in with the same `.creds`.
// Run: node --test --test-concurrency=1 --test-force-exit tests/js/security/*.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { credsAuthenticator } from "nats";
import { Tributary, TributaryError } from "../../../pkg/node.js";
import { startNats, readStream, checkDelivery } from "../sink/harness.mjs";
import { operatorSetup, credsFile, tempDir, produce } from "./helpers.mjs";

test(".creds in operator mode: unknown user and wrong seed are SINK_AUTH with every record kept; the real user delivers 1,000 records once, in order", { timeout: 50_000 }, async () => {
  const t = tempDir("operator");
  const op = operatorSetup();
  const alice = op.user("alice");
  const stranger = op.stranger("mallory"); // a valid JWT chain, but not to this operator
  const stolen = credsFile(alice.jwt, op.user("eve").seed); // alice's JWT, eve's seed
  const server = await startNats({ name: "operator", auth: op.serverConfig(t.dir) });
  const client = new Tributary({ seed: 31 });
  try {
    assert.match(server.log(), /Operator:\s+"tributary-test-operator"/, "the server runs in operator mode");
    client.createTopic("jwt", { partitions: 4 });
    const producer = client.topicProducer("jwt");
    const counts = await produce(producer, 1000, { tag: "jwt" });

    for (const [label, creds] of [["unknown user", stranger.creds], ["alice's JWT with another seed", stolen]]) {
      const states = [];
      const sink = client.connect("jwt", {
        server: server.url, WebSocket, provision: true, creds,
        onStateChange: (s, e) => states.push(e ? `${s} (${e.code})` : s),
      });
      await assert.rejects(client.flush(), (e) => {
        assert.ok(e instanceof TributaryError, `${label}: ${e}`);
        assert.equal(e.code, "SINK_AUTH", `${label}: ${e.code} ${e.message}`);
        assert.equal(e.message, "the server refused the sink's credentials");
        const undelivered = e.undelivered.reduce((n, r) => n + r.toOffset - r.fromOffset, 0);
        assert.equal(undelivered, 1000, `${label}: all 1,000 named undelivered`);
        return true;
      });
      assert.equal(sink.state, "failed", label);
      assert.equal(sink.error.code, "SINK_AUTH", label);
      assert.deepEqual(states, ["failed (SINK_AUTH)"], `${label}: states`);
      assert.equal(sink.stats().connects, 0);
      assert.equal(sink.stats().published, 0);
      for (let p = 0; p < 4; p++) {
        const info = client.partitionInfo("jwt", p);
        assert.equal(info.ackedOffset, 0, `${label}: partition ${p} nothing acknowledged`);
        assert.equal(info.records, counts.get(p) ?? 0, `${label}: partition ${p} keeps its records`);
      }
      await sink.close();
    }

    const states = [];
    const sink = client.connect("jwt", {
      server: server.url, WebSocket, provision: true, creds: alice.creds,
      onStateChange: (s, e) => states.push(e ? `${s} (${e.code})` : s),
    });
    await client.flush();
    const stats = sink.stats();
    assert.equal(stats.acked, 1000);
    assert.equal(stats.failedRecords, 0);
    assert.equal(stats.connects, 1);
    assert.deepEqual(states, ["connected"]);
    const messages = await readStream(server.port, "jwt", {
      timeoutMs: 15_000,
      connectOptions: { authenticator: credsAuthenticator(new TextEncoder().encode(alice.creds)) },
    });
    checkDelivery(assert, messages, counts);
    for (const m of messages) assert.equal(m.subject, `jwt.${m.partition}`);
    await sink.close();
  } finally {
    await client.close();
    await server.stop();
    t.remove();
  }
});
