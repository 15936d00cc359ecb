// The published package evaluates no code from strings: no `eval`, no `new Function`, no
// string timers, in any file `npm pack` would ship; every entry runs in Node with code
// generation from strings disabled, and in Chromium under a Content-Security-Policy
// without 'unsafe-eval' (only 'wasm-unsafe-eval', which compiling WebAssembly needs).
// Each check has a control showing it can fail.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, extname, normalize } from "node:path";
import { launchChromium, runPage } from "../harness/browser.mjs";

const root = new URL("../../../", import.meta.url).pathname;
const pkg = join(root, "pkg");

/** The files `npm pack` would publish, as paths relative to pkg/. */
function packedFiles() {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--loglevel=error"], { cwd: pkg, encoding: "utf8" });
  return JSON.parse(out)[0].files.map((f) => f.path);
}

// Ways JavaScript turns a string into code. `Function(` also catches `new Function(` and
// `globalThis.Function(`; timers are code from strings when their first argument is one.
const DYNAMIC_CODE = [
  [/\beval\s*\(/, "eval("],
  [/\bFunction\s*\(/, "Function("],
  [/\b(?:setTimeout|setInterval)\s*\(\s*["'`]/, "a string timer"],
  [/\bnew\s+Worker\s*\(\s*["'`]data:/, "a data: worker"],
  [/\bimport\s*\(\s*["'`]data:/, "a data: import"],
];

/** Every (file, construct) pair found in the given JavaScript sources. */
function findDynamicCode(sources) {
  const found = [];
  for (const [file, text] of sources) {
    for (const [pattern, what] of DYNAMIC_CODE) {
      const m = pattern.exec(text);
      if (m) found.push(`${file}: ${what} at ${m.index}: ${text.slice(Math.max(0, m.index - 40), m.index + 40)}`);
    }
  }
  return found;
}

test("no file npm would publish evaluates code from strings", () => {
  const files = packedFiles();
  const js = files.filter((f) => /\.(m?js)$/.test(f));
  // Every entry of package.json's exports is among them.
  for (const entry of ["node.js", "browser.js", "workerd.js", "durable.js", "ingest.js", "ingest-wire.js", "ingest-client.js", "tributary.js", "errors.js",
    "local/node.js", "local/browser.js", "local/workerd.js", "full/node.js", "full/browser.js", "full/workerd.js"]) {
    assert.ok(js.includes(entry), `npm pack ships ${entry}`);
  }
  const found = findDynamicCode(js.map((f) => [f, readFileSync(join(pkg, f), "utf8")]));
  assert.deepEqual(found, [], "dynamic code in the package");
});

test("control: the scan finds planted dynamic code", () => {
  const planted = [
    ["a.js", "let x=eval ('1')"],
    ["b.js", "const f=new Function('return this')"],
    ["c.js", "setTimeout(\"tick()\", 5)"],
    ["d.js", "x=globalThis.Function('a','return a')"],
    ["ok.js", "typeof f==='function'&&setTimeout(()=>{},1);const evaluate=1"],
  ];
  const found = findDynamicCode(planted).map((line) => line.split(":")[0]);
  assert.deepEqual(found, ["a.js", "b.js", "c.js", "d.js"]);
});

// What both runtimes do with every entry: the log (send, sendAll, read), a flush, a sink
// whose server is absent (its timers and WebSocket handlers), close. `entries` maps a
// name to the imported module; `sinkOptions` is the sink's server (and WebSocket).
const EXERCISE = `
async function exercise(entries, sinkOptions) {
  const out = {};
  for (const [name, t] of Object.entries(entries)) {
    const client = new t.Tributary({ seed: 1 });
    client.createTopic("csp", { partitions: 3 });
    const producer = client.topicProducer("csp", { lingerMs: 1 });
    const md = await producer.send("k", "v");
    await producer.sendAll([["a", "1"], [null, "2"]]);
    await producer.flush();
    const [r] = client.read("csp", md.partition, md.offset, 1);
    out[name] = new TextDecoder().decode(r.value);
    if (name !== "local") {
      const sink = client.connect("csp", sinkOptions);
      await new Promise((r) => setTimeout(r, 50));
      await sink.close();
    }
    await producer.close();
    await client.close();
  }
  return out;
}
`;

const USE_EVERY_ENTRY = `
import WebSocket from "ws";
${EXERCISE}
const entries = { tributary: await import("tributary"), local: await import("tributary/local"), full: await import("tributary/full") };
const out = await exercise(entries, { server: "ws://127.0.0.1:" + process.argv[2], WebSocket });
console.log(JSON.stringify(out));
// tributary/ingest: a token signed and checked (WebCrypto), a batch encoded, decoded and refused.
const ingest = await import("tributary/ingest");
const secret = "s".repeat(32);
const handler = ingest.createIngest({ Tributary: entries.tributary.Tributary, secret, topics: { t: { partitions: 1 } },
  nats: { server: "ws://127.0.0.1:" + process.argv[2], WebSocket } });
const token = await ingest.issueToken(secret, { prefix: "p", expiresAt: 1 });
const batch = entries.tributary.Tributary.encodeBatch([{ offset: 0, value: "v", timestamp: 1 }]);
const res = await handler.fetch(new Request("http://x/", { method: "POST", headers: { "content-type": ingest.CONTENT_TYPE },
  body: ingest.encodeRequest({ token, topic: "t", prefix: "p", sections: [{ partition: 0, batch }] }) }));
console.log("ingest " + res.status + " " + (await res.json()).code);
try { eval("1"); console.log("eval allowed"); } catch (e) { console.log("eval refused: " + e.constructor.name); }
`;

test("every entry runs in Node with code generation from strings disallowed", async () => {
  const { freePort } = await import("../../../scripts/loopback.mjs");
  const port = await freePort(); // nothing listens: the sink only tries to connect
  const app = join(root, "tests/js/app");
  const run = (flags) => spawnSync(process.execPath, [...flags, "--input-type=module", "-e", USE_EVERY_ENTRY, "--", String(port)],
    { cwd: app, encoding: "utf8", timeout: 30_000 });
  const strict = run(["--disallow-code-generation-from-strings"]);
  assert.equal(strict.status, 0, `exit ${strict.status}: ${strict.stderr}`);
  assert.deepEqual(strict.stdout.trim().split("\n"), [JSON.stringify({ tributary: "v", local: "v", full: "v" }),
    "ingest 401 TOKEN_EXPIRED", "eval refused: EvalError"]);
  // Control: without the flag the same script's eval works, so the flag was what refused it.
  const lax = run([]);
  assert.equal(lax.status, 0, lax.stderr);
  assert.match(lax.stdout, /eval allowed/);
});

const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' ws://127.0.0.1:*; object-src 'none'; base-uri 'none'";

const PAGE = `<!doctype html><meta charset="utf-8"><title>csp</title>
<script type="module" src="/csp.mjs"></script>`;

const PAGE_SCRIPT = `
${EXERCISE}
const violations = [];
document.addEventListener("securitypolicyviolation", (e) => violations.push(e.violatedDirective + " " + e.blockedURI));
const out = { violations };
try {
  const entries = {
    tributary: await import("/pkg/browser.js"),
    local: await import("/pkg/local/browser.js"),
    full: await import("/pkg/full/browser.js"),
  };
  out.durable = typeof (await import("/pkg/durable.js")).openDurable;
  const ingest = await import("/pkg/ingest.js");
  out.ingest = (await ingest.issueToken("s".repeat(32), { prefix: "p", expiresAt: 1 })).split(".")[0];
  out.entries = await exercise(entries, { server: "ws://127.0.0.1:" + location.search.slice(1) });
} catch (e) {
  out.error = String(e && e.stack || e);
}
// Control: the policy is in force, so eval is refused and reported.
try { eval("1"); out.eval = "allowed"; } catch (e) { out.eval = e.constructor.name; }
await new Promise((r) => setTimeout(r, 50));
window.__out = out;
`;

test("every entry runs in Chromium under a CSP without 'unsafe-eval'", async (t) => {
  const { freePort } = await import("../../../scripts/loopback.mjs");
  const types = { ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm" };
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    const headers = { "content-security-policy": CSP };
    if (path === "/") return res.writeHead(200, { ...headers, "content-type": "text/html" }).end(PAGE);
    if (path === "/csp.mjs") return res.writeHead(200, { ...headers, "content-type": "text/javascript" }).end(PAGE_SCRIPT);
    if (path.includes("..") || !path.startsWith("/pkg/")) return res.writeHead(404).end();
    try {
      const body = await readFile(join(root, path));
      res.writeHead(200, { ...headers, "content-type": types[extname(path)] ?? "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise((r) => { server.close(r); server.closeAllConnections(); }));
  const chromium = await launchChromium();
  t.after(() => chromium.close());
  const port = await freePort();
  const { value: out, errors } = await runPage(chromium.context, `http://127.0.0.1:${server.address().port}/?${port}`,
    () => window.__out, 30_000);
  assert.equal(out.error, undefined, `the page failed: ${out.error}; page errors: ${errors}`);
  assert.deepEqual(out.entries, { tributary: "v", local: "v", full: "v" });
  assert.equal(out.durable, "function");
  assert.equal(out.ingest, "p");
  assert.equal(out.eval, "EvalError", "control: the CSP refuses eval");
  // The one violation is the control's own eval.
  assert.deepEqual(out.violations, ["script-src eval"]);
});
