// Deno, a wss:// server whose certificate Deno does not trust (run without `--cert`):
// `deno run --allow-net --allow-read deno-refused.mjs <wss url> <topic>` from a folder
// whose node_modules holds the package. Sends 100 records, waits for `sink.flush` with a
// 1.5 s timeout and prints what the API reported as one JSON line.
import { Tributary } from "tributary";

const [url, topic] = Deno.args;
const client = new Tributary();
client.createTopic(topic, { partitions: 2 });
const states = [];
const socketErrors = [];
class Watched extends WebSocket {
  constructor(u, p) {
    super(u, p);
    this.addEventListener("error", (e) => socketErrors.push(e.message ?? String(e)));
  }
}
const sink = client.connect(topic, {
  server: url, WebSocket: Watched, backoffInitialMs: 20, backoffMaxMs: 100,
  onStateChange: (s, e) => states.push(e ? `${s} (${e.code})` : s),
});
const producer = client.topicProducer(topic);
for (let i = 0; i < 100; i++) producer.send(`k${i}`, `v${i}`);
let flush;
try {
  await sink.flush({ timeoutMs: 1500 });
  flush = { resolved: true };
} catch (e) {
  flush = { code: e.code, message: e.message, undelivered: e.undelivered, cause: e.cause && { code: e.cause.code, message: e.cause.message } };
}
const info = [0, 1].map((p) => client.partitionInfo(topic, p));
console.log(JSON.stringify({
  flush, state: sink.state, error: sink.error && { code: sink.error.code, message: sink.error.message },
  stats: sink.stats(), states, socketErrors: [...new Set(socketErrors)], attempts: socketErrors.length, info,
}));
await sink.close();
await client.close();
