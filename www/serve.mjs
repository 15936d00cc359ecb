#!/usr/bin/env node
// `make demo`: serves www/ and the built package (pkg/) on loopback with a strict
// Content-Security-Policy, next to a nats-server (JetStream, a WebSocket listener, a
// token) whose streams it creates, and the edge example (a worker in workerd from npm).
// Ctrl-C stops everything it started. Without nats-server the page runs on the
// in-memory log and says so.
//
//   node www/serve.mjs [--port 8080] [--no-nats] [--no-edge]
//
// The tests start the same thing on free ports: `startDemo({ port: 0 })`.
import { createServer } from "node:http";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { accepts, freePort, sleep, workerdWithIngest } from "../scripts/loopback.mjs";

const root = new URL("..", import.meta.url).pathname;
const www = join(root, "www");
// The built package (make pkg); TRIBUTARY_PKG names another build of it (a copy).
const pkg = process.env.TRIBUTARY_PKG ?? join(root, "pkg");

/** The demo's topic: partitions, the page's in-memory retention, the stream. */
export const TOPIC = "clicks";
export const PARTITIONS = 6;
export const EDGE_TOPIC = "edge";
/**
 * JetStream's de-duplication window for the demo's streams: 24 hours. A record is sent
 * again with the same message id when the page comes back online, when a reloaded or
 * reopened page replays the outbox of the one before, or when another tab adopts a closed
 * tab's outbox. Only a record that was in flight (published, not yet acknowledged) when
 * its page went away can be in the stream already; the window must reach from that send
 * to the replay, i.e. to the user's next visit. A day covers "closed the tab, came back
 * later today"; JetStream keeps each id of the window in memory (roughly 100 bytes per
 * message: 100 clicks/s over a day is under 1 GB, the demo's few thousand are nothing).
 * A replay later than this is counted by the page as "late" (at-least-once past the window).
 */
export const DUPLICATE_WINDOW_MS = 24 * 60 * 60 * 1000;

const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".ts": "text/plain; charset=utf-8",
};

export { freePort };

async function waitForPort(port, what, child, log) {
  const deadline = Date.now() + 20_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${what} did not start${log ? `:\n${log()}` : ""}`);
    await sleep(50);
  }
}

/** The policy the page is served with: no inline script, no eval; wasm compiles. */
export function contentSecurityPolicy(wsUrl /* and the ingest's, space-separated */) {
  return [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    `connect-src 'self'${wsUrl ? ` ${wsUrl}` : ""}`,
    "style-src 'self'",
    "img-src 'self' data:",
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

function natsServerPath() {
  const found = spawnSync("sh", ["-c", "command -v nats-server"], { encoding: "utf8" });
  return found.status === 0 ? found.stdout.trim() : null;
}

/** nats-server on loopback: JetStream, a WebSocket listener, token auth, in a temp dir. */
async function startNats(dir, binary) {
  const port = await freePort();
  const wsPort = await freePort();
  const token = randomBytes(16).toString("hex");
  const conf = `server_name: "tributary-demo"
listen: "127.0.0.1:${port}"
jetstream { store_dir: "${join(dir, "js")}", max_memory_store: 64MB, max_file_store: 1GB }
websocket { listen: "127.0.0.1:${wsPort}", no_tls: true }
authorization { token: "${token}" }
`;
  writeFileSync(join(dir, "nats.conf"), conf);
  const logFile = join(dir, "nats.log");
  const child = spawn(binary, ["-c", join(dir, "nats.conf"), "-l", logFile], { stdio: "ignore" });
  const log = () => { try { return readFileSync(logFile, "utf8"); } catch { return ""; } };
  await waitForPort(port, "nats-server", child, log);
  await waitForPort(wsPort, "nats-server's WebSocket listener", child, log);
  return { child, port, wsPort, token, wsUrl: `ws://127.0.0.1:${wsPort}`, log };
}

