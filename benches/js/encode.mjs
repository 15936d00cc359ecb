// Benchmark 1: record-batch encoding in Node. 100,000 keyed records (16-byte keys,
// 100-byte values, Uint8Array) into 16 KB batches, no compression and gzip:
//
// - ours, through the public API: a 1-partition topic, `topicProducer({ batchSize: 16384,
//   batchQueueSize: 10000 })` (room for every batch: no record waits for the queue),
//   `sendAll` of the 100,000 [key, value] pairs, then `client.flush()`. Measured: the
//   crossing into wasm, placement, encoding into Fluvio record batches (CRC-32C, gzip in
//   `tributary/full`), appending them to the partition log and resolving 100,000
//   RecordMetadata objects. The pairs array is built inside the timed region.
// - kafkajs 2.2.4's own encoder, as its Produce request v3 calls it: `Record(...)` per
//   record, then `await RecordBatch({ compression, records, ... })` per batch, in turn,
//   then the batch's bytes (`encoder.buffer`). Records are grouped into batches by the same
//   rule (a batch closes before it would pass 16,384 bytes, uncompressed).
// - @platformatic/kafka 2.12.1's `createRecordsBatch(messages, { compression })` per batch
//   (what its producer calls), the message objects `{ key, value, timestamp }` built per
//   record inside the timing, records as Buffers, batches cut by the same rule; its gzip is
//   Node's `gzipSync`; its CRC-32C is @node-rs/crc32's native one when that optional
//   dependency is installed (npm installs it on Linux x64, as here), else its wasm one
//   (`crc` in the output says which). Its result is a Writer over a list of chunks (what
//   a socket writes as they are): we take its length, not one contiguous copy. Its
//   package.json asks for Node >= 22.22 (npm warns EBADENGINE under Node 20);
//   `createRecordsBatch` runs under Node 20 all the same, and nothing of it downloads
//   at install or run time (no install scripts; @node-rs/crc32's binary is an npm package
//   of the registry, pinned in package-lock.json).
// - the physical limit, the same bytes copied once into wasm memory: per record (two
//   `Uint8Array.set` calls, key and value, into a WebAssembly.Memory) and in bulk (one
//   `set` of all 11.6 MB).
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { summary, alternate, makeRecords } from "./lib/common.mjs";
import { FAST, loadTributary, emit } from "./lib/node.mjs";

const require = createRequire(import.meta.url);
const Record = require("kafkajs/src/protocol/recordBatch/record/v0");
const { RecordBatch } = require("kafkajs/src/protocol/recordBatch/v0");
const { Types } = require("kafkajs/src/protocol/message/compression");
const platformatic = await import("@platformatic/kafka");
// Its package.json is not among its exports: read from its folder.
const pfVersion = JSON.parse(readFileSync(new URL("../../node_modules/@platformatic/kafka/package.json", import.meta.url))).version;

const N = 100_000;
const BATCH = 16_384;
const reps = Number(process.env.REPS ?? (FAST ? 3 : 7));

const { keys, values } = makeRecords(N);
// kafkajs takes Buffers (a plain Uint8Array is not bytes to it): views of the same bytes.
const kKeys = keys.map((k) => Buffer.from(k.buffer, k.byteOffset, k.length));
const kValues = values.map((v) => Buffer.from(v.buffer, v.byteOffset, v.length));
const recordBytes = N * (16 + 100);

const full = await loadTributary("full");
const ours = async (compression) => {
  const client = new full.Tributary({ seed: 1 });
  client.createTopic("enc", { partitions: 1, compression });
  const producer = client.topicProducer("enc", { batchSize: BATCH, batchQueueSize: 10_000 });
  const t0 = performance.now();
  const pairs = new Array(N);
  for (let i = 0; i < N; i++) pairs[i] = [keys[i], values[i]];
  const pending = producer.sendAll(pairs);
  const callMs = performance.now() - t0;
  const md = await pending;
  await client.flush();
  const ms = performance.now() - t0;
  const info = client.partitionInfo("enc", 0);
  const stats = producer.stats();
  if (md.length !== N || info.records !== N) throw new Error(`ours: ${md.length} metadata, ${info.records} in the log`);
  await client.close();
  client.free();
  return { value: N / (ms / 1000), callShare: callMs / ms, batches: stats.batches, bytes: info.bytes };
};

