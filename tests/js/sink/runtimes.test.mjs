// The sink from three runtimes, each with its own global WebSocket: headless Chromium (a
// plain page importing pkg/browser.js), Deno (the package installed in tests/js/app) and
// workerd (a worker importing pkg/workerd.js, the .wasm as a module). Each produces 10,000
// keyed records (produce.mjs) into its own JetStream stream of one nats-server, resolves
// `client.flush()`, and Node reads the stream back with the independent `nats` client:
// exact count, zero duplicates, per-partition order equal to offset order, each record
// on its partition's subject with its key. Everything runs on free loopback ports and is
// stopped at the end. Needs pkg/ built and tests/js/app installed (make test-js-suite).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNats, freePort, readStream, checkDelivery, sleep, runCommand } from "./harness.mjs";
import { serveDir, launchChromium, runPage } from "../harness/browser.mjs";
import { partitionFor } from "../../../pkg/node.js";
import { PARTITIONS, keyOf } from "./produce.mjs";
import { workerdConfig } from "../../../scripts/loopback.mjs";

const root = new URL("../../../", import.meta.url).pathname;
const here = join(root, "tests/js/sink");
const COUNT = 10_000;
const TIMEOUT_MS = 30_000;
const run = (cmd, args, options) => runCommand(cmd, args, { timeoutMs: TIMEOUT_MS, ...options });

let server;
const temps = [];
const tempDir = (name) => {
  const dir = mkdtempSync(join(tmpdir(), `tributary-sink-${name}-`));
  temps.push(dir);
  return dir;
};
before(async () => { server = await startNats({ name: "runtimes" }); });
after(async () => {
  await server?.stop();
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** What each record should be, worked out in Node: partition → count, and each key. */
function expectation() {
  const counts = new Map();
  const keys = new Map();
  for (let i = 0; i < COUNT; i++) {
    const p = partitionFor(keyOf(i), PARTITIONS);
    const offset = counts.get(p) ?? 0;
    keys.set(`${p}@${offset}`, keyOf(i));
    counts.set(p, offset + 1);
  }
  return { counts, keys };
}

/** Checks a runtime's report and what its stream holds. */
async function verify(topic, result) {
  assert.equal(result.error, undefined, result.error);
  const { counts, keys } = expectation();
  assert.deepEqual(result.perPartition, Array.from({ length: PARTITIONS }, (_, p) => counts.get(p) ?? 0),
    "records per partition as the send metadata reported them");
  assert.equal(result.stats.acked, COUNT, "acked");
  assert.equal(result.stats.failedRecords, 0, "failedRecords");
  assert.equal(result.stats.inFlight, 0, "inFlight");
  const messages = await readStream(server.port, topic);
  checkDelivery(assert, messages, counts);
  for (const m of messages) {
    assert.equal(m.subject, `${topic}.${m.partition}`);
    assert.equal(m.key, keys.get(`${m.partition}@${m.offset}`), `key of ${m.msgId}`);
  }
  console.log(`${result.runtime}: ${COUNT} records acknowledged in ${result.ms} ms ` +
    `(${Math.round(COUNT / (result.ms / 1000))}/s), read back: ${messages.length}, ` +
    `states ${result.states.join(" -> ")}`);
}


test("headless Chromium: a page's WebSocket", async () => {
  const topic = "chromium";
  const files = await serveDir(root);
  const browser = await launchChromium();
  try {
    const url = `${files.url}tests/js/sink/chromium.html?` +
      new URLSearchParams({ ws: server.url, topic, count: COUNT });
    const { value } = await runPage(browser.context, url, () => window.__result, TIMEOUT_MS);
    await verify(topic, value);
  } finally {
    await browser.close();
    await files.close();
  }
});

test("Deno: Deno's WebSocket, the package as installed in tests/js/app", async () => {
  const topic = "deno";
  const installed = join(root, "tests/js/app/node_modules");
  assert.ok(existsSync(join(installed, "tributary")), "tests/js/app is not installed (make test-js-suite)");
  // Deno resolves `tributary` from node_modules beside the importing module: run a copy
  // of the script from a folder whose node_modules is the test app's.
  const dir = tempDir("deno");
  for (const f of ["deno.mjs", "produce.mjs"]) copyFileSync(join(here, f), join(dir, f));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", private: true }));
  symlinkSync(installed, join(dir, "node_modules"));
  const out = await run(join(root, "node_modules/.bin/deno"),
    ["run", "--allow-net", "--allow-read", "deno.mjs", server.url, topic, String(COUNT)], { cwd: dir });
  await verify(topic, JSON.parse(out.trim().split("\n").at(-1)));
});

test("workerd: a worker's WebSocket, the .wasm imported as a module", async () => {
  const topic = "workerd";
  const dir = tempDir("workerd");
  // workerd embeds files relative to its config: lay the worker out beside it.
  const modules = {
    "worker.mjs": ["esModule", "tests/js/sink/workerd.mjs"],
    "produce.mjs": ["esModule", "tests/js/sink/produce.mjs"],
    "tributary/workerd.js": ["esModule", "pkg/workerd.js"],
    "tributary/tributary.js": ["esModule", "pkg/tributary.js"],
    "tributary/errors.js": ["esModule", "pkg/errors.js"],
    "tributary/tributary_bg.wasm": ["wasm", "pkg/tributary_bg.wasm"],
  };
  for (const [to, [, from]] of Object.entries(modules)) {
    mkdirSync(join(dir, to, ".."), { recursive: true });
    copyFileSync(join(root, from), join(dir, to));
  }
  const port = await freePort();
  writeFileSync(join(dir, "config.capnp"), workerdConfig({
    port,
    modules: Object.entries(modules).map(([name, [kind]]) => [name, kind]),
  }));
  const workerd = spawn(join(root, "node_modules/.bin/workerd"), ["serve", join(dir, "config.capnp")],
    { stdio: ["ignore", "inherit", "inherit"] });
  const exited = new Promise((resolve) => workerd.once("exit", resolve));
  try {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try {
        await fetch(`${base}/`);
        break;
      } catch (e) {
        if (i > 100 || workerd.exitCode !== null) throw new Error(`workerd did not start: ${e}`);
        await sleep(100);
      }
    }
    const res = await fetch(`${base}/produce?` + new URLSearchParams({ ws: server.url, topic, count: COUNT }),
      { signal: AbortSignal.timeout(TIMEOUT_MS) });
    await verify(topic, await res.json());
  } finally {
    workerd.kill("SIGKILL");
    await exited;
  }
});
