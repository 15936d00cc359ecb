// The command's own WebSocket client (cli/websocket.js, for Node 20, which has no global
// WebSocket), against an independent server: the `ws` package's WebSocketServer (which
// refuses unmasked client frames), and raw TCP servers for what `ws` will not do wrong.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { WebSocketServer } from "ws";
import { installed } from "./helpers.mjs";

const { WebSocket } = await import(join(installed, "cli/websocket.js"));

/** A `ws` server on a free loopback port; `onConnection(socket, request)`. */
async function wsServer(onConnection) {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: true });
  server.on("connection", onConnection);
  await new Promise((r) => server.once("listening", r));
  return { url: `ws://127.0.0.1:${server.address().port}/path?q=1`, close: () => new Promise((r) => server.close(r)) };
}

/** Resolves with the next event of `type` on `ws`. */
const next = (ws, type) => new Promise((r) => ws.addEventListener(type, r, { once: true }));

test("echo: binary and text of every length class, both ways, masked (ws refuses unmasked frames)", async () => {
  let path;
  const server = await wsServer((s, req) => {
    path = req.url;
    s.on("message", (data, binary) => s.send(data, { binary }));
  });
  const ws = new WebSocket(server.url);
  ws.binaryType = "arraybuffer";
  assert.equal(ws.readyState, WebSocket.CONNECTING);
  assert.throws(() => ws.send("early"), { name: "InvalidStateError" });
  await next(ws, "open");
  assert.equal(ws.readyState, WebSocket.OPEN);
  assert.equal(ws.extensions, "", "permessage-deflate was not offered, so not taken");
  assert.equal(path, "/path?q=1");
  for (const n of [0, 1, 125, 126, 65535, 65536, 300_000]) {
    const bytes = new Uint8Array(n).map((_, i) => (i * 7 + n) & 0xff);
    const got = next(ws, "message");
    ws.send(bytes);
    const { data } = await got;
    assert.ok(data instanceof ArrayBuffer, `binary ${n}: ArrayBuffer`);
    assert.deepEqual(new Uint8Array(data), bytes, `binary ${n} round trip`);
  }
  const text = "héllo ✓ ".repeat(20_000);
  const got = next(ws, "message");
  ws.send(text);
  assert.equal((await got).data, text);
  // A view into a larger buffer sends only its own bytes.
  const big = new Uint8Array([9, 1, 2, 3, 9]);
  const gotView = next(ws, "message");
  ws.send(big.subarray(1, 4));
  assert.deepEqual(new Uint8Array((await gotView).data), new Uint8Array([1, 2, 3]));
  const closed = next(ws, "close");
  ws.close(1000, "bye");
  assert.equal(ws.readyState, WebSocket.CLOSING);
  const ev = await closed;
  assert.equal(ev.wasClean, true);
  assert.equal(ev.code, 1000);
  assert.equal(ws.readyState, WebSocket.CLOSED);
  ws.send("after close is dropped"); // no throw
  await server.close();
});

test("fragmented messages are reassembled; a ping is answered with its payload; on* handlers fire", async () => {
  let pong;
  const server = await wsServer((s) => {
    s.on("pong", (d) => pong(d));
    s.send(Buffer.from("ab"), { binary: true, fin: false });
    s.send(Buffer.from("cd"), { binary: true, fin: false });
    s.send(Buffer.from("ef"), { binary: true, fin: true });
    s.ping(Buffer.from("are you there"));
  });
  const ws = new WebSocket(server.url);
  ws.binaryType = "arraybuffer";
  const messages = [];
  const pongGot = new Promise((r) => { pong = r; });
  ws.onmessage = (e) => messages.push(Buffer.from(e.data).toString());
  let opened = false;
  ws.onopen = () => { opened = true; };
  assert.equal((await pongGot).toString(), "are you there");
  assert.ok(opened);
  assert.deepEqual(messages, ["abcdef"]);
  ws.close();
  await next(ws, "close");
  await server.close();
});

test("the server closing: the close event has its code and reason; Blob by default", async () => {
  const server = await wsServer((s) => {
    s.send(Buffer.from([1, 2]), { binary: true });
    setTimeout(() => s.close(4001, "going away"), 50);
  });
  const ws = new WebSocket(server.url);
  const { data } = await next(ws, "message");
  assert.ok(data instanceof Blob);
  assert.deepEqual(new Uint8Array(await data.arrayBuffer()), new Uint8Array([1, 2]));
  const ev = await next(ws, "close");
  assert.deepEqual([ev.code, ev.reason, ev.wasClean], [4001, "going away", true]);
  await server.close();
});

/** A raw TCP server that answers the handshake with `reply(key)` and then writes `after`. */
async function rawServer(reply, after = Buffer.alloc(0)) {
  const server = net.createServer((c) => {
    let head = "";
    c.on("data", (d) => {
      head += d.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      const key = /Sec-WebSocket-Key: (.*)\r\n/i.exec(head)[1];
      c.write(reply(key));
      if (after.length) c.write(after);
      head = "";
    });
    c.on("error", () => {});
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `ws://127.0.0.1:${server.address().port}/`, close: () => server.close() };
}
const accept = (key) => createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
const upgrade = (value) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${value}\r\n\r\n`;

test("a wrong Sec-WebSocket-Accept, a refusal, a masked server frame, a closed port: error then close (1006)", async () => {
  const cases = [
    [await rawServer(() => upgrade("AAAAAAAAAAAAAAAAAAAAAAAAAAA=")), /Sec-WebSocket-Accept does not match/],
    [await rawServer(() => "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"), /did not upgrade the connection \(HTTP\/1.1 403 Forbidden\)/],
    [await rawServer((k) => upgrade(accept(k)), Buffer.from([0x82, 0x81, 1, 2, 3, 4, 5])), /the server masked a frame/],
  ];
  for (const [server, why] of cases) {
    const ws = new WebSocket(server.url);
    const events = [];
    let message = "";
    ws.onerror = (e) => { events.push("error"); message = e.message; };
    const ev = await new Promise((r) => { ws.onclose = r; });
    events.push("close");
    assert.deepEqual(events, ["error", "close"]);
    assert.match(message, why);
    assert.equal(ev.code, 1006);
    assert.equal(ev.wasClean, false);
    server.close();
  }
  const { freePort } = await import("../../../scripts/loopback.mjs");
  const ws = new WebSocket(`ws://127.0.0.1:${await freePort()}`);
  const err = await next(ws, "error");
  assert.match(err.message, /ECONNREFUSED/);
  assert.equal((await next(ws, "close")).code, 1006);
  assert.throws(() => new WebSocket("http://127.0.0.1:1/"), SyntaxError);
});

test("close() while connecting: error and close, the socket is gone", async () => {
  const server = await rawServer(() => ""); // never answers the handshake
  const ws = new WebSocket(server.url);
  const events = [];
  ws.addEventListener("error", () => events.push("error"));
  const closed = next(ws, "close");
  await new Promise((r) => setTimeout(r, 50));
  ws.close();
  await closed;
  events.push("close");
  assert.deepEqual(events, ["error", "close"]);
  assert.equal(ws.readyState, WebSocket.CLOSED);
  server.close();
});
