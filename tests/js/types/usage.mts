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
await producer.send("k", "v", { headers: new Map<string, string | Uint8Array>([["a", "x"], ["b", new Uint8Array(1)]]) });
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

// tributary/ingest: the handler, its answers, tokens and the batch codec.
import { createIngest, issueToken, encodeRequest, CONTENT_TYPE, toNodeListener } from "tributary/ingest";
import type { Ingest, IngestAnswer } from "tributary/ingest";
const ingest: Ingest = createIngest({
  Tributary, secret: "0123456789abcdef0123456789abcdef", topics: { clicks: { partitions: 6 } },
  nats: { server: "wss://nats.example.com", token: "t", duplicateWindowMs: 86_400_000 }, maxRecords: 500,
  allowedOrigins: ["https://example.com"],
});
const batchBytes: Uint8Array = Tributary.encodeBatch([{ offset: 0, key: "k", value: "v", timestamp: 1 }]);
const decoded = Tributary.decodeBatch(batchBytes);
same<Equal<typeof decoded.records, ConsumedRecord[]>>();
const token: string = await issueToken("0123456789abcdef0123456789abcdef", { prefix: "session1", ttlMs: 60_000 });
const answer = (await (await ingest.fetch(new Request("https://ingest.example.com/", {
  method: "POST", headers: { "content-type": CONTENT_TYPE },
  body: encodeRequest({ token, topic: "clicks", prefix: "session1", sections: [{ partition: 0, batch: batchBytes }] }),
}))).json()) as IngestAnswer;
if (answer.ok) same<Equal<typeof answer.records, number>>();
else void answer.code;
void toNodeListener(ingest);
