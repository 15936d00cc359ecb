// Benchmark 4: raw / gzip -9 / brotli -q 11 of what a browser loads.
//
// Ours: per entry, the files build_pkg.py counts (the .wasm after wasm-opt, the minified
// glue, browser.js, errors.js), measured here from the package under test and checked
// against target/pkg-size.json when that is present. Peers, pinned in package.json:
// @segment/analytics-next's standalone build (dist/umd/standalone.js; the chunks it loads
// later, such as destinations, are not counted), posthog-js's dist/array.js (what the
// snippet loads), @snowplow/browser-tracker's UMD min, @rudderstack/analytics-js and
// nats.ws, @nats-io/nats-core + @nats-io/jetstream (together) and posthog-js-lite each bundled by esbuild 0.28.2 (`export * from "<package>"`, --bundle --minify,
// ESM, browser platform, Node's `crypto` left external; Rudderstack's plugins, loaded at run time, are not counted).
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { gzipSync, brotliCompressSync, constants } from "node:zlib";
import * as esbuild from "esbuild";
import { ROOT, pkgDir, emit } from "./lib/node.mjs";

const sizes = (buf) => ({
  raw: buf.length,
  gzip: gzipSync(buf, { level: 9 }).length,
  brotli: brotliCompressSync(buf, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
});
const version = (pkg) => JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")).version;

const ours = {};
for (const [variant, label] of [["", "tributary"], ["local", "tributary/local"], ["full", "tributary/full"]]) {
  const dir = join(pkgDir(), variant);
  const files = ["tributary_bg.wasm", "tributary.js", "browser.js", "errors.js"];
  const total = { raw: 0, gzip: 0, brotli: 0 };
  for (const f of files) {
    const s = sizes(readFileSync(join(dir, f)));
    for (const k in total) total[k] += s[k];
  }
  ours[label] = total;
}
let reportCheck = null;
const reportPath = join(ROOT, "target/pkg-size.json");
if (existsSync(reportPath)) {
  const r = JSON.parse(readFileSync(reportPath, "utf8"));
  reportCheck = Object.fromEntries(Object.entries(r).map(([k, v]) => [k === "." ? "tributary" : `tributary/${k}`, v.total]));
}

async function bundle(...pkgs) {
  const out = await esbuild.build({
    stdin: { contents: pkgs.map((p) => `export * from ${JSON.stringify(p)};`).join("\n"), resolveDir: ROOT, loader: "js" },
    bundle: true, minify: true, format: "esm", platform: "browser", write: false, logLevel: "silent",
    external: ["crypto"], // tweetnacl's Node-only fallback inside nats.ws, never taken in a browser
  });
  return Buffer.from(out.outputFiles[0].contents);
}

const file = (pkg, path) => readFileSync(join(ROOT, "node_modules", pkg, path));
const peers = [
  { name: "@segment/analytics-next", what: "dist/umd/standalone.js", buf: file("@segment/analytics-next", "dist/umd/standalone.js") },
  { name: "posthog-js", what: "dist/array.js", buf: file("posthog-js", "dist/array.js") },
  { name: "@snowplow/browser-tracker", what: "dist/index.umd.min.js", buf: file("@snowplow/browser-tracker", "dist/index.umd.min.js") },
  { name: "@rudderstack/analytics-js", what: "esbuild --bundle --minify", buf: await bundle("@rudderstack/analytics-js") },
  { name: "nats.ws", what: "esbuild --bundle --minify", buf: await bundle("nats.ws") },
  // The current official NATS client for browsers: the core (wsconnect) and JetStream.
  { name: "@nats-io/nats-core", also: "@nats-io/jetstream", what: "esbuild --bundle --minify (both)", buf: await bundle("@nats-io/nats-core", "@nats-io/jetstream") },
  { name: "posthog-js-lite", what: "esbuild --bundle --minify", buf: await bundle("posthog-js-lite") },
].map((p) => ({
  name: p.also ? `${p.name} + ${p.also}` : p.name,
  version: p.also ? `${version(p.name)} + ${version(p.also)}` : version(p.name),
  what: p.what, ...sizes(p.buf),
}));

emit({ ours, reportCheck, peers });
