// A fake NATS server over WebSocket for the sink's tests (badserver.test.mjs, flush.test.mjs):
// the `ws` package's server on a free loopback port, scriptable per client operation.
import { WebSocketServer } from "ws";

/**
 * A fake NATS server: sends INFO (`info` merged in), answers PING with PONG and hands
 * every client operation to `on(op, conn)`: `{ verb: "CONNECT", json }`, `{ verb: "SUB",
 * args }`, `{ verb: "HPUB" | "PUB", subject, reply, headers, payload }`. `conn.send(text)`
 * writes, `conn.close()` closes. Counts connections.
 */
export async function fakeNats({ info = {}, on = () => {}, pong = true } = {}) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((r) => wss.once("listening", r));
  const server = { connections: 0, url: `ws://127.0.0.1:${wss.address().port}`, sockets: new Set() };
  wss.on("connection", (ws) => {
    server.connections++;
    server.sockets.add(ws);
    ws.on("close", () => server.sockets.delete(ws));
    ws.on("error", () => {});
    const conn = { send: (t) => ws.readyState === 1 && ws.send(Buffer.from(t)), close: () => ws.terminate(), ws };
    conn.send(`INFO ${JSON.stringify({ server_id: "fake", version: "2.10.0", proto: 1, headers: true, max_payload: 1048576, ...info })}\r\n`);
    let buf = Buffer.alloc(0);
    ws.on("message", (data) => {
      buf = Buffer.concat([buf, data]);
      for (;;) {
        const lf = buf.indexOf("\r\n");
        if (lf < 0) return;
        const line = buf.subarray(0, lf).toString();
        const [verb, ...args] = line.split(" ");
        if (verb === "HPUB" || verb === "PUB") {
          const total = +args[args.length - 1];
          const hlen = verb === "HPUB" ? +args[args.length - 2] : 0;
          if (buf.length < lf + 2 + total + 2) return;
          const body = buf.subarray(lf + 2, lf + 2 + total);
          const named = args.length === (verb === "HPUB" ? 4 : 3);
          buf = buf.subarray(lf + 2 + total + 2);
          on({ verb, subject: args[0], reply: named ? args[1] : "", headers: body.subarray(0, hlen).toString(), payload: body.subarray(hlen) }, conn);
          continue;
        }
        buf = buf.subarray(lf + 2);
        if (verb === "PING" && pong) conn.send("PONG\r\n");
        if (verb === "CONNECT") on({ verb, json: JSON.parse(args.join(" ")) }, conn);
        else on({ verb, args }, conn);
      }
    });
  });
  server.close = () => {
    for (const s of server.sockets) s.terminate();
    return new Promise((r) => wss.close(r));
  };
  return server;
}

export const msgId = (headers) => /Nats-Msg-Id: (\S+)/.exec(headers)?.[1];
export const ack = (conn, reply, seq = 1) => conn.send(`MSG ${reply} 1 ${JSON.stringify({ stream: "t", seq }).length}\r\n${JSON.stringify({ stream: "t", seq })}\r\n`);
