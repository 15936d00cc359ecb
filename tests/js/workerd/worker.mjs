// A Cloudflare Worker using tributary: the .wasm is imported as a module (pkg/workerd.js).
// GET /conformance runs the shared suite; POST /produce?key=K produces the request body
// as one record and answers with its metadata; GET /info answers with partition info.
import * as tributary from "./tributary/workerd.js";
import assert from "./assert.mjs";
import { runAll } from "./app/suite.mjs";

const { Tributary } = tributary;
const client = new Tributary();
client.createTopic("requests", { partitions: 4, retention: { maxRecords: 10_000 } });
const producer = client.topicProducer("requests");

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/conformance") {
      const { passed, failed, lines } = await runAll(tributary, assert);
      return Response.json({ passed, failed, lines });
    }
    if (url.pathname === "/produce" && request.method === "POST") {
      const md = await producer.send(url.searchParams.get("key"), await request.text());
      return Response.json(md);
    }
    if (url.pathname === "/info") {
      return Response.json([0, 1, 2, 3].map((p) => client.partitionInfo("requests", p)));
    }
    return new Response("not found", { status: 404 });
  },
};
