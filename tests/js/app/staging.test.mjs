// The staging area's room for a long string is counted, not a bound of three bytes per
// UTF-16 unit: an ASCII record too large for its producer is refused (RECORD_TOO_LARGE)
// after staging its bytes once, and wasm memory grows by about what the caller handed
// over (other text: at most 1.5 times its UTF-8 bytes).
// (Its own file: node --test runs each file in a fresh process, so no earlier test has
// grown the staging area already.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tributary } from "tributary";

const glue = await import(new URL("tributary.js", import.meta.resolve("tributary")).href);

test("a long string is staged at about its UTF-8 length, not three times it", async () => {
  const wasm = glue.initSync();
  const client = new Tributary({ seed: 1 });
  client.createTopic("t");
  const p = client.topicProducer("t", { maxRequestSize: 1000 });
  await p.send("k", "warm-up");
  const before = wasm.memory.buffer.byteLength;
  const n = 24 << 20; // 24 Mi characters: ASCII, then two-byte and four-byte characters
  const sizes = [];
  let ascii;
  // The same n bytes of UTF-8 each: the same record size in each refusal.
  for (const s of ["a".repeat(n), "é".repeat(n / 2), "😀".repeat(n / 4)]) {
    await assert.rejects(p.send("k", s), (e) => {
      assert.equal(e.code, "RECORD_TOO_LARGE");
      sizes.push(Number(/record of (\d+) bytes/.exec(e.message)[1]));
      return true;
    });
    await assert.rejects(p.sendAll([["k", "small"], ["k", s]]), { code: "RECORD_TOO_LARGE", index: 1 });
    ascii ??= wasm.memory.buffer.byteLength - before;
  }
  assert.ok(ascii < 1.5 * n, `wasm memory grew ${ascii} bytes for ${n}-byte ASCII records (3x staging: ${3 * n})`);
  assert.ok(sizes[0] > n && sizes[0] < n + 100, `${sizes}`);
  assert.deepEqual(sizes, [sizes[0], sizes[0], sizes[0]]);
  const grown = wasm.memory.buffer.byteLength - before;
  assert.ok(grown < 3 * n, `wasm memory grew ${grown} bytes in all for ${n}-byte records`);
  // The client is whole: a record lands and reads back.
  const md = await p.send("k", "after");
  assert.equal(Buffer.from(client.read("t", 0, md.offset, 1)[0].value).toString(), "after");
  await client.close();
});
