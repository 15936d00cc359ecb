// The edge example: a Cloudflare Worker that produces one record per request into NATS
// JetStream and keeps the isolate alive until JetStream acknowledged it
// (`ctx.waitUntil(client.flush())`), after the response has gone. `make demo` runs it in
// workerd (npm package) beside the demo page, into the same nats-server:
//
//   curl -d hello 'http://127.0.0.1:<port>/?user=alice'
//
// Its /ingest is tributary/ingest: the demo page's beacons (records not acknowledged yet
// when the tab is hidden or closed) and, with ?transport=http, its whole transport; each
// request holds records the page already placed, delivered with the ids they have there.
//
// Bindings: NATS_URL (ws:// or wss://), NATS_TOKEN, TOPIC (the stream), DUPLICATE_WINDOW_MS;
// INGEST_SECRET (the key of the page tokens the demo's server issues), CLICKS_TOPIC,
// CLICKS_PARTITIONS (the page's topic).
import { Tributary } from "tributary";
import { createIngest } from "tributary/ingest";

const PARTITIONS = 4;

let ingest; // one handler per isolate; each request makes its own client and sink

export default {
  /**
   * @param {Request} request
   * @param {Record<string, string>} env
   * @param {{ waitUntil(p: Promise<unknown>): void }} ctx
   */
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/ingest") {
      ingest ??= createIngest({
        Tributary,
        secret: env.INGEST_SECRET,
        topics: { [env.CLICKS_TOPIC]: { partitions: Number(env.CLICKS_PARTITIONS) } },
        nats: { server: env.NATS_URL, token: env.NATS_TOKEN, ackTimeoutMs: 2_000 },
        allowedOrigins: ["*"], // the demo page's origin (any port on loopback)
      });
      return ingest.fetch(request, env, ctx);
    }
    if (url.pathname !== "/") return new Response("not found\n", { status: 404 });
    // workerd ties I/O objects (the sink's WebSocket, its timers) to the request that made
    // them and refuses to use them from another request: one client and sink per request.
    // Each client draws its own message id prefix, so ids never collide across requests.
    const client = new Tributary();
    client.createTopic(env.TOPIC, { partitions: PARTITIONS });
    const sink = client.connect(env.TOPIC, {
      server: env.NATS_URL,
      token: env.NATS_TOKEN,
      provision: true,
      duplicateWindowMs: Number(env.DUPLICATE_WINDOW_MS),
      ackTimeoutMs: 2_000,
    });
    const producer = client.topicProducer(env.TOPIC);
    const key = url.searchParams.get("user") ?? request.headers.get("cf-connecting-ip");
    const md = await producer.send(key, JSON.stringify({
      method: request.method,
      path: url.pathname + url.search,
      body: request.method === "GET" ? null : await request.text(),
      userAgent: request.headers.get("user-agent"),
      at: Date.now(),
    }));
    // The response goes now; the isolate stays until the record is acknowledged (or the
    // flush fails: then the error names the undelivered offsets, in the worker's log).
    ctx.waitUntil(client.flush()
      .catch((e) => console.error(`tributary: not delivered: ${e.code} ${e.message} ${JSON.stringify(e.undelivered ?? [])}; sink ${JSON.stringify(sink.stats())}`))
      .finally(() => client.close()));
    return Response.json(md);
  },
};
