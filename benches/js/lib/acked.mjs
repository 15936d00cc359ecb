// Acknowledged delivery, ours (benches/js/ack.mjs and the A/B tool ack-ab.mjs): the
// timed workload, the streams it goes into, and a scripted JetStream to run it against
// with no server.
import { StorageType, DiscardPolicy, RetentionPolicy, nanos } from "nats";

/**
 * `withStream(body)`: runs `body(name)` with a fresh file-backed stream `name` capturing
 * `name.*` (made alike for every contender through `jsm`, a JetStream manager), checks
 * that it then holds exactly `n` messages, and deletes it.
 */
export function streams(jsm, prefix, n) {
  let streamNo = 0;
  return async (body) => {
    const name = `${prefix}-${process.pid}-${streamNo++}`;
    await jsm.streams.add({
      name, subjects: [`${name}.*`], storage: StorageType.File, retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old, num_replicas: 1, duplicate_window: nanos(120_000),
    });
    try {
      const out = await body(name);
      const held = (await jsm.streams.info(name)).state.messages;
      if (held !== n) throw new Error(`stream ${name} holds ${held} messages, not ${n}`);
      return out;
    } finally {
      await jsm.streams.delete(name);
    }
  };
}

/**
 * `sendAll` of the [key, value] pairs into a 16-partition topic `topic` whose sink is
 * connected with `options` (connecting is outside the timing), then `await
 * client.flush()`, which resolves once JetStream acknowledged every record. Resolves with
 * `{ value: records/s, resent, cpu: process CPU µs per record }`.
 */
export async function acked(Tributary, topic, options, keyStrings, values) {
  const n = keyStrings.length;
  const client = new Tributary();
  client.createTopic(topic, { partitions: 16 });
  const producer = client.topicProducer(topic);
  let sink;
  await new Promise((resolve, reject) => {
    sink = client.connect(topic, {
      ...options,
      onStateChange: (s, e) => (s === "connected" ? resolve() : s === "failed" && reject(e)),
    });
  });
  try {
    const t0 = performance.now(), c0 = process.cpuUsage();
    const pairs = new Array(n);
    for (let i = 0; i < n; i++) pairs[i] = [keyStrings[i], values[i]];
    await producer.sendAll(pairs);
    await client.flush();
    const ms = performance.now() - t0, c = process.cpuUsage(c0);
    const st = sink.stats();
    if (st.acked !== n) throw new Error(`ours: ${st.acked} acked, not ${n}`);
    return { value: n / (ms / 1000), resent: st.resent, cpu: (c.user + c.system) / n };
  } finally {
    await sink.close();
    await client.close();
    producer.free();
    client.free();
  }
}

const latin = new TextDecoder("latin1");
const utf8 = new TextEncoder();

/**
 * A WebSocket (the constructor a sink takes) whose far end is a scripted JetStream in this
 * process: INFO on open, PONG for PING, and for every HPUB with a reply subject a PubAck
 * (`MSG <reply> 1 <size>` + `{"stream":"s","seq":N}`) one macrotask later, a turn's acks
 * as one frame (as nats-server over a WebSocket). No stream, no storage, no network: what
 * remains is the client's own work (and this script's, the same for every build).
 */
export class FakeJetStream {
  constructor() {
    this.seq = 0;
    this.held = ""; // the start of an operation whose rest comes in a later send
    setImmediate(() => this.deliver(`INFO {"server_id":"fake","headers":true,"max_payload":1048576}\r\n`));
  }
  deliver(text) {
    if (!this.closed) this.onmessage?.({ data: utf8.encode(text).buffer });
  }
  send(bytes) {
    const text = this.held + latin.decode(bytes);
    let out = "", at = 0;
    for (let lf; (lf = text.indexOf("\r\n", at)) >= 0; ) {
      const a = text.slice(at, lf).split(" ");
      let next = lf + 2;
      if (a[0] === "HPUB" || a[0] === "PUB") {
        next += +a.at(-1) + 2;
        if (text.length < next) break;
        if (a[0] === "HPUB" && a.length === 5) {
          const body = `{"stream":"s","seq":${++this.seq}}`;
          out += `MSG ${a[2]} 1 ${body.length}\r\n${body}\r\n`;
        }
      } else if (a[0] === "PING") out += "PONG\r\n";
      at = next;
    }
    this.held = text.slice(at);
    if (out) setImmediate(() => this.deliver(out));
  }
  close() {
    this.closed = true;
  }
}
