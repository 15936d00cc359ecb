// `tributary/full` (the build with the batch codecs) in Node 20: the whole conformance
// suite, plus records round-tripping through gzip, snappy and lz4 batches. The default
// build refuses those codecs with INVALID_CONFIG, leaving the client usable.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as full from "tributary/full";
import * as lean from "tributary";
import { cases } from "./suite.mjs";

for (const [name, run] of Object.entries(cases)) {
  test(`full: ${name}`, () => run(full, assert));
}

for (const codec of ["gzip", "snappy", "lz4"]) {
  test(`full: records round-trip through ${codec} batches`, async () => {
    const client = new full.Tributary({ seed: 5 });
    client.createTopic("z", { partitions: 2, compression: codec });
    const producer = client.topicProducer("z", { batchSize: 4096 });
    const values = Array.from({ length: 500 }, (_, i) => `value ${i} `.repeat(1 + (i % 7)));
    const mds = await producer.sendAll(values.map((v, i) => [`k${i % 13}`, v, { headers: { i: String(i) } }]));
    const dec = new TextDecoder();
    for (const [i, md] of mds.entries()) {
      const [r] = client.read("z", md.partition, md.offset, 1);
      assert.equal(dec.decode(r.value), values[i]);
      assert.equal(dec.decode(r.key), `k${i % 13}`);
      assert.equal(dec.decode(r.headers.i), String(i));
    }
    const info = client.partitionInfo("z", 0);
    const raw = values.reduce((n, v) => n + v.length, 0);
    assert.ok(info.bytes + client.partitionInfo("z", 1).bytes < raw, `${codec} batches are smaller than the values`);
  });
}

test("the default build refuses batch codecs with INVALID_CONFIG and stays usable", async () => {
  const client = new lean.Tributary();
  for (const codec of ["gzip", "snappy", "lz4"]) {
    assert.throws(() => client.createTopic("z", { compression: codec }), (e) => {
      assert.ok(e instanceof lean.TributaryError);
      assert.equal(e.code, "INVALID_CONFIG");
      assert.match(e.message, /tributary\/full/);
      return true;
    });
  }
  assert.deepEqual(client.topics(), []);
  client.createTopic("z", { compression: "none" });
  const md = await client.topicProducer("z").send("k", "v");
  assert.equal(md.offset, 0);
});
