// README.md's npm examples, run as a user would run them (see blocks.mjs for the tags).
// Each example gets a fresh folder in the temp dir with its `file=` blocks; the
// `test=install` commands run there, then the example's own `test=` commands, with bash:
// `/path/to/tributary` is this repository, port 8080 a free loopback port, and `npx TOOL`
// the example's own node_modules/.bin/TOOL when it has one (as npx runs it), else (and a
// bare `deno`, `bun`) the repository's pinned copy in node_modules/.bin, never a download. How an example is checked depends on its kind:
//   stdout    every command but `npm install` lines prints exactly the `output=` block;
//   page      the last command serves the page; headless Chromium opens it, and the
//             page's console.log lines are the `output=` block;
//   requests  the last command serves; the `requests=` commands print the `output=` block.
// Servers are stopped (their process group) and folders removed at the end.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readmeBlocks, readmePath } from "./blocks.mjs";
import { launchChromium } from "../harness/browser.mjs";

const root = fileURLToPath(new URL("../../../", import.meta.url)).replace(/\/$/, "");
const kinds = {
  app: "stdout",
  ts: "stdout",
  browser: "page",
  "vite-dev": "page",
  "vite-build": "page",
  esbuild: "page",
  workerd: "requests",
  sink: "stdout",
  tls: "stdout",
  cli: "stdout",
};

const blocks = readmeBlocks();
const tagged = (attr, name) => blocks.filter((b) => b.attrs[attr]?.includes(name));
const one = (attr, name) => {
  const found = tagged(attr, name);
  assert.equal(found.length, 1, `README.md needs exactly one block with ${attr}=${name}`);
  return found[0];
};
const commands = (block) => block.body.split("\n").filter((l) => l.trim() !== "");

const prelude = `set -euo pipefail
export PATH="${root}/node_modules/.bin:$PATH"
npx() { local tool="$1"; shift; if [ -x "node_modules/.bin/$tool" ]; then "node_modules/.bin/$tool" "$@"; else "${root}/node_modules/.bin/$tool" "$@"; fi; }
`;
const substitute = (text, port) => text.replaceAll("/path/to/tributary", root).replace(/\b8080\b/g, String(port));

function sh(command, dir, port) {
  const r = spawnSync("bash", ["-c", prelude + substitute(command, port)], { cwd: dir, encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, `\`${command}\` failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const folders = [];
/** A fresh folder holding the example's files, with the package installed by `test=install`. */
function prepare(name, port) {
  const dir = mkdtempSync(join(tmpdir(), `tributary-readme-${name}-`));
  folders.push(dir);
  for (const b of tagged("for", name)) {
    mkdirSync(join(dir, dirname(b.attrs.file)), { recursive: true });
    writeFileSync(join(dir, b.attrs.file), substitute(b.body, port));
  }
  for (const command of commands(one("test", "install"))) sh(command, dir, port);
  return dir;
}

const accepts = (port) =>
  new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => socket.end(() => resolve(true)));
    socket.on("error", () => resolve(false));
  });

/** Starts `command` in its own process group; resolves once 127.0.0.1:port accepts connections. */
async function serve(command, dir, port) {
  const child = spawn("bash", ["-c", prelude + substitute(command, port)], { cwd: dir, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal)));
  const stop = async () => {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {}
    await exited;
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    // A TCP connection, not a request: a request would be the worker's first record.
    if (await accepts(port)) return { stop, log: () => log };
    const done = await Promise.race([exited, new Promise((r) => setTimeout(() => r(undefined), 100))]);
    if (done !== undefined || Date.now() > deadline) {
      await stop();
      throw new Error(`\`${command}\` did not serve on port ${port} (${done ?? "timeout"}):\n${log}`);
    }
  }
}

/** The page's console.log lines once there are `count` of them (or after the timeout). */
async function pageLines(url, count) {
  const page = await browser.context.newPage();
  const lines = [];
  const errors = [];
  page.on("console", (m) => m.type() === "log" && lines.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  try {
    await page.goto(url);
    const deadline = Date.now() + 20_000;
    while (lines.length < count && errors.length === 0 && Date.now() < deadline) await page.waitForTimeout(50);
    assert.deepEqual(errors, [], "uncaught errors in the page");
    return lines;
  } finally {
    await page.close();
  }
}

let browser;
before(async () => {
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

test("README.md still starts with the two set-up commands", () => {
  assert.ok(readFileSync(readmePath, "utf8").startsWith("# tributary\n\n```sh\nmake demo\nmake test\n```\n"));
});

test("every README example is run here, and each has its files, commands and output", () => {
  const named = (attr) => new Set(blocks.flatMap((b) => b.attrs[attr] ?? []));
  assert.deepEqual([...named("test")].filter((n) => n !== "install").sort(), Object.keys(kinds).sort());
  for (const name of Object.keys(kinds)) {
    assert.ok(tagged("for", name).length > 0, `no file= block for ${name}`);
    one("output", name);
    if (kinds[name] === "requests") one("requests", name);
  }
  for (const attr of ["for", "output", "requests"]) {
    for (const name of named(attr)) assert.ok(name in kinds, `${attr}=${name} names no example`);
  }
});

for (const [name, kind] of Object.entries(kinds)) {
  test(`README example "${name}" (${kind})`, async () => {
    const port = await freePort();
    const dir = prepare(name, port);
    const want = one("output", name).body;
    const run = commands(one("test", name));
    if (kind === "stdout") {
      for (const command of run) {
        const printed = sh(command, dir, port);
        // `npm install` lines set the example up; every other command prints the output.
        if (!command.startsWith("npm install")) assert.equal(printed, want, `what \`${command}\` printed`);
      }
      return;
    }
    for (const command of run.slice(0, -1)) sh(command, dir, port);
    const server = await serve(run.at(-1), dir, port);
    try {
      if (kind === "page") {
        const lines = await pageLines(`http://127.0.0.1:${port}/`, commands({ body: want }).length);
        assert.equal(lines.map((l) => `${l}\n`).join(""), want, "the page's console");
      } else {
        const printed = commands(one("requests", name)).map((c) => sh(c, dir, port)).join("");
        assert.equal(printed, want, `what the requests printed; server log:\n${server.log()}`);
      }
    } finally {
      await server.stop();
    }
  });
}
