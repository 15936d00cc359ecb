// Runs the conformance suite in the page, against the package's browser entry loaded
// with a plain <script type="module">; the result lands in window.__results.
import * as tributary from "/pkg/browser.js";
import assert from "./assert.mjs";
import { cases } from "/tests/js/app/suite.mjs";

const lines = [];
let passed = 0;
let failed = 0;
for (const [name, run] of Object.entries(cases)) {
  try {
    await run(tributary, assert);
    passed++;
    lines.push(`ok - ${name}`);
  } catch (e) {
    failed++;
    lines.push(`not ok - ${name}\n  ${e?.stack ?? e}`);
  }
}
document.getElementById("out").textContent = lines.join("\n");
window.__results = { passed, failed, lines };
