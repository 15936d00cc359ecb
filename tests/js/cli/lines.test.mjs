// The command's line reader (cli/lines.js): the records it makes do not depend on where
// the input's chunks end; every documented edge case, record by record.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import { installed } from "./helpers.mjs";

const { LineSplitter } = await import(join(installed, "cli/lines.js"));

/** Feeds `chunks`; returns { records: [[line, key, value]], skipped: [[line, why]], empty }. */
function split(chunks, options) {
  const skipped = [];
  const s = new LineSplitter({ maxBytes: 64, ...options, onSkip: (n, why) => skipped.push([n, why]) });
  const records = [];
  const take = ({ entries, lines }) => {
    assert.equal(entries.length, lines.length);
    entries.forEach(([k, v], i) => {
      const show = (x) => (x === null ? null : typeof x === "string" ? x : `bytes:${Buffer.from(x).toString("hex")}`);
      records.push([lines[i], show(k), show(v)]);
    });
  };
  for (const c of chunks) take(s.push(Buffer.from(c)));
  take(s.end());
  return { records, skipped, empty: s.empty };
}

const INPUT = Buffer.concat([
  Buffer.from("alice:Alice\n"), // key and value
  Buffer.from("no separator here\n"), // not sent
  Buffer.from(":starts with it\n"), // empty key
  Buffer.from("ends with it:\n"), // empty value
  Buffer.from("\n"), // empty line: skipped
  Buffer.from("crlf:windows\r\n"), // the \r is dropped
  Buffer.from("\r\n"), // empty once the \r is dropped
  Buffer.from("a:b:c\n"), // the first separator splits
  Buffer.from([0x6b, 0xff, 0x3a, 0x76, 0xfe, 0x0a]), // "k\xff:v\xfe": not UTF-8, sent as bytes
  Buffer.from("ü:ñ ✓\n"), // UTF-8 beyond ASCII, as text
  Buffer.from(`long:${"x".repeat(100)}\n`), // over maxBytes (64): not sent
  Buffer.from("last:no newline"), // the last line needs no \n
]);

const EXPECTED = {
  records: [
    [1, "alice", "Alice"],
    [3, "", "starts with it"],
    [4, "ends with it", ""],
    [6, "crlf", "windows"],
    [8, "a", "b:c"],
    [9, "bytes:6bff", "bytes:76fe"],
    [10, "ü", "ñ ✓"],
    [12, "last", "no newline"],
  ],
  skipped: [[2, "no-separator"], [11, "too-long"]],
  empty: 2,
};

test("every edge case with a key separator, whole input in one chunk", () => {
  assert.deepEqual(split([INPUT], { separator: ":" }), EXPECTED);
});

test("the same records wherever the chunks end (every single cut, and random cuts)", () => {
  for (let cut = 0; cut <= INPUT.length; cut++) {
    assert.deepEqual(split([INPUT.subarray(0, cut), INPUT.subarray(cut)], { separator: ":" }), EXPECTED, `cut at ${cut}`);
  }
  fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: INPUT.length - 1 }), { maxLength: 30 }), (cuts) => {
    cuts.sort((a, b) => a - b);
    const chunks = [];
    let at = 0;
    for (const c of [...cuts, INPUT.length]) {
      chunks.push(INPUT.subarray(at, c));
      at = c;
    }
    assert.deepEqual(split(chunks, { separator: ":" }), EXPECTED);
  }), { seed: 16, numRuns: 300 });
});

test("without a separator: the line is the value, with --key's key or none; a multi-byte separator", () => {
  const input = ["one\n", "\n", "two:2\r\n", "three"];
  assert.deepEqual(split(input, {}).records, [[1, null, "one"], [3, null, "two:2"], [4, null, "three"]]);
  assert.deepEqual(split(input, { key: "k" }).records, [[1, "k", "one"], [3, "k", "two:2"], [4, "k", "three"]]);
  assert.deepEqual(split(["a→b\n", Buffer.from([0xc3, 0x28, 0xe2, 0x86, 0x92, 0x7a, 0x0a])], { separator: "→" }).records,
    [[1, "a", "b"], [2, "bytes:c328", "bytes:7a"]]);
});

test("a line longer than maxBytes is never held whole: skipped across chunks, the next line is read", () => {
  const s = new LineSplitter({ maxBytes: 10, separator: null, key: null, onSkip: () => {} });
  s.push(Buffer.from("short\n" + "y".repeat(20)));
  assert.equal(s.carry, null, "the long line's start is dropped, not kept");
  for (let i = 0; i < 100; i++) s.push(Buffer.from("y".repeat(1000)));
  assert.equal(s.carry, null);
  const { entries, lines } = s.push(Buffer.from("yyy\nafter\n"));
  assert.deepEqual([entries, lines], [[[null, "after"]], [3]]);
});

test("a byte order mark is data: kept on every line, wherever the chunks end", () => {
  // TextDecoder drops a leading U+FEFF unless told not to: a BOM at the start of a chunk
  // (or of a line decoded alone) vanished, one inside a chunk was kept.
  const bom = "\uFEFF";
  const input = Buffer.from(`${bom}a\n${bom}b\n${bom}k:v\n${bom}`);
  const expected = [[1, null, `${bom}a`], [2, null, `${bom}b`], [3, null, `${bom}k:v`], [4, null, bom]];
  for (let cut = 0; cut <= input.length; cut++) {
    assert.deepEqual(split([input.subarray(0, cut), input.subarray(cut)], {}).records, expected, `cut at ${cut}`);
  }
  assert.deepEqual(split([input], { separator: ":" }).records.filter(([n]) => n === 3), [[3, `${bom}k`, "v"]]);
  // A line that is not UTF-8 keeps its BOM bytes too.
  assert.deepEqual(split([Buffer.from([0xef, 0xbb, 0xbf, 0xff, 0x0a])], {}).records, [[1, null, "bytes:efbbbfff"]]);
});
