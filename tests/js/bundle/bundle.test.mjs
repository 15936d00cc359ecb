// The package bundled for the browser, as a user's app does it: main.js (imports
// "tributary", installed into this directory from pkg/ with npm) is built with Vite and
// with esbuild, each output is served from a loopback static server and loaded in headless
// Chromium, and what the page saw is checked here. Vite's dev server is checked too.
// Run: `make test-bundle` (installs the app first).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "node:http";
import { build as viteBuild, createServer as viteServer } from "vite";
import { build as esbuild } from "esbuild";
import table from "../partition-table.mjs";
import { launchChromium, runPage, serveDir } from "../harness/browser.mjs";

const app = fileURLToPath(new URL(".", import.meta.url));
const installed = join(app, "node_modules/tributary");
const finished = () => window.__result;

let browser;
const temps = [];
const tempDir = (name) => {
  const dir = mkdtempSync(join(tmpdir(), `tributary-${name}-`));
  temps.push(dir);
  return dir;
};

before(async () => {
  assert.ok(existsSync(join(installed, "package.json")), "run `make test-bundle`: it installs pkg/ into tests/js/bundle first");
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

// What the page must report: every key in the partition partitionFor names, both of its
// records read back in order, the shared partition table, and a real TributaryError.
function check({ value, errors, failed }) {
  assert.deepEqual(errors, [], "uncaught errors in the page");
  assert.deepEqual(failed, [], "failed requests");
  assert.equal(value.ok, true, value.error);
  const want = { "user-1": 0, "user-42": 1, click: 0, "": 3 }; // partition-table.mjs, 4 partitions
  for (const [key, p] of Object.entries(want)) {
    assert.deepEqual(value.placed[key], { partition: p, partitionFor: p }, `key ${JSON.stringify(key)}`);
  }
  const records = Object.values(value.readBack).flat();
  assert.equal(records.length, 8);
  for (const key of Object.keys(want)) {
    const mine = value.readBack[want[key]].filter(([, k]) => k === key).map(([, , v]) => v);
    assert.deepEqual(mine, [`${key}:a`, `${key}:b`], `records of ${JSON.stringify(key)} in order`);
  }
  for (const rows of Object.values(value.readBack)) {
    assert.deepEqual(rows.map(([offset]) => offset), rows.map((_, i) => i), "offsets from 0, +1 each");
  }
  assert.deepEqual(value.partitionTable, table.rows.map(([, want]) => want));
  assert.deepEqual(value.error, { isTributaryError: true, isError: true, code: "UNKNOWN_TOPIC" });
}

async function load(dir) {
  const server = await serveDir(dir);
  try {
    return await runPage(browser.context, server.url, finished);
  } finally {
    await server.close();
  }
}

test("Vite 7 build: the .wasm is emitted as an asset and the page runs", async () => {
  const out = tempDir("vite");
  await viteBuild({ root: app, configFile: false, logLevel: "warn", build: { outDir: out, emptyOutDir: true } });
  const assets = readdirSync(join(out, "assets"));
  assert.ok(assets.some((f) => /^tributary_bg-.+\.wasm$/.test(f)), `no hashed .wasm among ${assets}`);
  console.time("load"); const r = await load(out); console.timeEnd("load"); check(r);
});

test("esbuild: bundle for the browser, tributary_bg.wasm copied next to it, and the page runs", async () => {
  const out = tempDir("esbuild");
  // What a user runs: esbuild main.js --bundle --format=esm --outdir=dist
  //                   cp node_modules/tributary/tributary_bg.wasm dist/
  console.time("esbuild"); const result = await esbuild({
    entryPoints: [join(app, "main.js")],
    bundle: true,
    format: "esm",
    platform: "browser",
    outdir: out,
    logLevel: "warning",
  });
  console.timeEnd("esbuild"); assert.deepEqual(result.errors, []);
  assert.deepEqual(result.warnings, []);
  copyFileSync(join(installed, "tributary_bg.wasm"), join(out, "tributary_bg.wasm"));
  copyFileSync(join(app, "index.html"), join(out, "index.html"));
  console.time("load"); const r = await load(out); console.timeEnd("load"); check(r);
});

test("Vite 7 dev server, with tributary excluded from dependency pre-bundling: the page runs", async () => {
  // Pre-bundling moves browser.js into Vite's cache and its new URL("./tributary_bg.wasm",
  // import.meta.url) with it, away from the .wasm: README says to exclude the package.
  // Vite's middlewares and its HMR socket in our own server, on a free loopback port.
  const http = createServer();
  await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
  const vite = await viteServer({
    root: app,
    configFile: false,
    logLevel: "warn",
    cacheDir: tempDir("vite-cache"),
    optimizeDeps: { exclude: ["tributary"] },
    server: { middlewareMode: true, hmr: { server: http }, fs: { allow: [join(app, "..")] } },
  });
  http.on("request", vite.middlewares);
  try {
    check(await runPage(browser.context, `http://127.0.0.1:${http.address().port}/`, finished));
  } finally {
    await new Promise((resolve) => {
      http.close(resolve);
      http.closeAllConnections();
    });
    await vite.close();
  }
});
