// The conformance suite for runtimes without node:test's runner (Deno, Bun): runs every
// case in order, prints one line each and a closing "N passed, N failed" line, and exits
// non-zero on any failure.
import assert from "node:assert/strict";
import * as tributary from "tributary";
import { cases } from "./suite.mjs";

const runtime = globalThis.Deno ? `deno ${Deno.version.deno}` : globalThis.Bun ? `bun ${Bun.version}` : "unknown";
let passed = 0;
let failed = 0;
for (const [name, run] of Object.entries(cases)) {
  try {
    await run(tributary, assert);
    passed++;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}\n  ${e?.stack ?? e}`);
  }
}
console.log(`${runtime}: ${passed} passed, ${failed} failed`);
if (failed > 0 || passed === 0) {
  // Deno and Bun both have process via their Node compatibility.
  process.exit(1);
}
