// Benchmark 6: throughput and cost per record through a retention-bounded log, in Node.
// Records (16-byte keys, 100-byte values, Uint8Array; a pool of 100,000 distinct records
// reused in turn) go in with `sendAll` calls of 10,000, each awaited, then
// `client.flush()`. Retention: at most 10,000 records per partition, so the log evicts as
// it goes and memory stays bounded.
//
// - by partitions: 1, 16, 256 and 1,024 partitions, 2 x 10^5 records each run (fast tier 5 x 10^4);
// - by records: 16 partitions, 10^4, 10^5, 10^6 records (and 10^7 in the full tier).
//
// No peer: this is ours against itself. Reports records/s and ns per record (median and
// min-max) and the wasm memory after each point (it must not grow with N).
import { summary, makeRecords } from "./lib/common.mjs";
import { FAST, loadTributary, wasmExports, emit } from "./lib/node.mjs";

const { Tributary } = await loadTributary("");
const { memory } = await wasmExports("");
const reps = Number(process.env.REPS ?? 3);
const CHUNK = 10_000;
const POOL = 100_000;
const { keys, values } = makeRecords(POOL);
const pool = keys.map((k, i) => [k, values[i]]);

async function run(partitions, n) {
  const client = new Tributary({ seed: 1 });
  client.createTopic("scale", { partitions, retention: { maxRecords: 10_000 } });
  const producer = client.topicProducer("scale");
  const t0 = performance.now();
  for (let from = 0; from < n; from += CHUNK) {
    const size = Math.min(CHUNK, n - from);
    const start = from % POOL;
    await producer.sendAll(start + size <= POOL ? pool.slice(start, start + size)
      : pool.slice(start).concat(pool.slice(0, start + size - POOL)));
  }
  await client.flush();
  const ms = performance.now() - t0;
  if (producer.stats().recordsAppended !== n) throw new Error("not every record reached the log");
  await client.close();
  producer.free();
  client.free();
  return n / (ms / 1000);
}

async function point(partitions, n, r) {
  await run(partitions, Math.min(n, 100_000)); // warm-up
  const rates = [];
  for (let i = 0; i < r; i++) rates.push(await run(partitions, n));
  const s = summary(rates);
  process.stderr.write(`      ${partitions} partitions, ${n} records: ${Math.round(s.median)} records/s\n`);
  return { partitions, n, ...s, nsPerRecord: 1e9 / s.median, nsMin: 1e9 / s.max, nsMax: 1e9 / s.min,
    wasmBytes: memory.buffer.byteLength };
}

const byPartitions = [];
const nP = FAST ? 50_000 : 200_000;
for (const p of [1, 16, 256, 1024]) byPartitions.push(await point(p, nP, reps));
const byRecords = [];
for (const n of FAST ? [1e4, 1e5, 1e6] : [1e4, 1e5, 1e6, 1e7]) {
  const r = n >= 1e7 ? Math.min(reps, 2) : n >= 1e6 && FAST ? 2 : n <= 1e4 ? reps * 5 : reps;
  byRecords.push(await point(16, n, r));
}
emit({ reps, chunk: CHUNK, retention: 10_000, nByPartitions: nP, byPartitions, byRecords });
