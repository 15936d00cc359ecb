// Helpers for the tests that load pages in a real browser: a static file server on a free
// loopback port (with `application/wasm` for .wasm, which WebAssembly.instantiateStreaming
// requires), and Debian's headless Chromium driven by playwright-core with a fresh profile.
// Whoever opens them closes them (`server.close()`, `browser.close()`).
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, extname, normalize } from "node:path";
import { chromium } from "playwright-core";

const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".css": "text/css",
  ".json": "application/json",
  ".wasm": "application/wasm",
};

/** Serves the files under `root` on 127.0.0.1, a free port; resolves with `{ url, close }`. */
export async function serveDir(root) {
  const server = createServer(async (req, res) => {
    let path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    if (path.includes("..")) return res.writeHead(403).end();
    if (path.endsWith("/")) path += "index.html";
    try {
      const body = await readFile(join(root, path));
      res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    // Chromium keeps (and pre-opens) sockets past a page's life: close those too, or
    // close() waits for the server's timeouts.
    close: () => new Promise((resolve) => {
      server.close(resolve);
      server.closeAllConnections();
    }),
  };
}

/** Launches headless Chromium (CHROMIUM or /usr/bin/chromium) with a fresh profile. */
export async function launchChromium() {
  const profile = mkdtempSync(join(tmpdir(), "tributary-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    headless: true,
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Opens `url`, waits until `done(page)` (a function evaluated in the page) returns a
 * truthy value, and resolves with `{ value, console, errors, failed }`: the value, the
 * page's console lines, its uncaught errors and its failed requests. Rejects with all of
 * those when the page does not finish within `timeout` ms.
 */
export async function runPage(context, url, done, timeout = 20_000) {
  const page = await context.newPage();
  const consoleLines = [];
  const errors = [];
  const failed = [];
  page.on("console", (m) => consoleLines.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("requestfailed", (r) => failed.push(`${r.url()}: ${r.failure()?.errorText}`));
  page.on("response", (r) => r.status() >= 400 && failed.push(`${r.url()}: HTTP ${r.status()}`));
  try {
    await page.goto(url);
    const handle = await page.waitForFunction(done, null, { timeout }).catch(() => null);
    if (!handle) {
      throw new Error(`${url} did not finish in ${timeout} ms; console: ${JSON.stringify(consoleLines)}; ` +
        `page errors: ${JSON.stringify(errors)}; failed requests: ${JSON.stringify(failed)}`);
    }
    return { value: await handle.jsonValue(), console: consoleLines, errors, failed };
  } finally {
    await page.close();
  }
}
