// Node-side helpers of the JS benchmarks: where the package under test is, the machine,
// and a private copy of pkg/ (other builds may rewrite pkg/ while a run goes on).
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir, cpus } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { execFileSync } from "node:child_process";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const FAST = !!process.env.FAST && process.env.FAST !== "0";

/** The files every variant of the package must have before a copy is taken. */
const NEEDED = ["package.json", "node.js", "browser.js", "errors.js", "tributary.js", "tributary_bg.wasm",
  "local/node.js", "local/tributary_bg.wasm", "full/node.js", "full/tributary_bg.wasm"];

/**
 * Copies pkg/ to a private temporary folder, waiting (up to `waitMs`) while it is missing
 * or half-written. Returns the folder; whoever asked removes it (`rmSync`).
 */
export async function copyPkg(waitMs = 300_000) {
  const src = join(ROOT, "pkg");
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (NEEDED.every((f) => existsSync(join(src, f)))) {
      const dir = mkdtempSync(join(tmpdir(), "tributary-bench-pkg-"));
      try {
        cpSync(src, dir, { recursive: true });
        if (NEEDED.every((f) => existsSync(join(dir, f)))) return dir;
      } catch { /* rewritten under us: try again */ }
      rmSync(dir, { recursive: true, force: true });
    }
    if (Date.now() > deadline) throw new Error("pkg/ is missing or incomplete: run `make pkg` first");
    console.error("    pkg/ is being rebuilt; waiting for it");
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** The package under test, from BENCH_PKG (a private copy) or pkg/. */
export function pkgDir() {
  return process.env.BENCH_PKG ?? join(ROOT, "pkg");
}

/** Imports a variant's Node entry ("" default, "local", "full"). */
export async function loadTributary(variant = "") {
  const entry = join(pkgDir(), variant, "node.js");
  return import(pathToFileURL(entry).href);
}

/**
 * The wasm exports of a loaded variant (its `memory`): the glue's `initSync` returns
 * the instance already made by the entry module.
 */
export async function wasmExports(variant = "") {
  const glue = await import(pathToFileURL(join(pkgDir(), variant, "tributary.js")).href);
  return glue.initSync();
}

/** `nproc`, the CPU model, Node's version, and the OS: what every table names. */
export function machine() {
  let model = cpus()[0]?.model ?? "unknown CPU";
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => l.startsWith("model name"));
    if (line) model = line.split(":")[1].trim();
  } catch { /* not Linux */ }
  let nproc = cpus().length;
  try { nproc = Number(execFileSync("nproc", { encoding: "utf8" }).trim()); } catch { /* no coreutils */ }
  let nats = "";
  try { nats = execFileSync("nats-server", ["--version"], { encoding: "utf8" }).trim().split(" ").pop(); } catch { /* none */ }
  let chromium = "";
  try { chromium = execFileSync("/usr/bin/chromium", ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim(); } catch { /* none */ }
  return { nproc, model, node: process.version, os: `${process.platform} ${process.arch}`, nats, chromium };
}

/** The commit the run measured (with `-dirty` when the work tree differs). */
export function revision() {
  try {
    return execFileSync("git", ["describe", "--always", "--dirty", "--abbrev=10"], { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

/** Prints one benchmark's result for the runner (the last line of stdout is JSON). */
export function emit(result) {
  process.stdout.write(`\n${JSON.stringify(result)}\n`);
}
