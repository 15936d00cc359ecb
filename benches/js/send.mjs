// Benchmark 2 in Node: `send` / `sendAll` against the `nats` client's publish() over TCP
// into the same local nats-server (see lib/send-core.mjs for what is measured).
import { connect } from "nats";
import { sendBench } from "./lib/send-core.mjs";
import { FAST, loadTributary, emit } from "./lib/node.mjs";

const { Tributary } = await loadTributary("");
const n = Number(process.env.N ?? (FAST ? 50_000 : 100_000));
const reps = Number(process.env.REPS ?? (FAST ? 3 : 7));
const result = await sendBench({
  Tributary, natsConnect: connect, natsServer: `127.0.0.1:${process.env.NATS_PORT}`, n, reps,
  log: (s) => process.stderr.write(`      ${s}\n`),
});
emit({ n, reps, runtime: `Node ${process.version}`, peer: "nats 2.29.3 (TCP)", result });
