// Benchmark 2 in headless Chromium (Debian's, driven by playwright-core): the page
// browser/send.html runs lib/send-core.mjs with the package's browser entry and nats.ws
// over the browser's own WebSocket, against the same nats-server.
import { mkdtempSync, symlinkSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serveDir, launchChromium, runPage } from "../../tests/js/harness/browser.mjs";
import { FAST, ROOT, pkgDir, emit } from "./lib/node.mjs";

const n = Number(process.env.N ?? (FAST ? 50_000 : 100_000));
const reps = Number(process.env.REPS ?? (FAST ? 3 : 7));
const root = mkdtempSync(join(tmpdir(), "tributary-bench-www-"));
symlinkSync(pkgDir(), join(root, "pkg"));
mkdirSync(join(root, "nats.ws"));
symlinkSync(join(ROOT, "node_modules/nats.ws/esm/nats.js"), join(root, "nats.ws/nats.js"));
symlinkSync(join(ROOT, "benches/js"), join(root, "bench"));
const server = await serveDir(root);
const browser = await launchChromium();
try {
  const version = browser.context.browser()?.version() ?? "";
  const url = `${server.url}bench/browser/send.html?ws=${encodeURIComponent(`ws://127.0.0.1:${process.env.NATS_WS_PORT}`)}&n=${n}&reps=${reps}`;
  const { value, console: lines } = await runPage(browser.context, url, () => window.__result, 600_000);
  for (const l of lines) process.stderr.write(`      ${l}\n`);
  if (value.error) throw new Error(value.error);
  emit({ n, reps, runtime: `Chromium ${version}`.trim(), peer: "nats.ws 1.30.3 (WebSocket)", result: value });
} finally {
  await browser.close();
  await server.close();
  rmSync(root, { recursive: true, force: true });
}
