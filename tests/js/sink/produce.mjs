// The producer each runtime runs (Chromium, Deno, workerd; see runtimes.test.mjs): `count`
// keyed records into an 8-partition topic, delivered to JetStream by a sink over the
// runtime's own global WebSocket (no `WebSocket` option), then `client.flush()`.
// Plain ES module, no imports: the runtime hands in the package it loaded.
export const PARTITIONS = 8;
export const keyOf = (i) => `user-${i % 1013}`;
const valueOf = (i) => `record ${i} `.padEnd(100, "x");

/**
 * Resolves with `{ perPartition, stats, states, ms }` once `client.flush()` resolved:
 * records per partition (from the send metadata), the sink's stats, the states it went
 * through, and the time taken. Rejects with what the sink reported if anything fails.
 */
export async function produce({ Tributary }, { url, topic, count, chunk = 1000 }) {
  const started = Date.now();
  const client = new Tributary();
  client.createTopic(topic, { partitions: PARTITIONS });
  const producer = client.topicProducer(topic);
  const states = [];
  const sink = client.connect(topic, {
    server: url,
    provision: true,
    onStateChange: (state, error) => states.push(error ? `${state} (${error.code}: ${error.message})` : state),
  });
  try {
    const perPartition = new Array(PARTITIONS).fill(0);
    for (let from = 0; from < count; from += chunk) {
      const records = [];
      for (let i = from; i < Math.min(count, from + chunk); i++) records.push([keyOf(i), valueOf(i)]);
      for (const md of await producer.sendAll(records)) perPartition[md.partition]++;
    }
    await client.flush();
    return { perPartition, stats: sink.stats(), states, ms: Date.now() - started };
  } catch (e) {
    const why = new Error(`${e?.code ?? ""} ${e?.message ?? e}; sink ${JSON.stringify(sink.stats())}; states ${JSON.stringify(states)}`);
    why.cause = e;
    throw why;
  } finally {
    await sink.close();
    await client.close();
  }
}
