// tributary/durable's journal (pkg/durable/journal.js, as the package ships it): the
// bookkeeping of one generation's records, and the merge of a stored outbox with the spill
// of a page that was left. Pure logic, no browser.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Journal, UNASSIGNED, mergeSpill, row } from "../../../pkg/durable/journal.js";

const meta = { generation: "g", topic: "t", partitions: 2 };

test("a send waits without an id, gets one, is written, and leaves on its acknowledgement", () => {
  const j = new Journal("g", meta);
  const a = j.enqueue("k", "a", undefined);
  const b = j.enqueue(null, new Uint8Array([1, 2]), { headers: { h: "1" } });
  assert.deepEqual([a.seq, b.seq], [0, 1]);
  assert.equal(j.pending, 2);
  assert.equal(j.waiting, 2);
  const rb = j.assign(b, 1, 7, 1000);
  const ra = j.assign(a, 1, 6, 1000);
  assert.deepEqual(j.outbox.get(1).map((r) => r.offset), [6, 7], "kept in offset order whatever the order of assignment");
  assert.deepEqual(rb.headers, { h: "1" });
  assert.equal(j.fresh.size, 0);
  assert.equal(j.waiting, 2, "not in the log yet");
  assert.deepEqual(j.unsaved, [rb, ra]);
  ra.saved = true; rb.saved = true; j.saved = 2;
  ra.logged = true;
  assert.equal(j.waiting, 1);
  assert.equal(j.ack(1, 7), true);
  assert.deepEqual(j.outbox.get(1).map((r) => r.offset), [7]);
  assert.equal(j.saved, 1);
  assert.equal(j.ack(1, 7), false, "the same progress again moves nothing");
  assert.equal(j.ack(1, 8), true);
  assert.equal(j.pending, 0);
  assert.equal(j.saved, 0);
  // A record whose offset an acknowledgement already passed is not kept.
  const c = j.enqueue("k", "c");
  j.assign(c, 1, 3, 1000);
  assert.equal(j.pending, 0);
});

test("a key or value given as bytes is copied: the caller may reuse its buffer", () => {
  const j = new Journal("g", meta);
  const bytes = new Uint8Array([1, 2, 3]);
  const e = j.enqueue(bytes, bytes);
  bytes[0] = 9;
  assert.deepEqual([...e.key], [1, 2, 3]);
  assert.deepEqual([...e.value], [1, 2, 3]);
});

test("a send that fails leaves nothing; a dropped record leaves its partition", () => {
  const j = new Journal("g", meta);
  const a = j.enqueue("k", "a");
  j.forget(a);
  assert.equal(j.pending, 0);
  const b = j.enqueue("k", "b");
  const rb = j.assign(b, 0, 0, 1);
  rb.saved = true; j.saved = 1;
  j.drop(rb);
  assert.equal(j.pending, 0);
  assert.equal(j.saved, 0);
});

test("row: what the outbox stores of a record, nothing of the page's bookkeeping", () => {
  const r = { seq: 1, partition: 0, offset: 5, key: "k", value: "v", timestamp: 9, headers: {}, saved: true, logged: true, e: {} };
  assert.deepEqual(row(r), { seq: 1, partition: 0, offset: 5, key: "k", value: "v", timestamp: 9, headers: {} });
});

const withId = (seq, partition, offset) => ({ seq, partition, offset, key: "k", value: `v${seq}`, timestamp: 1, headers: {} });
const noId = (seq) => ({ seq, partition: UNASSIGNED, offset: seq, key: "k", value: `v${seq}`, options: undefined });

test("mergeSpill: the spill's records join the stored ones, each once, by id when it has one", () => {
  const stored = [withId(0, 0, 0), withId(1, 1, 0), noId(5)];
  const spilled = [
    withId(1, 1, 0), // committed after all: already stored
    withId(2, 0, 1), // had its id, its write was aborted: to put
    noId(3), // never had an id: to put as such
    noId(4), withId(4, 1, 1), // spilled without an id, then given one before the page went
  ];
  const { rows, puts, removes } = mergeSpill(stored, spilled);
  const key = (r) => `${r.partition}/${r.offset}`;
  assert.deepEqual(rows.map(key).sort(), ["-1/3", "-1/5", "0/0", "0/1", "1/0", "1/1"]);
  assert.deepEqual(puts.map(key).sort(), ["-1/3", "0/1", "1/1"]);
  assert.deepEqual(removes, []);
});

test("mergeSpill: a stored row without an id whose record has its id is removed (it was sent under that id)", () => {
  const stored = [noId(7), noId(8)];
  const spilled = [withId(7, 0, 3)];
  const { rows, puts, removes } = mergeSpill(stored, spilled);
  assert.deepEqual(rows.map((r) => r.seq).sort(), [7, 8]);
  assert.equal(rows.find((r) => r.seq === 7).partition, 0);
  assert.deepEqual(puts.map((r) => r.offset), [3]);
  assert.deepEqual(removes, [[UNASSIGNED, 7]]);
});

test("mergeSpill: rows of an older outbox (no seq) are kept as they are", () => {
  const legacy = [{ partition: 0, offset: 0, key: null, value: "a", timestamp: 1, headers: {} },
    { partition: UNASSIGNED, offset: 0, key: null, value: "b", options: undefined }];
  const { rows, puts, removes } = mergeSpill(legacy, []);
  assert.equal(rows.length, 2);
  assert.deepEqual(puts, []);
  assert.deepEqual(removes, []);
});

test("records stored as JSON (localStorage, the spill) keep a header named __proto__ as a header", async () => {
  const { encodeRecord, decodeRecord } = await import("../../../pkg/durable/store.js");
  const headers = JSON.parse('{"__proto__":"x","page":"/a"}'); // own properties, as send reads them
  const record = { seq: 1, partition: 0, offset: 0, key: "k", value: new Uint8Array([1, 2]), timestamp: 5, headers,
    options: { headers } };
  const back = decodeRecord(JSON.parse(JSON.stringify(encodeRecord(record))));
  for (const h of [back.headers, back.options.headers]) {
    assert.deepEqual(Object.keys(h), ["__proto__", "page"]);
    assert.equal(Object.getPrototypeOf(h), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(h, "__proto__").value, "x");
  }
  assert.deepEqual([...back.value], [1, 2]);
});
