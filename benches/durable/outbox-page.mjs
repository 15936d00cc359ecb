// What the write-ahead outbox costs, in the browser (see outbox.mjs): for each setup, the
// time from `send()` to the record's message leaving on the WebSocket (the sink's HPUB,
// found by its Nats-Msg-Id in what the page's WebSocket sends), and the storage writes
// per record once every record is acknowledged.
const q = new URLSearchParams(location.search);
const pkg = q.get("pkg") ?? "../../pkg/";
const { Tributary } = await import(`${pkg}browser.js`);
const { openDurable } = await import(`${pkg}durable.js`);
const ws = q.get("ws");
const spaced = Number(q.get("spaced") ?? 200);
const burst = Number(q.get("burst") ?? 1000);

// The page's WebSocket, timing every message id it sends.
const sentAt = new Map();
const decoder = new TextDecoder("latin1");
class TimedWebSocket extends WebSocket {
  send(data) {
    const t = performance.now();
    const text = typeof data === "string" ? data : decoder.decode(data);
    for (const m of text.matchAll(/Nats-Msg-Id: ([^\r]+)\r\n/g)) if (!sentAt.has(m[1])) sentAt.set(m[1], t);
    super.send(data);
  }
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length - 1) * p))];
};
const round = (x) => Math.round(x * 100) / 100;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One setup: `mode` "sink" (client.connect, no outbox) or a durable storage kind. */
async function run(mode, topic) {
  const client = new Tributary();
  client.createTopic(topic, { partitions: 6, retention: { maxRecords: 100, segmentBytes: 2048 } });
  const prefix = `${topic}-${Math.random().toString(36).slice(2, 10)}`;
  let durable = null;
  let producer;
  let idOf;
  const common = { server: ws, provision: true, duplicateWindowMs: 60_000, WebSocket: TimedWebSocket };
  if (mode === "sink") {
    const sink = client.connect(topic, { ...common, msgIdPrefix: prefix });
    producer = client.topicProducer(topic);
    idOf = (md) => `${prefix}-${md.partition}-${md.offset}`;
    while (sink.state !== "connected") await sleep(10);
  } else {
    durable = await openDurable(client, topic, { ...common, storage: mode, name: `obench-${prefix}`, window: new EventTarget() });
    producer = durable.producer();
    idOf = (md) => `${durable.generation}-${md.partition}-${md.offset}`;
    while (durable.sink.state !== "connected") await sleep(10);
  }
  const value = JSON.stringify({ element: "#t-cart", x: 120, y: 48, t: Date.now(), page: "/", session: "0123456789ab" });
  const latency = async (promises, t0s) => {
    const mds = await Promise.all(promises);
    await (durable ?? client).flush();
    return mds.map((md, i) => sentAt.get(idOf(md)) - t0s[i]);
  };
  // Clicks one at a time, 10 ms apart.
  const t0s = [];
  const ps = [];
  for (let i = 0; i < spaced; i++) {
    t0s.push(performance.now());
    ps.push(producer.send(`k${i % 12}`, value));
    await sleep(10);
  }
  const single = await latency(ps, t0s);
  // A burst: `burst` sends in one task.
  const b0 = performance.now();
  const bps = [];
  for (let i = 0; i < burst; i++) bps.push(producer.send(`k${i % 12}`, value));
  const burstLat = await latency(bps, bps.map(() => b0));
  const stats = durable?.stats();
  await durable?.close();
  await client.close();
  const records = spaced + burst;
  return {
    mode,
    single: { p50: round(pct(single, 0.5)), p95: round(pct(single, 0.95)), p99: round(pct(single, 0.99)), max: round(Math.max(...single)) },
    burst: { p50: round(pct(burstLat, 0.5)), p95: round(pct(burstLat, 0.95)), last: round(Math.max(...burstLat)) },
    writesPerRecord: stats ? round(stats.storageWrites / records) : 0,
    rowsPerRecord: stats ? round(stats.storageRows / records) : 0,
    storageErrors: stats?.storageErrors ?? 0,
  };
}

try {
  const out = [];
  const modes = (q.get("modes") ?? "sink,none,indexeddb,localstorage").split(",");
  const reps = Number(q.get("reps") ?? 3);
  for (let r = 0; r < reps; r++) {
    for (const mode of modes) out.push(await run(mode, `ob${r}${mode.slice(0, 3)}`));
  }
  window.__result = { runs: out };
} catch (e) {
  window.__result = { error: `${e?.code ?? ""} ${e?.message ?? e}\n${e?.stack ?? ""}` };
}
