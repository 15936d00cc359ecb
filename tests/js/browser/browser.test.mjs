// Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) loads a plain
// page whose <script type="module"> imports pkg/browser.js and runs the conformance suite.
// A static server on a free loopback port serves the repository; both stop at the end.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, extname, normalize } from "node:path";
import { chromium } from "playwright-core";

const root = new URL("../../../", import.meta.url).pathname;
const types = { ".html": "text/html", ".mjs": "text/javascript", ".js": "text/javascript", ".json": "application/json", ".wasm": "application/wasm" };
const server = createServer(async (req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
  if (path.includes("..")) return res.writeHead(403).end();
  try {
    const body = await readFile(join(root, path));
    res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const url = `http://127.0.0.1:${server.address().port}/tests/js/browser/index.html`;
// A fresh profile each run (playwright passes it as --user-data-dir).
const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "tributary-chromium-")), {
  headless: true,
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let code = 1;
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => window.__results, null, { timeout: 30_000 }).catch(() => {});
  const results = await page.evaluate(() => window.__results);
  if (!results) throw new Error(`the suite did not finish; page errors: ${errors.join("; ")}`);
  console.log(results.lines.join("\n"));
  const agent = await page.evaluate(() => navigator.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? "chromium");
  console.log(`${agent}: ${results.passed} passed, ${results.failed} failed`);
  code = results.failed === 0 && results.passed > 0 ? 0 : 1;
} finally {
  await browser.close();
  server.close();
}
process.exit(code);
