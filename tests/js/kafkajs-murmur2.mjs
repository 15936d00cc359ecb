// Prints, as JSON, the partition kafkajs's own DefaultPartitioner chooses for a seeded set
// of keys and partition counts. tests/kafkajs_murmur2.rs runs it and compares with
// tributary's murmur2 partitioner.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { Partitioners } = require("kafkajs");

const partitioner = Partitioners.DefaultPartitioner();
const counts = [1, 2, 3, 7, 16, 100, 1024];

// xorshift32, seeded: the same keys every run.
let state = 0x2545f491;
const next = () => {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state;
};

const keys = [Buffer.alloc(0), Buffer.from("user-1"), Buffer.from("click"), Buffer.from("héllo wörld ✓")];
for (let i = 0; i < 1200; i++) {
  const len = next() % 64;
  const key = Buffer.alloc(len);
  for (let j = 0; j < len; j++) key[j] = next() & 0xff;
  keys.push(key);
}

const rows = [];
for (const key of keys) {
  for (const n of counts) {
    const partitionMetadata = Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: 0 }));
    const p = partitioner({ topic: "t", partitionMetadata, message: { key, value: "v" } });
    rows.push([key.toString("hex"), n, p]);
  }
}
process.stdout.write(JSON.stringify(rows));
