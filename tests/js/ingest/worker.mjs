// tributary/ingest as a Cloudflare Worker: the handler from the npm package, configured by
// the worker's bindings (INGEST_SECRET, NATS_URL, NATS_TOKEN, INGEST_TOPICS as JSON,
// INGEST_LIMITS as JSON, ALLOWED_ORIGINS comma-separated). One handler per isolate; each
// request makes its own client and sink (workerd ties I/O objects to their request).
import { Tributary } from "tributary";
import { createIngest } from "tributary/ingest";

let ingest;

export default {
  fetch(request, env, ctx) {
    ingest ??= createIngest({
      Tributary,
      secret: env.INGEST_SECRET,
      topics: JSON.parse(env.INGEST_TOPICS),
      nats: { server: env.NATS_URL, token: env.NATS_TOKEN, ackTimeoutMs: 2000 },
      allowedOrigins: env.ALLOWED_ORIGINS.split(","),
      ...JSON.parse(env.INGEST_LIMITS),
    });
    return ingest.fetch(request, env, ctx);
  },
};
