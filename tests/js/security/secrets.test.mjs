// No credential in errors, logs or stats (issue 7). For each kind of credential the sink
// takes (`token`, `user` + `pass`, `nkeySeed`, `creds`: JWT + seed), a sink with wrong
// credentials (SINK_AUTH), malformed ones where the kind has a format (INVALID_CONFIG),
// and a sink that logs in and delivers, while everything the process could show is
// captured: console.log/info/warn/error/debug/trace/dir, process.stdout/stderr writes,
// process warnings, every error thrown or rejected (message, code, stack, String(),
// JSON.stringify, util.inspect with hidden properties, own properties), util.inspect and
// JSON of the client, producer and sink objects, sink.state/error/stats(), producer
// stats, partitionInfo, and the onStateChange/onAck payloads. The captured text is
// searched for each secret, whole and as every 12-character fragment (of the seed also
// its raw bytes as hex, base64, base64url and decimal lists, and its PKCS#8 form). The
// first test plants secrets in each channel and checks the search finds them, so the
// real checks can fail.
// Run: node --test --test-concurrency=1 --test-force-exit tests/js/security/*.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import util from "node:util";
import { randomBytes } from "node:crypto";
import WebSocket from "ws";
import { createUser } from "nkeys.js";
import { Tributary, TributaryError } from "../../../pkg/node.js";
import { startNats } from "../sink/harness.mjs";
import { operatorSetup, tempDir, produce } from "./helpers.mjs";

const FRAGMENT = 12;
const dec = new TextDecoder();

// ---- capture ---------------------------------------------------------------------------

const CONSOLE = ["log", "info", "warn", "error", "debug", "trace", "dir", "table"];

/** Patches every output channel; `observe(v)` adds renderings of a value. */
function capture({ passThrough = true } = {}) {
  const texts = [];
  const saved = { console: {}, out: process.stdout.write, err: process.stderr.write };
  for (const m of CONSOLE) {
    saved.console[m] = console[m];
    console[m] = (...args) => { texts.push(`console.${m}: ${util.format(...args)}`); };
  }
  // Pass writes through (the test runner reports on stdout) and keep a copy.
  const write = (original) => function (chunk, ...rest) {
    texts.push(String(chunk));
    if (passThrough) return original.call(this, chunk, ...rest);
    rest.find((a) => typeof a === "function")?.();
    return true;
  };
  process.stdout.write = write(saved.out);
  process.stderr.write = write(saved.err);
  const onWarning = (w) => observe(w);
  const onRejection = (r) => observe(r);
  process.on("warning", onWarning);
  process.on("unhandledRejection", onRejection);
  function observe(v, seen = new Set()) {
    if (v === null || v === undefined) return;
    if (typeof v !== "object" && typeof v !== "function") { texts.push(String(v)); return; }
    if (seen.has(v)) return;
    seen.add(v);
    const tryPush = (f) => { try { texts.push(String(f())); } catch (e) { texts.push(`(rendering threw ${e})`); } };
    tryPush(() => String(v));
    tryPush(() => JSON.stringify(v));
    tryPush(() => util.inspect(v, { showHidden: true, depth: 8, getters: true }));
    if (v instanceof Error) {
      tryPush(() => v.message);
      tryPush(() => v.stack);
      tryPush(() => v.code);
      observe(v.cause, seen);
    }
    for (const k of Object.getOwnPropertyNames(v)) {
      try { observe(v[k], seen); } catch { /* a throwing getter */ }
    }
  }
  return {
    observe,
    /** Runs `f`; what it throws or rejects with is observed and returned. */
    async failure(f) {
      try {
        const r = await f();
        observe(r);
        return null;
      } catch (e) {
        observe(e);
        return e;
      }
    },
    stop() {
      for (const m of CONSOLE) console[m] = saved.console[m];
      process.stdout.write = saved.out;
      process.stderr.write = saved.err;
      process.off("warning", onWarning);
      process.off("unhandledRejection", onRejection);
      return texts.join("\n");
    },
  };
}

// ---- secrets and the search ------------------------------------------------------------

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
function base32Decode(s) {
  const out = [];
  let acc = 0;
  let bits = 0;
  for (const c of s) {
    acc = (acc << 5) | BASE32.indexOf(c);
    bits += 5;
    if (bits >= 8) { bits -= 8; out.push((acc >> bits) & 0xff); }
  }
  return Uint8Array.from(out);
}

/** [label, text] pairs to search for: the secret, and what `from` on of it is distinctive. */
function secret(label, text, from = 0) {
  return { label, text, from };
}

