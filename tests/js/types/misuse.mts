// Calls the types must reject. Each `// @ts-expect-error TSnnnn` names the error the next
// line must raise: types.test.mjs compiles a copy without these comments and checks that
// every such line fails with exactly that code, and that no other line fails.
import { Tributary, TopicProducer, partitionFor } from "tributary";
import { createIngest } from "tributary/ingest";

const client = new Tributary();
const producer = client.topicProducer("t");

// @ts-expect-error TS2345 a value is a string or bytes, not a number
await producer.send("k", 42);
// @ts-expect-error TS2345 a key is a string, bytes or null, not a number
await producer.send(7, "v");
// @ts-expect-error TS2322 header values are strings or bytes
await producer.send("k", "v", { headers: { attempt: 1 } });
// @ts-expect-error TS2322 sendAll entries are [key, value, options?]
await producer.sendAll([["k", 1]]);
// @ts-expect-error TS2322 partitions is a number
client.createTopic("t", { partitions: "4" });
// @ts-expect-error TS2561 a misspelt option is not silently ignored
client.createTopic("t", { partitons: 4 });
// @ts-expect-error TS2322 no such codec
client.createTopic("t", { compression: "zstd" });
// @ts-expect-error TS2322 onQueueFull is "wait" or "error"
client.topicProducer("t", { onQueueFull: "drop" });
// @ts-expect-error TS2322 the seed is a number
new Tributary({ seed: "1" });
// @ts-expect-error TS2673 producers come from topicProducer
new TopicProducer();
// @ts-expect-error TS2345 partitionFor takes a string or bytes key
partitionFor(42, 4);
// @ts-expect-error TS2345 the partition count is a number
partitionFor("k", "4");
// @ts-expect-error TS2345 a partition is a number
client.read("t", "0", 0, 10);
// @ts-expect-error TS2322 a record's value is bytes, not a string
const value: string = client.read("t", 0, 0, 1)[0].value;
void value;
// @ts-expect-error TS2345 the ingest needs the Tributary class
createIngest({ secret: "s", topics: {}, nats: {} });
// @ts-expect-error TS2353 the ingest sets each request's msgIdPrefix itself
createIngest({ Tributary, secret: "s", topics: {}, nats: { msgIdPrefix: "p" } });
