// Benchmark 2, shared by Node and the browser page: records/s accepted from JS.
//
// - ours `send`: N calls `producer.send(key, value)` (16-char string keys, 100-byte
//   Uint8Array values) into a 16-partition topic, then `await client.flush()` (every record
//   in the log, every send promise settled);
// - ours `sendAll`: the N [key, value] pairs built and handed over in one call, then awaited;
// - ours `sendAll ×1,000`: the same in calls of 1,000 records, each awaited in turn;
// - the peer: the NATS JS client's `publish(subject, value)` (subject `bench.<key>`)
//   N times into an open connection, then `await nc.flush()` (the server has them all).
//
// Each run reports records/s until settled (`value`) and records/s of the calls alone
// (`calls`: the synchronous loop, before any awaiting). Plain ES module, no imports: the
// caller hands in the package and the NATS `connect`.
import { alternate, makeRecords } from "./common.mjs";

export async function sendBench({ Tributary, natsConnect, natsServer, n = 100_000, reps = 5, log = () => {} }) {
  const { keyStrings, values } = makeRecords(n);
  const subjects = keyStrings.map((k) => `bench.${k}`);
  let topicNo = 0;

  const withProducer = async (body) => {
    const client = new Tributary({ seed: 1 });
    const topic = `send-${topicNo++}`;
    client.createTopic(topic, { partitions: 16 });
    const producer = client.topicProducer(topic);
    try {
      return await body(producer, client);
    } finally {
      await client.close();
      client.free();
    }
  };

  const oursSend = () => withProducer(async (producer, client) => {
    const t0 = performance.now();
    let last;
    for (let i = 0; i < n; i++) last = producer.send(keyStrings[i], values[i]);
    const t1 = performance.now();
    await last;
    await client.flush();
    const t2 = performance.now();
    if (producer.stats().recordsAppended !== n) throw new Error("ours send: not every record reached the log");
    return { value: n / ((t2 - t0) / 1000), calls: n / ((t1 - t0) / 1000) };
  });

  const oursSendAll = (chunk) => () => withProducer(async (producer, client) => {
    const t0 = performance.now();
    let callMs = 0;
    for (let from = 0; from < n; from += chunk) {
      const c0 = performance.now();
      const to = Math.min(n, from + chunk);
      const pairs = new Array(to - from);
      for (let i = from; i < to; i++) pairs[i - from] = [keyStrings[i], values[i]];
      const p = producer.sendAll(pairs);
      callMs += performance.now() - c0;
      await p;
    }
    await client.flush();
    const t2 = performance.now();
    if (producer.stats().recordsAppended !== n) throw new Error("ours sendAll: not every record reached the log");
    return { value: n / ((t2 - t0) / 1000), calls: n / (callMs / 1000) };
  });

  const nc = await natsConnect({ servers: natsServer, noEcho: true });
  const peer = async () => {
    await nc.flush();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) nc.publish(subjects[i], values[i]);
    const t1 = performance.now();
    await nc.flush();
    const t2 = performance.now();
    return { value: n / ((t2 - t0) / 1000), calls: n / ((t1 - t0) / 1000) };
  };

  try {
    return await alternate(reps, {
      send: oursSend,
      sendAll: oursSendAll(n),
      sendAll1k: oursSendAll(1000),
      peer,
    }, { onRun: (name, v) => log(`${name} ${Math.round(v)} records/s`) });
  } finally {
    await nc.close();
  }
}