/** The seed as text and in every byte form it might leak in. */
function seedSecrets(label, seed) {
  const raw = base32Decode(seed).slice(2, 34); // 2 prefix bytes, 32 seed bytes, crc16
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), raw]);
  const b = Buffer.from(raw);
  return [
    secret(`${label} seed`, seed, 3),
    secret(`${label} seed bytes (hex)`, b.toString("hex")),
    secret(`${label} seed bytes (base64)`, b.toString("base64")),
    secret(`${label} seed bytes (base64url)`, b.toString("base64url")),
    secret(`${label} seed bytes (decimal, ", ")`, [...raw].join(", ")),
    secret(`${label} seed bytes (decimal, ",")`, [...raw].join(",")),
    secret(`${label} seed as PKCS#8 (base64)`, pkcs8.toString("base64"), 24),
    secret(`${label} seed as PKCS#8 (hex)`, pkcs8.toString("hex"), 32),
  ];
}

function jwtSecrets(label, jwt) {
  const header = jwt.split(".")[0];
  return [secret(`${label} JWT`, jwt, header.length + 1)];
}

/** Each secret found in `text`, whole or as a fragment: [{ label, fragment }]. */
function findLeaks(text, secrets) {
  const leaks = [];
  for (const { label, text: s, from } of secrets) {
    if (text.includes(s)) { leaks.push({ label, fragment: s }); continue; }
    for (let i = from; i + FRAGMENT <= s.length; i++) {
      const fragment = s.slice(i, i + FRAGMENT);
      if (text.includes(fragment)) { leaks.push({ label, fragment }); break; }
    }
  }
  return leaks;
}

// ---- the servers and the credentials ---------------------------------------------------

const token = `tok-${randomBytes(16).toString("hex")}`;
const wrongToken = `tok-${randomBytes(16).toString("hex")}`;
const password = `pw-${randomBytes(12).toString("base64url")}`;
const wrongPassword = `pw-${randomBytes(12).toString("base64url")}`;
const nkeyUser = createUser();
const nkeySeed = dec.decode(nkeyUser.getSeed());
const wrongSeed = dec.decode(createUser().getSeed());
const op = operatorSetup();
const alice = op.user("alice");
const stranger = op.stranger("mallory");

/** A seed with one character changed: fails its checksum (malformed, INVALID_CONFIG). */
const corrupt = (s, at) => s.slice(0, at) + (s[at] === "A" ? "B" : "A") + s.slice(at + 1);

const KINDS = {
  token: {
    secrets: [secret("token", token), secret("wrong token", wrongToken)],
    good: { token }, bad: [{ token: wrongToken }], malformed: [],
  },
  "user+password": {
    secrets: [secret("password", password), secret("wrong password", wrongPassword)],
    good: { user: "alice", pass: password }, bad: [{ user: "alice", pass: wrongPassword }], malformed: [],
  },
  nkeySeed: {
    secrets: [...seedSecrets("nkey", nkeySeed), ...seedSecrets("wrong nkey", wrongSeed),
      secret("corrupted nkey seed", corrupt(nkeySeed, 30), 3)],
    good: { nkeySeed }, bad: [{ nkeySeed: wrongSeed }], malformed: [{ nkeySeed: corrupt(nkeySeed, 30) }],
  },
  creds: {
    secrets: [...seedSecrets("creds", alice.seed), ...jwtSecrets("creds", alice.jwt),
      ...seedSecrets("stranger creds", stranger.seed), ...jwtSecrets("stranger creds", stranger.jwt),
      secret("creds file", alice.creds)],
    good: { creds: alice.creds },
    // A JWT that parses (three base64url parts) is the server's to judge: a cut or
    // altered signature is accepted by connect and refused at login.
    bad: [{ creds: stranger.creds }, { creds: alice.creds.replace(alice.jwt, alice.jwt.slice(0, -20)) },
      { creds: alice.creds.replace(alice.jwt, corrupt(alice.jwt, alice.jwt.length - 5)) }],
    malformed: [{ creds: alice.creds.replace(alice.seed, corrupt(alice.seed, 30)) },
      { creds: alice.creds.replace(alice.jwt, "not-a-jwt") }],
  },
};
const ALL_SECRETS = Object.values(KINDS).flatMap((k) => k.secrets);

let servers = {};
const temps = [];
before(async () => {
  const t = tempDir("secrets");
  temps.push(t);
  servers.token = await startNats({ name: "sec-token", auth: `authorization { token: "${token}" }` });
  servers.users = await startNats({
    name: "sec-users",
    auth: `authorization { users: [ { user: "alice", password: "${password}" }, { nkey: "${nkeyUser.getPublicKey()}" } ] }`,
  });
  servers.operator = await startNats({ name: "sec-operator", auth: op.serverConfig(t.dir) });
});
after(async () => {
  for (const s of Object.values(servers)) await s.stop();
  for (const t of temps) t.remove();
});
const serverFor = { token: "token", "user+password": "users", nkeySeed: "users", creds: "operator" };

// ---- the tests -------------------------------------------------------------------------

