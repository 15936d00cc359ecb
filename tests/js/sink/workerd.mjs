// A Cloudflare Worker (workerd) producing into JetStream with workerd's own WebSocket:
// GET /produce?ws=<url>&topic=<name>&count=<n> answers, once `client.flush()` resolved,
// with the result as JSON (status 500 and { error } when it fails); anything else is 404.
import * as tributary from "./tributary/workerd.js";
import { produce } from "./produce.mjs";

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname !== "/produce") return new Response("not found", { status: 404 });
    const q = url.searchParams;
    try {
      const result = await produce(tributary, { url: q.get("ws"), topic: q.get("topic"), count: Number(q.get("count")) });
      return Response.json({ runtime: "workerd", ...result });
    } catch (e) {
      return Response.json({ error: String(e?.message ?? e) }, { status: 500 });
    }
  },
};
