// The JS benchmarks of `make bench` (FAST=1: the fast tier), each against its peer in the
// same run: takes a private copy of pkg/, starts one nats-server (JetStream + WebSocket on
// free loopback ports), runs every benchmark script in turn in its own Node process, then
// writes benches/js/results.json, the charts (benches/js/ratios.svg, benches/js/scaling.svg)
// and the section between the `js` markers of BENCHMARKS.md.
//
//   node benches/js/run.mjs [name ...]   (names: encode send send-browser ack size memory scaling cli)
//   node benches/js/run.mjs --report     (rewrites the section and charts from results.json)
import { spawn } from "node:child_process";
import { loadavg } from "node:os";
import { readFileSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { startNats } from "../../tests/js/sink/harness.mjs";
import { ROOT, FAST, copyPkg, machine, revision } from "./lib/node.mjs";
import { markdown, ratiosSvg, scalingSvg } from "./lib/report.mjs";

const ALL = ["encode", "send", "send-browser", "ack", "size", "memory", "scaling", "cli"];
const reportOnly = process.argv.includes("--report");
const only = process.argv.slice(2).filter((a) => a !== "--report");
const names = reportOnly ? [] : only.length ? only : ALL;

function runScript(name, env) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [join(ROOT, "benches/js", `${name}.mjs`)], {
      env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => { out += d; });
    child.on("close", (code) => {
      const secs = (Date.now() - t0) / 1000;
      const last = out.trim().split("\n").at(-1) ?? "";
      if (code === 0) {
        try { return resolve({ ok: true, secs, data: JSON.parse(last) }); } catch { /* fall through */ }
      }
      resolve({ ok: false, secs, error: `exit ${code}: ${out.trim().split("\n").slice(-3).join(" ").slice(0, 400)}` });
    });
  });
}

const started = Date.now();
const loadBefore = loadavg()[0];
const results = {};
const pkg = names.length ? await copyPkg() : null;
const nats = names.length ? await startNats({ name: "bench" }) : null;
if (names.length) try {
  for (const name of names) {
    console.log(`==> [bench] js: ${name}`);
    const r = await runScript(name, {
      BENCH_PKG: pkg, FAST: FAST ? "1" : "", NATS_PORT: String(nats.port), NATS_WS_PORT: String(nats.wsPort),
    });
    console.log(r.ok ? `    done in ${r.secs.toFixed(1)} s` : `    FAILED: ${r.error}`);
    results[name] = r;
  }
} finally {
  await nats.stop();
  rmSync(pkg, { recursive: true, force: true });
}

const resultsPath = join(ROOT, "benches/js/results.json");
let previous = {};
let previousMeta = null;
try {
  const prev = JSON.parse(readFileSync(resultsPath, "utf8"));
  previous = prev.results ?? {};
  previousMeta = prev.meta;
} catch { /* first run */ }
const meta = reportOnly && previousMeta ? previousMeta : {
  machine: machine(), revision: revision(), date: new Date().toISOString().slice(0, 10),
  tier: FAST ? "fast" : "full", command: FAST ? "make bench FAST=1" : "make bench",
  seconds: Math.round((Date.now() - started) / 1000),
  // The 1-minute load average before and after: this machine may be shared with other jobs.
  load: [loadBefore, loadavg()[0]].map((x) => Math.round(x * 100) / 100),
};
// A partial run (named benchmarks) keeps the others' last results.
const merged = { ...previous, ...results };
writeFileSync(resultsPath, `${JSON.stringify({ meta, results: merged }, null, 1)}\n`);
writeFileSync(join(ROOT, "benches/js/ratios.svg"), ratiosSvg(merged, meta));
if (merged.scaling?.ok) writeFileSync(join(ROOT, "benches/js/scaling.svg"), scalingSvg(merged.scaling.data, meta));

const section = markdown(merged, meta);
const mdPath = join(ROOT, "BENCHMARKS.md");
const doc = readFileSync(mdPath, "utf8");
const a = doc.indexOf("<!-- js:begin -->");
const b = doc.indexOf("<!-- js:end -->");
writeFileSync(mdPath, a >= 0 && b > a
  ? doc.slice(0, a) + section + doc.slice(b + "<!-- js:end -->".length)
  : `${doc.trimEnd()}\n\n${section}\n`);
console.log(`==> [bench] js: BENCHMARKS.md, benches/js/ratios.svg, benches/js/scaling.svg written (${meta.seconds} s)`);
const failed = Object.entries(results).filter(([, r]) => !r.ok).map(([n]) => n);
if (failed.length) {
  console.error(`==> [bench] js: FAILED: ${failed.join(", ")}`);
  process.exit(1);
}
