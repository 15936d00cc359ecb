// The edge example (www/edge/worker.mjs) and `make demo`'s server script as a process.
// - workerd (npm package) runs the worker beside nats-server, as www/serve.mjs starts
//   them: each request produces one record and answers at once; the worker stays alive
//   until JetStream acknowledged it (ctx.waitUntil(client.flush())). The `edge` stream is
//   read back with the `nats` client: every request's record, once, keyed by its user.
// - `node www/serve.mjs` prints the page's URL, serves it with the CSP, and on SIGINT
//   stops nats-server and workerd (their ports close) and exits 0.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import { startDemo, EDGE_TOPIC } from "../../../www/serve.mjs";
import { readStream } from "../sink/harness.mjs";
import { readMessages, sleep } from "./helpers.mjs";

const root = new URL("../../../", import.meta.url).pathname;
const REQUESTS = 40;

test("edge: a worker in workerd produces a record per request into JetStream, acknowledged after the response", async () => {
  const demo = await startDemo({ port: 0, edge: true });
  try {
    assert.ok(demo.edge, "workerd started");
    const answers = [];
    for (let i = 0; i < REQUESTS; i++) {
      const res = await fetch(`${demo.edge.url}?user=user-${i % 5}`, { method: "POST", body: `request ${i}` });
      assert.equal(res.status, 200, await res.clone().text());
      answers.push(await res.json());
    }
    for (const a of answers) assert.equal(a.topic, EDGE_TOPIC);
    const { partitionFor } = await import("../../../pkg/node.js");
    answers.forEach((a, i) => assert.equal(a.partition, partitionFor(`user-${i % 5}`, 4), `request ${i}'s partition`));
    // The acks come after the responses: wait for the stream to hold every record.
    let messages = [];
    for (let i = 0; i < 100 && messages.length < REQUESTS; i++) {
      messages = await readMessages(demo.nats.port, EDGE_TOPIC, { token: demo.nats.token });
      if (messages.length < REQUESTS) await sleep(100);
    }
    await sleep(500); // nothing more arrives
    messages = await readMessages(demo.nats.port, EDGE_TOPIC, { token: demo.nats.token });
    const bodies = messages.map((m) => m.data.body).sort();
    assert.deepEqual(bodies, Array.from({ length: REQUESTS }, (_, i) => `request ${i}`).sort(), "each request's record, once");
    const byId = await readStream(demo.nats.port, EDGE_TOPIC, { token: demo.nats.token });
    assert.equal(new Set(byId.map((m) => m.msgId)).size, REQUESTS, "distinct message ids");
    for (const m of byId) assert.equal(m.subject, `${EDGE_TOPIC}.${m.partition}`);
    assert.deepEqual(new Set(byId.map((m) => m.key)), new Set(["user-0", "user-1", "user-2", "user-3", "user-4"]));
    console.log(`edge: ${REQUESTS} requests to workerd, ${messages.length} records in JetStream, each once`);
  } finally {
    await demo.stop();
  }
});

const accepts = (port) => new Promise((resolve) => {
  const c = net.connect({ port, host: "127.0.0.1" });
  c.once("connect", () => { c.destroy(); resolve(true); });
  c.once("error", () => resolve(false));
});

test("make demo's script: prints the URL, serves the page with the CSP, Ctrl-C stops what it started", async () => {
  const child = spawn(process.execPath, ["www/serve.mjs", "--port", "0"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => { out += d; });
  child.stderr.on("data", (d) => { out += d; });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  try {
    for (let i = 0; i < 300 && !/open http:\/\/127\.0\.0\.1:\d+\//.test(out); i++) await sleep(50);
    const url = out.match(/open (http:\/\/127\.0\.0\.1:\d+\/)/)?.[1];
    assert.ok(url, `no URL printed:\n${out}`);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-security-policy"), /script-src 'self' 'wasm-unsafe-eval'/);
    const config = await (await fetch(`${url}config.json`)).json();
    assert.equal(config.mode, "nats");
    const ports = [Number(out.match(/client port (\d+)/)[1]), Number(new URL(config.ws).port),
      Number(out.match(/edge worker \(workerd\) http:\/\/127\.0\.0\.1:(\d+)\//)[1]), Number(new URL(url).port)];
    for (const p of ports) assert.ok(await accepts(p), `port ${p} open while the demo runs`);
    child.kill("SIGINT");
    const { code } = await exited;
    assert.equal(code, 0, out);
    for (const p of ports) assert.equal(await accepts(p), false, `port ${p} still open after Ctrl-C`);
    console.log(`make demo's script: served ${url}, stopped nats-server, workerd and itself on SIGINT`);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});
