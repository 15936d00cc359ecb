// Benchmark 7 (issue 16): records/s through the `tributary produce` command, from a file
// into JetStream, as a user runs it: a fresh `node cli.js produce` process per run (its
// start, loading the package, reading the file, acknowledged delivery, closing), timed
// from spawn to exit, under /usr/bin/time -v for the peak RSS. The file: N lines
// `<16-byte key>:<100-byte value>` (the records of benchmark 3), 16 partitions, a fresh
// 16-subject file-backed stream per run, made beforehand and deleted after; each run must
// exit 0 and leave exactly N messages. Two WebSockets for Node 20: the command's own
// (cli/websocket.js, what `npx tributary` uses there) and the `ws` package's (preloaded as
// the global WebSocket, which the command then takes).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { connect as tcpConnect, StorageType, DiscardPolicy, RetentionPolicy, nanos } from "nats";
import { alternate, makeRecords } from "./lib/common.mjs";
import { FAST, ROOT, pkgDir, emit, revision } from "./lib/node.mjs";

const n = Number(process.env.N ?? (FAST ? 50_000 : 300_000));
const reps = Number(process.env.REPS ?? (FAST ? 2 : 3));
const wsUrl = `ws://127.0.0.1:${process.env.NATS_WS_PORT}`;
const dec = new TextDecoder();

const dir = mkdtempSync(join(tmpdir(), "tributary-bench-cli-"));
const file = join(dir, "records.txt");
const { keyStrings, values } = makeRecords(n);
const lines = [];
for (let i = 0; i < n; i++) lines.push(`${keyStrings[i]}:${dec.decode(values[i])}`);
writeFileSync(file, `${lines.join("\n")}\n`);
const preloadWs = join(dir, "ws-global.mjs");
writeFileSync(preloadWs, `import WebSocket from ${JSON.stringify(pathToFileURL(join(ROOT, "node_modules/ws/wrapper.mjs")).href)};\nglobalThis.WebSocket = WebSocket;\n`);
const time = existsSync("/usr/bin/time");

const admin = await tcpConnect({ servers: `127.0.0.1:${process.env.NATS_PORT}` });
const jsm = await admin.jetstreamManager();
let streamNo = 0;

function command(nodeArgs, stream) {
  const argv = [...nodeArgs, join(pkgDir(), "cli.js"), "produce", stream, "--server", wsUrl, "--partitions", "16",
    "--key-separator", ":", "--file", file];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(time ? "/usr/bin/time" : process.execPath, time ? ["-v", process.execPath, ...argv] : argv,
      { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => { err += d; });
    child.on("close", (code) => {
      const ms = performance.now() - t0;
      const exit = time ? Number(/Exit status: (\d+)/.exec(err)?.[1] ?? code) : code;
      if (exit !== 0) return reject(new Error(`the command exited ${exit}: ${err.slice(0, 600)}`));
      const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(err);
      resolve({ ms, rssMb: rss ? Number(rss[1]) / 1024 : NaN });
    });
  });
}

const run = (nodeArgs) => async () => {
  const name = `cli-${process.pid}-${streamNo++}`;
  await jsm.streams.add({
    name, subjects: [`${name}.*`], storage: StorageType.File, retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old, num_replicas: 1, duplicate_window: nanos(120_000),
  });
  try {
    const { ms, rssMb } = await command(nodeArgs, name);
    const held = (await jsm.streams.info(name)).state.messages;
    if (held !== n) throw new Error(`stream ${name} holds ${held} messages, not ${n}`);
    return { value: n / (ms / 1000), seconds: ms / 1000, rssMb };
  } finally {
    await jsm.streams.delete(name);
  }
};

const loadBefore = loadavg()[0];
try {
  const result = await alternate(reps, { builtin: run([]), ws: run(["--import", pathToFileURL(preloadWs).href]) });
  // When and under what load this ran: a partial `run.mjs cli` keeps the other sections' date.
  const load = [loadBefore, loadavg()[0]].map((x) => Math.round(x * 100) / 100);
  emit({ n, reps, bytes: lines.reduce((a, l) => a + l.length + 1, 0), result, date: new Date().toISOString().slice(0, 10), load, revision: revision() });
} finally {
  await admin.close();
  rmSync(dir, { recursive: true, force: true });
}