test("the leak search finds secrets planted in each channel (so the checks below can fail)", () => {
  const channels = [
    (s) => console.log("connecting with", s),
    (s) => console.error(new Error(`auth failed for ${s}`)),
    (s) => console.debug({ options: { secret: s } }),
    (s) => process.stderr.write(`warn: ${s}\n`),
    (_, cap, s) => cap.observe(Object.assign(new TributaryError("SINK_AUTH", "refused"), { detail: s })),
    (_, cap, s) => cap.observe({ stats: { server: `wss://127.0.0.1:1?x=${s}` } }),
  ];
  let n = 0;
  for (const s of ALL_SECRETS) {
    // A fragment from the middle (not the whole secret), in a channel taken in turn.
    const mid = s.from + Math.floor((s.text.length - s.from - FRAGMENT) / 2);
    const fragment = s.text.slice(mid, mid + FRAGMENT);
    const cap = capture({ passThrough: false }); // synchronous: nothing else writes meanwhile
    try {
      channels[n++ % channels.length](fragment, cap, fragment);
    } finally {
      const text = cap.stop();
      const leaks = findLeaks(text, [s]);
      assert.equal(leaks.length, 1, `planted fragment of "${s.label}" not found`);
    }
  }
  // And nothing is found in text without secrets.
  assert.deepEqual(findLeaks("SINK_AUTH the server refused the sink's credentials", ALL_SECRETS), []);
});

for (const [kind, k] of Object.entries(KINDS)) {
  test(`${kind}: no secret in anything a failing, a refused and a working sink show`, { timeout: 30_000 }, async () => {
    const server = servers[serverFor[kind]];
    const cap = capture();
    const client = new Tributary({ seed: 61 });
    const facts = [];
    let text;
    try {
      client.createTopic("s", { partitions: 2 });
      const producer = client.topicProducer("s");
      const hooks = {
        onStateChange: (state, e) => cap.observe([state, e]),
        onAck: (progress) => cap.observe(progress),
      };
      // Malformed credentials: refused by connect.
      for (const creds of k.malformed) {
        const e = await cap.failure(() => client.connect("s", { server: server.url, WebSocket, ...creds }));
        facts.push(["malformed", e?.code]);
      }
      // Wrong credentials: SINK_AUTH.
      for (const creds of k.bad) {
        const sink = client.connect("s", { server: server.url, WebSocket, provision: true, ...creds, ...hooks });
        cap.observe(sink);
        await produce(producer, 20, { tag: "bad" });
        const e = await cap.failure(() => client.flush());
        facts.push(["wrong", e?.code]);
        await cap.failure(() => sink.flush({ timeoutMs: 10 }));
        for (const v of [sink, sink.state, sink.error, sink.stats(), client, producer, producer.stats(),
          client.partitionInfo("s", 0), client.partitionInfo("s", 1)]) cap.observe(v);
        await sink.close();
        await cap.failure(() => sink.flush());
        cap.observe(sink.stats());
      }
      // The right credentials: delivers; a second connect is SINK_EXISTS.
      const sink = client.connect("s", { server: server.url, WebSocket, provision: true, ...k.good, ...hooks });
      await produce(producer, 20, { tag: "good" });
      facts.push(["good", (await cap.failure(() => client.flush()))?.code ?? "delivered"]);
      const exists = await cap.failure(() => client.connect("s", { server: server.url, WebSocket, ...k.good }));
      facts.push(["again", exists?.code]);
      for (const v of [sink, sink.state, sink.error, sink.stats(), client, producer, producer.stats()]) cap.observe(v);
      facts.push(["acked", sink.stats().acked]);
      await sink.close();
      cap.observe(sink.stats());
    } finally {
      await client.close();
      text = cap.stop();
    }
    const expected = [
      ...k.malformed.map(() => ["malformed", "INVALID_CONFIG"]),
      ...k.bad.map(() => ["wrong", "SINK_AUTH"]),
      ["good", "delivered"], ["again", "SINK_EXISTS"], ["acked", 20 * (k.bad.length + 1)],
    ];
    assert.deepEqual(facts, expected, "what each sink did");
    assert.ok(text.length > 5000, `captured ${text.length} characters`);
    assert.match(text, /SINK_AUTH/, "the refusal was captured");
    const leaks = findLeaks(text, ALL_SECRETS);
    assert.deepEqual(leaks, [], `secrets in what the sink showed:\n${leaks.map((l) => {
      const at = text.indexOf(l.fragment);
      return `${l.label}: ...${text.slice(Math.max(0, at - 120), at + 60)}...`;
    }).join("\n")}`);
  });
}

test("a server URL with user information is INVALID_CONFIG, and the message does not repeat it", () => {
  const client = new Tributary();
  try {
    client.createTopic("u", { partitions: 1 });
    for (const url of ["wss://alice:hunter2-secret@127.0.0.1:4222", "ws://tok3n-secret@127.0.0.1:1/x"]) {
      assert.throws(() => client.connect("u", { server: url, WebSocket }), (e) => {
        assert.equal(e.code, "INVALID_CONFIG");
        assert.match(e.message, /servers/);
        assert.doesNotMatch(e.message, /secret/);
        return true;
      });
    }
    // Nothing was left behind: a good sink can still be made.
    const sink = client.connect("u", { server: "ws://127.0.0.1:1", WebSocket });
    assert.equal(sink.error, null);
    sink.close();
  } finally {
    client.close();
  }
});
