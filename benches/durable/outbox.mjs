// What tributary/durable's write-ahead outbox costs (issue 12), in headless Chromium
// against a nats-server on loopback: the time from `send()` to the record's message leaving
// on the WebSocket, for clicks one at a time (10 ms apart) and for a burst of 1,000 in one
// task, and the storage writes per record. Four setups, each run REPS times in turn:
// a plain sink (`client.connect`, no outbox), and tributary/durable with storage "none"
// (the staging and the gate without I/O), "indexeddb" and "localstorage". Writes the
// section between the `durable` markers of BENCHMARKS.md (the median of the runs).
//
//   node benches/durable/outbox.mjs        (part of `make bench`; REPS=3 by default)
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { serveDir, launchChromium, runPage } from "../../tests/js/harness/browser.mjs";
import { startNats } from "../../tests/js/sink/harness.mjs";
import { ROOT, machine, revision } from "../js/lib/node.mjs";

const reps = Number(process.env.REPS ?? 3);
const nats = await startNats({ name: "outboxbench" });
const server = await serveDir(ROOT);
const browser = await launchChromium();
let runs;
try {
  const url = `${server.url}benches/durable/outbox.html?` + new URLSearchParams({ ws: nats.url, reps: String(reps), pkg: "../../pkg/" });
  const { value, errors } = await runPage(browser.context, url, () => window.__result, 600_000);
  if (value.error) throw new Error(value.error);
  if (errors.length) throw new Error(errors.join("\n"));
  runs = value.runs;
} finally {
  await browser.close();
  await server.close();
  await nats.stop();
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const modes = [...new Set(runs.map((r) => r.mode))];
const rows = modes.map((mode) => {
  const rs = runs.filter((r) => r.mode === mode);
  const m = (f) => median(rs.map(f));
  return { mode, single50: m((r) => r.single.p50), single95: m((r) => r.single.p95), single99: m((r) => r.single.p99),
    burst50: m((r) => r.burst.p50), burstLast: m((r) => r.burst.last),
    writes: m((r) => r.writesPerRecord), rows: m((r) => r.rowsPerRecord), errors: Math.max(...rs.map((r) => r.storageErrors)) };
});
const name = { sink: "plain sink (`client.connect`, no outbox)", none: "durable, storage `none`",
  indexeddb: "durable, IndexedDB", localstorage: "durable, localStorage" };
const env = machine();
const ms = (x) => `${x.toFixed(1)} ms`;
const section = [
  "<!-- durable:begin -->",
  "## tributary/durable: what the write-ahead outbox costs (issue 12)",
  "",
  `\`node benches/durable/outbox.mjs\` (part of \`make bench\`), revision ${revision()}, ${new Date().toISOString().slice(0, 10)}; ` +
  `${env.chromium || "Chromium"} headless, nats-server ${env.nats} on loopback, ${env.nproc} cores (${env.model}); median of ${reps} runs.`,
  "Latency: from `send()` to the record's message leaving on the page's WebSocket (its `Nats-Msg-Id` in the sink's HPUB).",
  "Clicks: 200 sends 10 ms apart. Burst: 1,000 sends in one task, latency from the burst's start.",
  "Writes: storage writes (IndexedDB transactions / localStorage snapshots, meta and deletes included) and rows put or deleted, per record, once all are acknowledged.",
  "",
  "| setup | clicks p50 | p95 | p99 | burst p50 | burst: last out | writes / record | rows / record |",
  "|---|---:|---:|---:|---:|---:|---:|---:|",
  ...rows.map((r) => `| ${name[r.mode] ?? r.mode} | ${ms(r.single50)} | ${ms(r.single95)} | ${ms(r.single99)} | ${ms(r.burst50)} | ${ms(r.burstLast)} | ` +
    `${r.mode === "sink" || r.mode === "none" ? "–" : r.writes.toFixed(2)} | ${r.mode === "sink" || r.mode === "none" ? "–" : r.rows.toFixed(2)} |`),
  "",
  "The write-ahead rule puts the row's commit (one put per record, batched per turn, then one " +
  "ranged delete per acknowledgement) between `send()` and the network; the staging turn costs what " +
  "the producer's `linger: 0` costs anyway.",
  "<!-- durable:end -->",
].join("\n");
const path = join(ROOT, "BENCHMARKS.md");
let doc = readFileSync(path, "utf8");
const re = /<!-- durable:begin -->[\s\S]*<!-- durable:end -->/;
doc = re.test(doc) ? doc.replace(re, section) : `${doc.trimEnd()}\n\n${section}\n`;
writeFileSync(path, doc);
console.log(section);
for (const r of rows) if (r.errors) console.error(`storage errors in ${r.mode}: ${r.errors}`);
