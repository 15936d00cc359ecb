// Benchmark 3 (issue 4): records/s acknowledged by JetStream over WebSocket on loopback,
// 16-byte keys, 100-byte values, into a 16-subject file-backed stream (one per run, made
// alike for both, deleted after), from Node 20 with the `ws` package as WebSocket:
//
// - ours: `sendAll` of the N [key, value] pairs into a 16-partition topic whose sink is
//   connected (connect is outside the timing), then `await client.flush()`, which resolves
//   once JetStream acknowledged every record. Each message carries Nats-Msg-Id, the key and
//   the timestamp as headers; the sink keeps at most 1,024 unacknowledged (its default).
// - the peer: nats.ws 1.30.3 over the same WebSocket listener, `js.publish(subject, value,
//   { msgID, headers: key })` per record, 1,024 in flight at a time (`await Promise.all`
//   over chunks of 1,024: the bounded window a careful user writes), timing until the last
//   ack. The same subjects (`<stream>.<partition>`, partition = partitionFor(key, 16)).
// - the peer again with payloads only (no msgID, no headers): its upper bound.
// - the current official client: @nats-io/jetstream 3.4.0 over @nats-io/nats-core 3.4.0's
//   `wsconnect`, the same publishes (msgID + key header), the same window.
//
// After each run the stream must hold exactly N messages (else the run fails).
import WebSocket from "ws";
import { connect as tcpConnect } from "nats";
import { alternate, makeRecords } from "./lib/common.mjs";
import { FAST, loadTributary, emit } from "./lib/node.mjs";
import { acked, streams } from "./lib/acked.mjs";

globalThis.WebSocket ??= WebSocket; // nats.ws uses the global one; Node 20 has none
const { connect: wsConnect, headers: natsHeaders } = await import("nats.ws");
const core = await import("@nats-io/nats-core");
const { jetstream } = await import("@nats-io/jetstream");

const n = Number(process.env.N ?? (FAST ? 20_000 : 100_000));
const reps = Number(process.env.REPS ?? (FAST ? 3 : 5));
const WINDOW = 1024;
const wsUrl = `ws://127.0.0.1:${process.env.NATS_WS_PORT}`;
const { Tributary, partitionFor } = await loadTributary("");

const { keyStrings, values } = makeRecords(n);
const partitions = keyStrings.map((k) => partitionFor(k, 16));

const admin = await tcpConnect({ servers: `127.0.0.1:${process.env.NATS_PORT}` });
const jsm = await admin.jetstreamManager();
const withStream = streams(jsm, "ack", n);

const ours = () => withStream((name) => acked(Tributary, name, { server: wsUrl, WebSocket, stream: name }, keyStrings, values));

const peer = (withIds, official = false) => () => withStream(async (name) => {
  const nc = official ? await core.wsconnect({ servers: wsUrl }) : await wsConnect({ servers: wsUrl });
  const newHeaders = official ? core.headers : natsHeaders;
  try {
    const js = official ? jetstream(nc) : nc.jetstream();
    const subjects = partitions.map((p) => `${name}.${p}`);
    const t0 = performance.now();
    for (let from = 0; from < n; from += WINDOW) {
      const acks = [];
      for (let i = from; i < Math.min(n, from + WINDOW); i++) {
        if (withIds) {
          const h = newHeaders();
          h.set("Tributary-Key", keyStrings[i]);
          acks.push(js.publish(subjects[i], values[i], { msgID: `peer-${i}`, headers: h }));
        } else {
          acks.push(js.publish(subjects[i], values[i]));
        }
      }
      await Promise.all(acks);
    }
    const ms = performance.now() - t0;
    return n / (ms / 1000);
  } finally {
    await nc.close();
  }
});

try {
  const result = await alternate(reps, { ours, official: peer(true, true), peer: peer(true), peerBare: peer(false) }, {
    onRun: (name, v) => process.stderr.write(`      ${name} ${Math.round(v)} records/s acknowledged\n`),
  });
  emit({ n, reps, window: WINDOW, peer: "nats.ws 1.30.3 over ws 8.23.0", official: "@nats-io/jetstream 3.4.0 over @nats-io/nats-core 3.4.0 wsconnect", result });
} finally {
  await admin.close();
}
