// The conformance suite for runtimes without node:test's runner (Deno, Bun): runs every
// case in order, prints one line each and a closing "N passed, N failed" line, and exits
// non-zero on any failure.
import assert from "node:assert/strict";
import * as tributary from "tributary";
import { runAll } from "./suite.mjs";

const runtime = globalThis.Deno ? `deno ${Deno.version.deno}` : globalThis.Bun ? `bun ${Bun.version}` : "unknown";
const { passed, failed, lines } = await runAll(tributary, assert);
console.log(lines.join("\n"));
console.log(`${runtime}: ${passed} passed, ${failed} failed`);
if (failed > 0 || passed === 0) {
  // Deno and Bun both have process via their Node compatibility.
  process.exit(1);
}
