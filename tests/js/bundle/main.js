// A user's browser app, bundled by Vite and by esbuild (bundle.test.mjs): produces keyed
// records, flushes, reads them back and computes partitions; the page publishes what it
// saw in window.__result (the test asserts on it in Node) and its title says "done".
import { Tributary, partitionFor, TributaryError } from "tributary";
import table from "../partition-table.mjs";

const hexBytes = (hex) => new Uint8Array(hex.match(/../g)?.map((h) => parseInt(h, 16)) ?? []);
const text = (bytes) => new TextDecoder().decode(bytes);

async function run() {
  const client = new Tributary({ seed: 7 });
  client.createTopic("clicks", { partitions: 4 });
  // A long linger: the sends settle only through flush().
  const producer = client.topicProducer("clicks", { linger: 60_000 });
  const keys = ["user-1", "user-42", "click", ""];
  const pending = keys.flatMap((k) => [producer.send(k, `${k}:a`), producer.send(k, `${k}:b`)]);
  await client.flush();
  const sent = await Promise.all(pending);
  const placed = {};
  for (const [i, md] of sent.entries()) {
    const key = keys[Math.floor(i / 2)];
    placed[key] = { partition: md.partition, partitionFor: partitionFor(key, 4) };
  }
  const readBack = {};
  for (let p = 0; p < 4; p++) {
    readBack[p] = client.read("clicks", p, 0, 100).map((r) => [r.offset, text(r.key), text(r.value)]);
  }
  const partitionTable = table.rows.map(([hex]) => table.counts.map((n) => partitionFor(hexBytes(hex), n)));
  let error = null;
  try {
    client.topicProducer("no-such-topic", {});
  } catch (e) {
    error = { isTributaryError: e instanceof TributaryError, isError: e instanceof Error, code: e.code };
  }
  return { placed, readBack, partitionTable, error };
}

run().then(
  (result) => {
    window.__result = { ok: true, ...result };
    document.getElementById("out").textContent = JSON.stringify(result, null, 1);
    document.title = "done";
  },
  (e) => {
    window.__result = { ok: false, error: String(e?.stack ?? e) };
    document.title = "failed";
  },
);
