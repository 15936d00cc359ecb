// Runs the conformance suite in the page, against the package's browser entry loaded
// with a plain <script type="module">; the result lands in window.__results.
import * as tributary from "/pkg/browser.js";
import assert from "./assert.mjs";
import { runAll } from "/tests/js/app/suite.mjs";

const { passed, failed, lines } = await runAll(tributary, assert);
document.getElementById("out").textContent = lines.join("\n");
window.__results = { passed, failed, lines };
