// Test harness for the sink: real nats-server processes (Debian's) on free loopback
// ports with JetStream and a WebSocket listener, an independent reader (the `nats`
// npm client over TCP), and a TCP proxy that cuts connections.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import { accepts, freePort, sleep } from "../../../scripts/loopback.mjs";
import { connect as natsConnect } from "nats";

export { sleep, freePort };

/**
 * Starts a nats-server with JetStream and a WebSocket listener on free loopback ports.
 * `auth` is raw config text; `cluster` = { name, port, routes: [ports] }. `wsTls` =
 * { certFile, keyFile } serves the WebSocket listener over TLS (`url` is then `wss://`);
 * `extra` is more raw config text (e.g. `max_payload: 4096`).
 */
export async function startNats({ name = "t", auth = "", cluster = null, wait = true, ports = {}, wsTls = null, extra = "" } = {}) {
  const dir = mkdtempSync(join(tmpdir(), `tributary-nats-${name}-`));
  const port = ports.port ?? await freePort();
  const wsPort = ports.wsPort ?? await freePort();
  const wsSecurity = wsTls
    ? `tls { cert_file: "${wsTls.certFile}", key_file: "${wsTls.keyFile}" }`
    : "no_tls: true";
  let conf = `server_name: "${name}"\nlisten: "127.0.0.1:${port}"\n` +
    `jetstream { store_dir: "${join(dir, "js")}", max_memory_store: 256MB, max_file_store: 2GB }\n` +
    `websocket { listen: "127.0.0.1:${wsPort}", ${wsSecurity} }\n${auth}\n${extra}\n`;
  if (cluster) {
    const routes = cluster.routes.map((p) => `"nats-route://127.0.0.1:${p}"`).join(", ");
    conf += `cluster { name: "${cluster.name}", listen: "127.0.0.1:${cluster.port}", routes: [${routes}] }\n`;
  }
  writeFileSync(join(dir, "nats.conf"), conf);
  const logFile = join(dir, "server.log");
  const child = spawn("nats-server", ["-c", join(dir, "nats.conf"), "-l", logFile], { stdio: "ignore" });
  const server = {
    name, port, wsPort, dir, child,
    url: `${wsTls ? "wss" : "ws"}://127.0.0.1:${wsPort}`,
    log: () => { try { return readFileSync(logFile, "utf8"); } catch { return ""; } },
    signal(sig) { if (child.exitCode === null) child.kill(sig); },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGKILL");
        await exited;
      }
    },
    async stop() { await server.kill(); rmSync(dir, { recursive: true, force: true }); },
    async ready() {
      const deadline = Date.now() + 15000;
      while (!(await accepts(port)) || !(await accepts(wsPort))) {
        if (Date.now() > deadline) throw new Error(`nats-server ${name} did not start:\n${server.log()}`);
        await sleep(50);
      }
    },
  };
  if (wait) await server.ready();
  return server;
}

/** A 3-node (or n-node) cluster, started together. */
export async function startCluster(n = 3, name = "c") {
  const routes = [];
  for (let i = 0; i < n; i++) routes.push(await freePort());
  const nodes = [];
  for (let i = 0; i < n; i++) {
    nodes.push(await startNats({
      name: `${name}${i}`, wait: false,
      cluster: { name, port: routes[i], routes: routes.filter((_, j) => j !== i) },
    }));
  }
  await Promise.all(nodes.map((s) => s.ready()));
  return nodes;
}

/** Waits until JetStream answers on `port` (a cluster has elected its meta leader). */
export async function jetStreamReady(port, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  // Every step is bounded: a server still electing can leave a request (or even the
  // client's close) unanswered.
  for (;;) {
    let nc;
    try {
      nc = await connectWithin({ servers: `127.0.0.1:${port}`, timeout: 2000, reconnect: false }, 3000);
      const jsm = await bounded(nc.jetstreamManager({ timeout: 2000 }), 3000, "jetstreamManager");
      await bounded(jsm.getAccountInfo(), 3000, "account info");
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`JetStream on port ${port} not ready: ${e.message}`);
      await sleep(200);
    } finally {
      if (nc) await Promise.race([nc.close().catch(() => {}), sleep(1000)]);
    }
  }
}

/**
 * Reads every message of `stream` with the `nats` client (an independent reader):
 * returns [{ subject, msgId, key, partition, offset }] in stream order. `connectOptions`
 * go to the `nats` client's connect (e.g. `{ authenticator }` for a `.creds` user).
 */
export async function readStream(port, stream, { token, timeoutMs = 60_000, connectOptions = {} } = {}) {
  // A cluster that just lost a node can leave a read unanswered: each attempt is bounded,
  // and a short or failed read is tried again (on a new connection) until the deadline.
  const deadline = Date.now() + timeoutMs;
  let last = [];
  let error;
  while (Date.now() < deadline) {
    try {
      const { total, out } = await readOnce(port, stream, token, Math.min(20_000, deadline - Date.now()), connectOptions);
      if (out.length >= total) return out;
      last = out;
    } catch (e) {
      error = e;
    }
    await sleep(500);
  }
  if (last.length === 0 && error) throw error;
  return last; // short: the caller's count check says by how much
}

