// tributary/ingest served by Deno (Deno.serve) or Bun (Bun.serve) with their own Request,
// Response and WebSocket: `deno run --allow-read --allow-net serve.mjs <config JSON>` or
// `bun serve.mjs <config JSON>`; prints `listening <port>` once it serves.
// Config: { nats: { server, token }, secret, topics, limits, origins }.
import { Tributary } from "../../../pkg/node.js";
import { createIngest } from "../../../pkg/ingest.js";

const args = globalThis.Deno ? Deno.args : process.argv.slice(2);
const config = JSON.parse(args[0]);
const ingest = createIngest({
  Tributary, secret: config.secret, topics: config.topics, allowedOrigins: config.origins,
  nats: { ...config.nats, ackTimeoutMs: 2000 }, ...config.limits,
});
if (globalThis.Deno) {
  Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: ({ port }) => console.log(`listening ${port}`) }, ingest.fetch);
} else {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: ingest.fetch });
  console.log(`listening ${server.port}`);
}