// kafkajs's batch boundaries: a record's encoded size (varint length + body) with
// offsetDelta < 128 and timestampDelta 0, which is what these 116-byte records take.
const varintSize = (n) => (n < 64 ? 1 : n < 8192 ? 2 : 3); // zig-zag varint of n >= 0
const HEADER = 61; // record batch header incl. the record count
/** The end (exclusive) of the batch that begins at record `i`: both peers cut by it, timed. */
const batchEnd = (i) => {
  let size = HEADER;
  for (let n = 0; i < N; n++, i++) {
    const body = 1 + 1 + varintSize(n) + varintSize(keys[i].length) + keys[i].length +
      varintSize(values[i].length) + values[i].length + 1;
    const rec = varintSize(body) + body;
    if (n > 0 && size + rec > BATCH) break;
    size += rec;
  }
  return i;
};
const peer = async (compression) => {
  const t0 = performance.now();
  const now = Date.now();
  let batches = 0;
  let bytes = 0;
  for (let i = 0; i < N;) {
    const records = [];
    for (const end = batchEnd(i); i < end; i++) {
      records.push(Record({ key: kKeys[i], value: kValues[i], offsetDelta: records.length, timestampDelta: 0 }));
    }
    const batch = await RecordBatch({
      compression, records, firstTimestamp: now, maxTimestamp: now, lastOffsetDelta: records.length - 1,
    });
    bytes += batch.buffer.length;
    batches++;
  }
  const ms = performance.now() - t0;
  return { value: N / (ms / 1000), batches, bytes };
};

// @platformatic/kafka: the same batches, each from `createRecordsBatch`.
const pf = async (compression) => {
  const t0 = performance.now();
  const now = BigInt(Date.now());
  let batches = 0;
  let bytes = 0;
  for (let i = 0; i < N;) {
    const messages = [];
    for (const end = batchEnd(i); i < end; i++) messages.push({ key: kKeys[i], value: kValues[i], timestamp: now });
    bytes += platformatic.createRecordsBatch(messages, { compression }).length;
    batches++;
  }
  const ms = performance.now() - t0;
  return { value: N / (ms / 1000), batches, bytes };
};

// The same bytes, copied once into wasm memory.
const memory = new WebAssembly.Memory({ initial: Math.ceil((recordBytes + 65536) / 65536) });
const perRecord = () => {
  const mem = new Uint8Array(memory.buffer);
  const t0 = performance.now();
  let off = 0;
  for (let i = 0; i < N; i++) {
    mem.set(keys[i], off); off += keys[i].length;
    mem.set(values[i], off); off += values[i].length;
  }
  return N / ((performance.now() - t0) / 1000);
};
const contiguous = new Uint8Array(recordBytes);
{ let off = 0; for (let i = 0; i < N; i++) { contiguous.set(keys[i], off); off += 16; contiguous.set(values[i], off); off += 100; } }
const bulk = () => {
  const mem = new Uint8Array(memory.buffer);
  const t0 = performance.now();
  for (let r = 0; r < 10; r++) mem.set(contiguous, 0);
  return N / ((performance.now() - t0) / 10 / 1000);
};

const out = {
  n: N, batchSize: BATCH, reps, recordBytes, codecs: {},
  platformatic: { version: pfVersion, crc: platformatic.loadNativeCRC32C() ? "native (@node-rs/crc32)" : "wasm (@platformatic/wasm-utils)" },
};
for (const codec of ["none", "gzip"]) {
  out.codecs[codec] = await alternate(reps, {
    ours: () => ours(codec),
    peer: () => peer(codec === "gzip" ? Types.GZIP : Types.None),
    platformatic: () => pf(codec),
  });
}
const limit = { perRecord: [], bulk: [] };
for (let r = 0; r < reps; r++) { limit.perRecord.push(perRecord()); limit.bulk.push(bulk()); }
out.memcpy = { perRecord: summary(limit.perRecord), bulk: summary(limit.bulk) };
emit(out);
