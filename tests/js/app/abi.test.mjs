// The boundary itself (src/bindings over a plain C ABI, js/tributary.js over it), in Node
// against the installed package: the wasm imports nothing, numbers are checked in JS with
// the messages the Rust bindings had, lone surrogates are refused (not replaced), and
// each poll's report settles its tickets in order, failures with their codes; a producer
// garbage-collected without close() is closed by the package's FinalizationRegistry.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import v8 from "node:v8";
import vm from "node:vm";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Tributary, TributaryError, partitionFor } from "tributary";
import * as local from "tributary/local";

const pkgDir = dirname(createRequire(import.meta.url).resolve("tributary/package.json"));

test("every variant's wasm imports nothing and exports its memory", () => {
  for (const dir of [".", "local", "full"]) {
    const module = new WebAssembly.Module(readFileSync(join(pkgDir, dir, "tributary_bg.wasm")));
    assert.deepEqual(WebAssembly.Module.imports(module), [], dir);
    assert.ok(WebAssembly.Module.exports(module).some((e) => e.name === "memory" && e.kind === "memory"), dir);
  }
});

test("every entry's exported classes and functions carry their own names", async () => {
  // The sink variants ship one bundled, minified module: a class or function renamed there
  // would show as `t` or `Se` in stack traces, logs and `constructor.name`.
  for (const entry of ["tributary", "tributary/local", "tributary/full"]) {
    const m = await import(entry);
    for (const [name, value] of Object.entries(m)) {
      if (typeof value === "function") assert.equal(value.name, name, `${entry}: ${name}`);
    }
  }
});

test("numbers are checked without float formatting, with the messages the Rust bindings gave", () => {
  const message = (seed) => {
    try {
      new Tributary({ seed });
    } catch (e) {
      assert.ok(e instanceof TributaryError);
      assert.equal(e.code, "INVALID_ARGUMENT");
      return e.message;
    }
    assert.fail(`seed ${seed} was taken`);
  };
  assert.equal(message(NaN), "seed must be a whole number, got NaN");
  assert.equal(message(1.5), "seed must be a whole number");
  assert.equal(message(Infinity), "seed must be a whole number");
  assert.equal(message(-3), "seed must be 0..=9007199254740991, got -3");
  assert.equal(message(1e300), "seed must be 0..=9007199254740991, got a number out of range");
  assert.equal(message("4"), "seed must be a number");
  assert.throws(() => partitionFor("k", 65537), { code: "INVALID_ARGUMENT", message: "partitionCount must be 1..=65536, got 65537" });
  const client = new Tributary();
  assert.throws(() => client.createTopic("t", { partitions: 1.5 }), { code: "INVALID_CONFIG", message: "invalid config `partitions`: partitions must be a whole number" });
  client.free();
});

test("a lone surrogate is refused, not replaced; a well-formed string is UTF-8", async () => {
  const client = new local.Tributary({ seed: 1 });
  client.createTopic("t");
  const producer = client.topicProducer("t");
  await assert.rejects(producer.send("\ud800", "v"), { code: "INVALID_ARGUMENT" });
  await assert.rejects(producer.send("k", "v", { headers: { h: "\udc00" } }), { code: "INVALID_ARGUMENT" });
  assert.throws(() => client.createTopic("a\ud800"), { code: "INVALID_TOPIC_NAME" });
  await producer.send("é", "ü", { headers: { "ñ": "€" } });
  const [r] = client.read("t", 0, 0, 10);
  assert.deepEqual([...r.key], [...new TextEncoder().encode("é")]);
  assert.deepEqual([...r.value], [...new TextEncoder().encode("ü")]);
  assert.deepEqual(Object.keys(r.headers), ["ñ"]);
  client.free();
});

test("each poll's report settles its tickets in order; a failure settles with its code", async () => {
  const client = new local.Tributary({ seed: 7 });
  client.createTopic("t", { partitions: 3 });
  const producer = client.topicProducer("t");
  const p = partitionFor("k", 3);
  const sent = [producer.send("k", "v"), producer.send("k", "w"), producer.sendAll([["k", "x"], ["k", "y"]])];
  // Refused at once: nothing taken, the others unaffected.
  await assert.rejects(producer.send("k", "v", { partition: 9 }), { code: "PARTITION_OUT_OF_RANGE" });
  const [a, b, group] = await Promise.all(sent);
  assert.deepEqual([a.partition, a.offset, b.partition, b.offset], [p, 0, p, 1]);
  assert.deepEqual(group.map((m) => [m.partition, m.offset]), [[p, 2], [p, 3]]);
  // Records waiting for room when the client closes fail with CLOSED, each in its promise.
  const tight = client.topicProducer("t", { batchSize: 1, batchQueueSize: 1 });
  const many = Array.from({ length: 5 }, (_, i) => tight.send("k", `v${i}`, { partition: 0 }).then(() => "ok", (e) => e.code));
  await client.close();
  const outcomes = await Promise.all(many);
  assert.ok(outcomes.every((o) => o === "ok" || o === "CLOSED"), outcomes.join());
  client.free();
  assert.throws(() => client.topics(), { code: "CLOSED" });
});

test("a producer garbage-collected without close() flushes and closes (FinalizationRegistry)", async () => {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc");
  const client = new local.Tributary({ seed: 1 });
  client.createTopic("t");
  let landed = false;
  (() => {
    // Nothing keeps this producer once the function returns; its record waits 10 minutes
    // for its batch's linger unless the producer is closed (which appends open batches).
    const producer = client.topicProducer("t", { linger: 600_000 });
    producer.send("k", "v").then(() => (landed = true));
  })();
  for (let i = 0; i < 100 && !landed; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(landed, "the collected producer's record was appended");
  assert.equal(client.read("t", 0, 0, 10).length, 1);
  await client.close(); // clears the client's linger timer
  client.free();
});
