// Benchmark 5: bytes held per retained record, each contender in a fresh Node process
// (`node --expose-gc memory.mjs <mode>`; without a mode it runs the three in turn and
// emits them together).
//
// - ours: N records (16-byte keys, 100-byte values, Uint8Array) sent with `sendAll` in
//   calls of 10,000 into a 16-partition topic with no retention bound, all kept in the
//   partition log; the JS side keeps nothing. Held: growth of the wasm memory, and of the
//   process's RSS, after a full GC, divided by N; against the encoded record in its batch
//   (the log's bytes / N, framing included).
// - the peer: a plain JS array of `{ key, value, timestamp }` objects holding the same
//   records, keys and values as Uint8Array (each its own buffer), and again as strings.
//   Held: growth of the JS heap plus array buffers, and of RSS, after a full GC, / N.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { makeRecords } from "./lib/common.mjs";
import { FAST, loadTributary, wasmExports, emit } from "./lib/node.mjs";

const n = Number(process.env.N ?? (FAST ? 200_000 : 1_000_000));
const CHUNK = 10_000;
const mode = process.argv[2];

if (!mode) {
  const run = (m) => {
    const out = execFileSync(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url), m],
      { encoding: "utf8", env: process.env, maxBuffer: 1 << 24 });
    return JSON.parse(out.trim().split("\n").at(-1));
  };
  const reps = Number(process.env.REPS ?? (FAST ? 1 : 3));
  const modes = ["ours", "peerBytes", "peerStrings"];
  const runs = Object.fromEntries(modes.map((m) => [m, []]));
  for (let r = 0; r < reps; r++) for (const m of r % 2 ? [...modes].reverse() : modes) runs[m].push(run(m));
  // Memory is deterministic enough that the median run stands for all (min-max shown).
  const pick = (list, key) => {
    const s = [...list].sort((a, b) => a[key] - b[key]);
    return { ...s[Math.floor(s.length / 2)], min: s[0][key], max: s.at(-1)[key] };
  };
  emit({ n, reps, ours: pick(runs.ours, "wasmPerRecord"), peerBytes: pick(runs.peerBytes, "heapPerRecord"),
    peerStrings: pick(runs.peerStrings, "heapPerRecord") });
  process.exit(0);
}

const settle = () => { for (let i = 0; i < 3; i++) globalThis.gc(); };
const heap = () => { const m = process.memoryUsage(); return { js: m.heapUsed + m.arrayBuffers, rss: m.rss }; };

if (mode === "ours") {
  const { Tributary } = await loadTributary("");
  const { memory } = await wasmExports("");
  const client = new Tributary({ seed: 1 });
  client.createTopic("mem", { partitions: 16 });
  const producer = client.topicProducer("mem");
  settle();
  const before = heap();
  const wasm0 = memory.buffer.byteLength;
  for (let from = 0; from < n; from += CHUNK) {
    const { keys, values } = makeRecords(Math.min(CHUNK, n - from), 0x5eed + from);
    await producer.sendAll(keys.map((k, i) => [k, values[i]]));
  }
  await client.flush();
  settle();
  const after = heap();
  let bytes = 0;
  let records = 0;
  for (let p = 0; p < 16; p++) {
    const info = client.partitionInfo("mem", p);
    bytes += info.bytes;
    records += info.records;
  }
  if (records !== n) throw new Error(`the log holds ${records} records, not ${n}`);
  emit({
    wasmPerRecord: (memory.buffer.byteLength - wasm0) / n,
    rssPerRecord: (after.rss - before.rss) / n,
    jsPerRecord: (after.js - before.js) / n,
    encodedPerRecord: bytes / n,
  });
} else {
  const strings = mode === "peerStrings";
  const dec = new TextDecoder();
  settle();
  const before = heap();
  const held = [];
  for (let from = 0; from < n; from += CHUNK) {
    const { keys, values, keyStrings } = makeRecords(Math.min(CHUNK, n - from), 0x5eed + from);
    const now = Date.now();
    for (let i = 0; i < keys.length; i++) {
      held.push(strings
        ? { key: keyStrings[i], value: dec.decode(values[i]), timestamp: now }
        : { key: keys[i], value: values[i], timestamp: now });
    }
  }
  settle();
  const after = heap();
  if (held.length !== n) throw new Error("lost records");
  emit({ heapPerRecord: (after.js - before.js) / n, rssPerRecord: (after.rss - before.rss) / n });
}