/** Creates the streams with the nats client (the page and the worker would otherwise provision them). */
async function createStreams(nats) {
  const { connect, nanos } = await import("nats");
  const nc = await connect({ servers: `127.0.0.1:${nats.port}`, token: nats.token });
  try {
    const jsm = await nc.jetstreamManager();
    for (const name of [TOPIC, EDGE_TOPIC]) {
      await jsm.streams.add({
        name, subjects: [`${name}.*`], storage: "file", num_replicas: 1,
        duplicate_window: nanos(DUPLICATE_WINDOW_MS),
      });
    }
  } finally {
    await nc.close();
  }
}

/**
 * The edge example (www/edge/worker.mjs) in workerd, producing into `nats`; its /ingest
 * is tributary/ingest for the page's beacons and HTTP transport, checking tokens signed
 * with `secret` (this run's, random).
 */
async function startEdge(dir, nats, secret) {
  const workerd = join(root, "node_modules/.bin/workerd");
  if (!existsSync(workerd)) return null;
  const port = await freePort();
  // workerd embeds files relative to its config: lay the worker out beside it, with the
  // package's modules under the names its imports resolve to.
  const edgeDir = join(dir, "edge");
  workerdWithIngest(edgeDir, {
    pkg, worker: join(www, "edge/worker.mjs"), port,
    bindings: [
      ["NATS_URL", nats.wsUrl],
      ["NATS_TOKEN", nats.token],
      ["TOPIC", EDGE_TOPIC],
      ["DUPLICATE_WINDOW_MS", String(DUPLICATE_WINDOW_MS)],
      ["INGEST_SECRET", secret],
      ["CLICKS_TOPIC", TOPIC],
      ["CLICKS_PARTITIONS", String(PARTITIONS)],
    ],
  });
  let output = "";
  const child = spawn(workerd, ["serve", join(edgeDir, "config.capnp")], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.on("data", (d) => { output += d; });
  child.stderr.on("data", (d) => { output += d; });
  await waitForPort(port, "workerd", child, () => output);
  return { child, port, url: `http://127.0.0.1:${port}/`, output: () => output };
}

/**
 * Serves www/ at / and pkg/ at /pkg/, each response with the CSP; /config.json tells the
 * page where NATS and the ingest are (`config(searchParams)` makes it per request: each
 * page load gets its own ingest token).
 */
async function startHttp({ host, port, config, csp }) {
  const server = createServer(async (req, res) => {
    const headers = {
      "content-security-policy": csp,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-cache",
    };
    const requested = new URL(req.url, "http://x");
    let path = normalize(decodeURIComponent(requested.pathname));
    if (path.includes("..") || (req.method !== "GET" && req.method !== "HEAD")) return res.writeHead(400, headers).end();
    if (path === "/config.json") {
      return res.writeHead(200, { ...headers, "content-type": types[".json"] }).end(JSON.stringify(await config(requested.searchParams)));
    }
    if (path.endsWith("/")) path += "index.html";
    const file = path.startsWith("/pkg/") ? join(pkg, path.slice(5)) : join(www, path);
    try {
      const body = await readFile(file);
      res.writeHead(200, { ...headers, "content-type": types[extname(file)] ?? "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404, { ...headers, "content-type": "text/plain" }).end("not found\n");
    }
  });
  await new Promise((resolve, reject) => {
    server.once("error", (e) => {
      if (e.code === "EADDRINUSE" && port !== 0) server.listen(0, host, resolve); // taken: any free port
      else reject(e);
    });
    server.listen(port, host, resolve);
  });
  return server;
}

/**
 * Starts the demo: nats-server (unless `nats` is false or it is not installed), the
 * streams, the edge worker (unless `edge` is false), the page's server. Resolves with
 * `{ url, mode, nats, edge, stop }`; `stop()` ends everything it started.
 */
export async function startDemo({ port = 8080, host = "127.0.0.1", nats = true, edge = true, log = () => {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "tributary-demo-"));
  const children = [];
  let server = null;
  const stop = async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        const exited = new Promise((r) => c.once("exit", r));
        c.kill("SIGTERM");
        await Promise.race([exited, sleep(3000)]);
        if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
      }
    }
    if (server) {
      await new Promise((r) => { server.close(r); server.closeAllConnections(); });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    let natsInfo = null;
    let reason = "";
    const binary = nats ? natsServerPath() : null;
    if (!nats) reason = "started without nats-server (--no-nats)";
    else if (!binary) reason = "nats-server is not installed (make setup-system installs it)";
    if (binary) {
      natsInfo = await startNats(dir, binary);
      children.push(natsInfo.child);
      await createStreams(natsInfo);
      log(`nats-server ${natsInfo.wsUrl} (JetStream; streams "${TOPIC}" and "${EDGE_TOPIC}", ` +
        `de-duplication window ${DUPLICATE_WINDOW_MS / 3_600_000} h; client port ${natsInfo.port}; token ${natsInfo.token})`);
    }
    const config = natsInfo
      ? { mode: "nats", ws: natsInfo.wsUrl, token: natsInfo.token, topic: TOPIC, stream: TOPIC,
          partitions: PARTITIONS, duplicateWindowMs: DUPLICATE_WINDOW_MS }
      : { mode: "memory", reason, topic: TOPIC, partitions: PARTITIONS };
    let edgeInfo = null;
    const secret = randomBytes(32).toString("hex"); // this run's ingest token key
    if (natsInfo && edge) {
      edgeInfo = await startEdge(dir, natsInfo, secret);
      if (edgeInfo) {
        children.push(edgeInfo.child);
        log(`edge worker (workerd) ${edgeInfo.url}   try: curl -d hello '${edgeInfo.url}?user=alice'; ` +
          `the page's beacons go to ${edgeInfo.url}ingest (open the page with ?transport=http for HTTP only, no NATS credentials)`);
      }
    }
    // Each page load gets a token for a prefix of its own (the site's server's job: here,
    // this one), valid as long as the de-duplication window. `?transport=http`: the page
    // gets no NATS credentials at all and sends through the ingest.
    const { issueToken } = edgeInfo ? await import(join(pkg, "ingest.js")) : {};
    const configFor = async (query) => {
      if (!edgeInfo) return config;
      const ingest = {
        url: `${edgeInfo.url}ingest`,
        token: await issueToken(secret, { prefix: randomBytes(8).toString("hex"), ttlMs: DUPLICATE_WINDOW_MS }),
      };
      if (query.get("transport") === "http") {
        const { ws, token, ...rest } = config;
        return { ...rest, mode: "http", ingest };
      }
      return { ...config, ingest };
    };
    server = await startHttp({
      host, port, config: configFor, csp: contentSecurityPolicy([natsInfo?.wsUrl, edgeInfo?.url].filter(Boolean).join(" ")),
    });
    const url = `http://${host}:${server.address().port}/`;
    return { url, mode: config.mode, reason, config, nats: natsInfo, edge: edgeInfo, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function main() {
  const args = process.argv.slice(2);
  const flag = (name) => args.includes(name);
  const at = args.indexOf("--port");
  const port = at >= 0 ? Number(args[at + 1]) : Number(process.env.PORT ?? 8080);
  const say = (line) => console.log(`    ${line}`);
  const demo = await startDemo({
    port, nats: !flag("--no-nats") && process.env.NATS !== "off", edge: !flag("--no-edge"), log: say,
  });
  if (demo.mode === "memory") say(`in-memory mode: ${demo.reason}; the page keeps records in its own partition log`);
  console.log(`\n==> [demo] open ${demo.url}   (Ctrl-C stops the demo${demo.nats ? ", nats-server" : ""}${demo.edge ? " and workerd" : ""})\n`);
  let stopping = false;
  const shutdown = async (signal) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n==> [demo] ${signal}: stopping what the demo started`);
    await demo.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGHUP", () => shutdown("SIGHUP"));
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
