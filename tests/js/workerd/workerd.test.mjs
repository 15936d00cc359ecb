// Cloudflare's workerd (npm package workerd) serves a real worker on a free loopback port;
// the worker imports the package's workerd entry (the .wasm as a module), runs the shared
// conformance suite, and produces records per request. The test stops workerd at the end.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";

const root = new URL("../../../", import.meta.url).pathname;
const port = await new Promise((resolve) => {
  const s = createServer().listen(0, "127.0.0.1", () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const dir = mkdtempSync(join(tmpdir(), "tributary-workerd-"));
// workerd embeds files relative to its config: lay the worker out beside it.
const files = {
  "worker.mjs": "tests/js/workerd/worker.mjs",
  "assert.mjs": "tests/js/browser/assert.mjs",
  "app/suite.mjs": "tests/js/app/suite.mjs",
  "app/misuse.mjs": "tests/js/app/misuse.mjs",
  "partition-table.mjs": "tests/js/partition-table.mjs",
  "tributary/workerd.js": "pkg/workerd.js",
  "tributary/tributary.js": "pkg/tributary.js",
  "tributary/errors.js": "pkg/errors.js",
  "tributary/tributary_bg.wasm": "pkg/tributary_bg.wasm",
};
for (const [to, from] of Object.entries(files)) {
  mkdirSync(join(dir, to, ".."), { recursive: true });
  copyFileSync(join(root, from), join(dir, to));
}
const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "assert.mjs", esModule = embed "assert.mjs"),
    (name = "app/suite.mjs", esModule = embed "app/suite.mjs"),
    (name = "app/misuse.mjs", esModule = embed "app/misuse.mjs"),
    (name = "partition-table.mjs", esModule = embed "partition-table.mjs"),
    (name = "tributary/workerd.js", esModule = embed "tributary/workerd.js"),
    (name = "tributary/tributary.js", esModule = embed "tributary/tributary.js"),
    (name = "tributary/errors.js", esModule = embed "tributary/errors.js"),
    (name = "tributary/tributary_bg.wasm", wasm = embed "tributary/tributary_bg.wasm"),
  ],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["nodejs_compat"],
);
`;
writeFileSync(join(dir, "config.capnp"), config);
const workerd = spawn(join(root, "node_modules/.bin/workerd"), ["serve", join(dir, "config.capnp")], { stdio: ["ignore", "inherit", "inherit"] });
let code = 1;
try {
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      await fetch(`${base}/info`);
      break;
    } catch (e) {
      if (i > 100) throw new Error(`workerd did not start: ${e}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const results = await (await fetch(`${base}/conformance`)).json();
  console.log(results.lines.join("\n"));
  const mds = [];
  for (let i = 0; i < 40; i++) {
    const res = await fetch(`${base}/produce?key=user-${i % 5}`, { method: "POST", body: `request ${i}` });
    mds.push(await res.json());
  }
  const info = await (await fetch(`${base}/info`)).json();
  assert.equal(info.reduce((n, p) => n + p.highWatermark, 0), 40);
  const { partitionFor } = await import("../../../pkg/node.js");
  for (let i = 0; i < 40; i++) assert.equal(mds[i].partition, partitionFor(`user-${i % 5}`, 4));
  console.log(`ok - 40 requests produced 40 records, each in its key's partition`);
  console.log(`workerd: ${results.passed + 1} passed, ${results.failed} failed`);
  code = results.failed === 0 && results.passed > 0 ? 0 : 1;
} finally {
  workerd.kill();
}
process.exit(code);
