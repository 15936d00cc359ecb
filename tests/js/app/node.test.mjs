// The conformance suite in Node 20, against the package as installed (node_modules/tributary).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tributary from "tributary";
import { cases } from "./suite.mjs";

for (const [name, run] of Object.entries(cases)) {
  test(name, () => run(tributary, assert));
}