/** `p`, or after `ms` the value of `late()`; the timer is cleared either way (a pending
 *  one would keep the test's process alive). */
function within(p, ms, late) {
  let timer;
  const expiry = new Promise((resolve) => { timer = setTimeout(resolve, ms); }).then(late);
  return Promise.race([p, expiry]).finally(() => clearTimeout(timer));
}

const bounded = (p, ms, what) => within(p, ms, () => { throw new Error(`${what}: no answer in ${ms} ms`); });

/** The `nats` client's connect, bounded to `ms`; a connection that comes after the bound
 *  is closed (left open, its timers kept the test's process alive after the last test). */
async function connectWithin(options, ms) {
  const connecting = natsConnect(options);
  try {
    return await bounded(connecting, ms, "connect");
  } catch (e) {
    connecting.then((nc) => nc.close()).catch(() => {});
    throw e;
  }
}

async function readOnce(port, stream, token, ms, connectOptions = {}) {
  const nc = await connectWithin({ servers: `127.0.0.1:${port}`, token, reconnect: false, ...connectOptions }, 3000);
  let iter;
  const timer = setTimeout(() => iter?.stop(), ms);
  try {
    const jsm = await bounded(nc.jetstreamManager(), 3000, "jetstreamManager");
    const info = await bounded(jsm.streams.info(stream), 3000, "stream info");
    const total = info.state.messages;
    const out = [];
    if (total === 0) return { total, out };
    const consumer = await bounded(nc.jetstream().consumers.get(stream), 3000, "consumer");
    iter = await bounded(consumer.consume({ max_messages: 1000 }), 3000, "consume");
    const reading = (async () => {
      for await (const m of iter) {
        const msgId = m.headers?.get("Nats-Msg-Id") ?? "";
        const parts = msgId.split("-");
        out.push({
          subject: m.subject,
          msgId,
          key: m.headers?.get("Tributary-Key") ?? null,
          partition: Number(parts.at(-2)),
          offset: Number(parts.at(-1)),
          seq: m.seq,
        });
        if (out.length >= total) break;
      }
    })();
    // The iterator ends when stopped; the race covers one that does not.
    await within(reading, ms + 1000, () => {});
    return { total, out };
  } finally {
    clearTimeout(timer);
    iter?.stop();
    await within(nc.close().catch(() => {}), 1000, () => {});
  }
}

/**
 * Checks what a stream holds against what was produced: exact count, zero duplicates,
 * per-partition order equal to offset order (when `ordered`). `expected` maps partition
 * → number of records (offsets 0..n-1).
 */
export function checkDelivery(assert, messages, expected, { ordered = true } = {}) {
  const seen = new Set();
  const last = new Map();
  for (const m of messages) {
    assert.ok(!seen.has(m.msgId), `duplicate ${m.msgId}`);
    seen.add(m.msgId);
    if (ordered) {
      const prev = last.get(m.partition) ?? -1;
      assert.equal(m.offset, prev + 1, `partition ${m.partition}: offset ${m.offset} after ${prev}`);
      last.set(m.partition, m.offset);
    }
  }
  const total = [...expected.values()].reduce((a, b) => a + b, 0);
  assert.equal(messages.length, total, "exact count");
  const perPartition = new Map();
  for (const m of messages) perPartition.set(m.partition, (perPartition.get(m.partition) ?? 0) + 1);
  for (const [p, n] of expected) assert.equal(perPartition.get(p) ?? 0, n, `partition ${p} count`);
}

/**
 * A TCP proxy to `target` that cuts each connection after a random number of bytes
 * (both directions counted). Returns { port, cuts(), close() }.
 */
export async function cuttingProxy(target, { minBytes = 20000, maxBytes = 300000, seed = 1 } = {}) {
  let s = seed >>> 0 || 1;
  const rand = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
  let cuts = 0;
  const sockets = new Set();
  const server = net.createServer((down) => {
    const up = net.connect({ port: target, host: "127.0.0.1" });
    sockets.add(down); sockets.add(up);
    let budget = minBytes + Math.floor(rand() * (maxBytes - minBytes));
    const cut = () => {
      if (!down.destroyed || !up.destroyed) {
        cuts++;
        down.destroy(); up.destroy();
      }
    };
    const pipe = (from, to) => from.on("data", (d) => {
      budget -= d.length;
      if (budget < 0) cut();
      else to.write(d);
    });
    pipe(down, up); pipe(up, down);
    const end = () => { down.destroy(); up.destroy(); sockets.delete(down); sockets.delete(up); };
    down.on("close", end); up.on("close", end);
    down.on("error", () => {}); up.on("error", () => {});
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: server.address().port,
    cuts: () => cuts,
    close: () => { for (const x of sockets) x.destroy(); server.close(); },
  };
}

/** Runs a command; resolves with its stdout when it exits 0, rejects with all it said. */
export function runCommand(cmd, args, { cwd, timeoutMs = 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => { out += d; });
    child.stderr.on("data", (d) => { err += d; });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} exited with ${code ?? signal}:\n${out}\n${err}`));
    });
  });
}
