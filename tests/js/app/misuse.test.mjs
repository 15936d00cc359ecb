// Issue 14's misuse cases (misuse.mjs) against tributary/local in Node: the entry without
// the sink, whose `close()` is synchronous (a getter closing the client mid-call closes it
// at once). The default entry and tributary/full run them within the suite (node.test.mjs,
// full.test.mjs), Deno, Bun, Chromium and workerd within theirs.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as local from "tributary/local";
import { misuse } from "./misuse.mjs";

for (const [name, run] of Object.entries(misuse)) {
  test(`local: ${name}`, () => run(local, assert));
}
