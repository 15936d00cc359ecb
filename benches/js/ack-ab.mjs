// A/B of acknowledged delivery between builds of the package, in ONE Node process: ack.mjs's
// `ours` (lib/acked.mjs: sendAll of N [key, value] pairs into a 16-partition topic whose
// sink is connected, then `await client.flush()`) with each build in turn, the order
// rotating every round (A B, B A, ...) after one warm-up each, against one nats-server on
// free loopback ports (over the `ws` package), or with FAKE=1 against a scripted JetStream
// in the process (lib/acked.mjs FakeJetStream: the client's own work alone). Each round
// prints every build's records/s and process CPU µs per record, and its ratios to the first
// build; then the medians. On a shared machine compare builds only inside one run; the CPU
// time per record is the steadier figure under other jobs' load.
//
//   node benches/js/ack-ab.mjs DIR_A DIR_B [...]   (DIR: a pkg/ folder, copied privately)
//   env: N (records, default 50,000), REPS (rounds, default 7), FAKE=1 (no server),
//   PEER=1 (with a server: @nats-io/jetstream 3.4 as one more contender, ack.mjs's `official`)
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import WebSocket from "ws";
import { makeRecords, summary } from "./lib/common.mjs";
import { acked, streams, FakeJetStream } from "./lib/acked.mjs";

const dirs = process.argv.slice(2);
if (!dirs.length) throw new Error("usage: node benches/js/ack-ab.mjs DIR_A DIR_B [...]");
const n = Number(process.env.N ?? 50_000);
const reps = Number(process.env.REPS ?? 7);
const fake = process.env.FAKE === "1";
const WINDOW = 1024;

const copies = dirs.map((d) => {
  const dir = mkdtempSync(join(tmpdir(), "tributary-ab-"));
  cpSync(resolve(d), dir, { recursive: true });
  return dir;
});
const builds = await Promise.all(copies.map((d) => import(pathToFileURL(join(d, "node.js")).href)));
const { keyStrings, values } = makeRecords(n);

let nats, withStream, stop = async () => {};
if (!fake) {
  const { startNats } = await import("../../tests/js/sink/harness.mjs");
  const { connect } = await import("nats");
  nats = await startNats({ name: "ab" });
  const admin = await connect({ servers: `127.0.0.1:${nats.port}` });
  withStream = streams(await admin.jetstreamManager(), "ab", n);
  stop = async () => {
    await admin.close();
    await nats.stop();
  };
}

const ours = ({ Tributary }) => fake
  ? () => acked(Tributary, "t", { server: "ws://127.0.0.1:9", WebSocket: FakeJetStream }, keyStrings, values)
  : () => withStream((name) => acked(Tributary, name, { server: nats.url, WebSocket, stream: name }, keyStrings, values));
const contenders = dirs.map((d, i) => [`${String.fromCharCode(65 + i)} ${d}`, ours(builds[i])]);
if (process.env.PEER === "1" && !fake) {
  const core = await import("@nats-io/nats-core");
  const { jetstream } = await import("@nats-io/jetstream");
  const parts = keyStrings.map((k) => builds[0].partitionFor(k, 16));
  globalThis.WebSocket ??= WebSocket;
  contenders.push(["official @nats-io/jetstream", () => withStream(async (name) => {
    const nc = await core.wsconnect({ servers: nats.url });
    try {
      const js = jetstream(nc);
      const t0 = performance.now(), c0 = process.cpuUsage();
      for (let from = 0; from < n; from += WINDOW) {
        const acks = [];
        for (let i = from; i < Math.min(n, from + WINDOW); i++) {
          const h = core.headers();
          h.set("Tributary-Key", keyStrings[i]);
          acks.push(js.publish(`${name}.${parts[i]}`, values[i], { msgID: `peer-${i}`, headers: h }));
        }
        await Promise.all(acks);
      }
      const c = process.cpuUsage(c0);
      return { value: n / ((performance.now() - t0) / 1000), cpu: (c.user + c.system) / n };
    } finally {
      await nc.close();
    }
  })]);
}

const runs = contenders.map(() => []);
const med = (xs) => summary(xs).median;
try {
  for (const [, run] of contenders) await run(); // warm-up
  for (let r = 0; r < reps; r++) {
    const order = contenders.map((_, i) => i);
    if (r % 2) order.reverse();
    for (const i of order) runs[i].push(await contenders[i][1]());
    const row = runs.map((s) => s[r]);
    console.log(`round ${r + 1}: ${row.map((x) => `${Math.round(x.value)} rec/s ${x.cpu.toFixed(1)} µs`).join(", ")}; to A: ${row.slice(1).map((x) => `${(x.value / row[0].value).toFixed(3)}x, cpu ${(x.cpu / row[0].cpu).toFixed(3)}`).join("; ")}`);
  }
  console.log(`N=${n}, ${reps} rounds${fake ? ", scripted JetStream (FAKE=1)" : ", nats-server"}, medians:`);
  for (const [i, [name]] of contenders.entries()) {
    const v = runs[i].map((x) => x.value), cpu = runs[i].map((x) => x.cpu);
    console.log(`  ${name}: ${Math.round(med(v))} rec/s (${Math.round(Math.min(...v))} - ${Math.round(Math.max(...v))}), ${med(cpu).toFixed(2)} CPU µs/record;` +
      ` per-round to A: ${med(v.map((x, r) => x / runs[0][r].value)).toFixed(3)}x rec/s, ${med(cpu.map((x, r) => x / runs[0][r].cpu)).toFixed(3)}x CPU`);
  }
} finally {
  await stop();
  for (const d of copies) rmSync(d, { recursive: true, force: true });
}
process.exit(0);
