// Calls the types must accept, and the types they must give back. (The README's examples,
// checked beside this file, are the rest of the accepted calls.)
import { Tributary, TopicProducer, TributaryError, partitionFor } from "tributary";
import type { ConsumedRecord, PartitionInfo, ProducerStats, RecordMetadata } from "tributary";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const same = <T extends true>(): T | undefined => undefined;

const client = new Tributary();
new Tributary({ seed: 42 });
client.createTopic("t", { partitions: 3, replicationFactor: 1, compression: "none", retention: { maxRecords: 10, unacked: "drop" } });
const producer = client.topicProducer("t");
client.topicProducer("t", { linger: 5, batchSize: 1024, onQueueFull: "error", partitioner: "murmur2" });

await producer.send("key", "value");
await producer.send(null, new Uint8Array([1, 2]));
await producer.send(undefined, "v", { partition: 1, timestamp: 1_700_000_000_000, headers: { a: "x", b: new Uint8Array(1) } });
await producer.sendAll([["k", "v"], [null, new Uint8Array(0), { partition: 0 }]]);
await client.flush();

same<Equal<Awaited<ReturnType<TopicProducer["send"]>>, RecordMetadata>>();
same<Equal<Awaited<ReturnType<TopicProducer["sendAll"]>>, RecordMetadata[]>>();
same<Equal<ReturnType<Tributary["read"]>, ConsumedRecord[]>>();
same<Equal<ConsumedRecord["key"], Uint8Array | null>>();
same<Equal<ConsumedRecord["value"], Uint8Array>>();
same<Equal<ReturnType<Tributary["partitionInfo"]>, PartitionInfo>>();
same<Equal<ReturnType<TopicProducer["stats"]>, ProducerStats>>();
same<Equal<ReturnType<Tributary["topics"]>, string[]>>();
same<Equal<ReturnType<typeof partitionFor>, number>>();
same<Equal<RecordMetadata, { topic: string; partition: number; offset: number; timestamp: number }>>();

try {
  client.read("t", 0, 0, 10);
} catch (e) {
  if (e instanceof TributaryError) {
    same<Equal<typeof e.code, string>>();
    const next: number | undefined = e.nextAvailable;
    const error: Error = e;
    void next, error;
  }
}
