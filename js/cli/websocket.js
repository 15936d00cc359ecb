// A small WebSocket client (RFC 6455) over node:net / node:tls, for the `tributary`
// command on Node 20, which has no global WebSocket (Deno, Bun and Node >= 22 have one,
// and the command uses theirs). It speaks what the sink needs from nats-server: the
// opening handshake (checked Sec-WebSocket-Accept), masked client frames, binary and text
// messages (fragmented ones reassembled), ping answered by pong, the closing handshake.
// No extensions (permessage-deflate is not offered), no proxies. The interface is the
// browser's: readyState, binaryType ("arraybuffer", else Blob), send, close,
// bufferedAmount, on{open,message,error,close} and addEventListener.
import net from "node:net";
import tls from "node:tls";
import { createHash, randomBytes, randomFillSync } from "node:crypto";
import process from "node:process";
import { Buffer } from "node:buffer";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** Largest message accepted from the server (the sink caps NATS messages far below). */
const MAX_MESSAGE = 64 * 1024 * 1024;
const MAX_HANDSHAKE = 16 * 1024;
const CLOSE_WAIT_MS = 3000;

// Mask keys, 4 bytes each, from a pool of random bytes refilled when used up.
const pool = Buffer.alloc(4096);
let poolAt = pool.length;
function maskKey() {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  poolAt += 4;
  return pool.subarray(poolAt - 4, poolAt);
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

export class WebSocket extends EventTarget {
  static CONNECTING = CONNECTING;
  static OPEN = OPEN;
  static CLOSING = CLOSING;
  static CLOSED = CLOSED;

  /** @param {string | URL} url @param {string | string[]} [protocols] */
  constructor(url, protocols = []) {
    super();
    const u = new URL(String(url));
    if (u.protocol !== "ws:" && u.protocol !== "wss:") {
      throw new SyntaxError(`WebSocket URL must be ws:// or wss://, not ${u.protocol}`);
    }
    if (u.hash) throw new SyntaxError("WebSocket URL must not have a fragment");
    const list = typeof protocols === "string" ? [protocols] : [...protocols];
    this.url = u.href;
    this.protocol = "";
    this.extensions = "";
    this.binaryType = "blob";
    this.readyState = CONNECTING;
    this.onopen = null;
    this.onmessage = null;
    this.onerror = null;
    this.onclose = null;
    this._chunks = [];
    this._have = 0;
    this._fragments = null;
    this._fragmentType = 0;
    this._fragmentSize = 0;
    this._closeSent = false;
    this._closeCode = 1006;
    this._closeReason = "";
    this._clean = false;
    this._key = randomBytes(16).toString("base64");

    const secure = u.protocol === "wss:";
    const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
    const port = Number(u.port) || (secure ? 443 : 80);
    const socket = secure
      ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ALPNProtocols: ["http/1.1"] })
      : net.connect({ host, port });
    socket.setNoDelay(true);
    this._socket = socket;
    const lines = [
      `GET ${u.pathname}${u.search} HTTP/1.1`,
      `Host: ${u.host}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${this._key}`,
      "Sec-WebSocket-Version: 13",
    ];
    if (list.length) lines.push(`Sec-WebSocket-Protocol: ${list.join(", ")}`);
    socket.once(secure ? "secureConnect" : "connect", () => {
      socket.write(lines.join("\r\n") + "\r\n\r\n");
    });
    let head = Buffer.alloc(0);
    const onHandshake = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > MAX_HANDSHAKE) this._fail("the server's handshake response is too long");
        return;
      }
      socket.off("data", onHandshake);
      const problem = this._checkHandshake(head.subarray(0, end).toString("latin1"), list);
      if (problem) return this._fail(problem);
      this.readyState = OPEN;
      socket.on("data", (c) => this._onData(c));
      this._emit("open", new Event("open"));
      const rest = head.subarray(end + 4);
      if (rest.length && this.readyState !== CLOSED) this._onData(rest);
    };
    socket.on("data", onHandshake);
    socket.on("error", (e) => this._fail(e.message || String(e)));
    socket.on("close", () => this._finish());
  }

  get CONNECTING() { return CONNECTING; }
  get OPEN() { return OPEN; }
  get CLOSING() { return CLOSING; }
  get CLOSED() { return CLOSED; }

  /** Bytes queued in the socket, not yet written. */
  get bufferedAmount() {
    return this._socket ? this._socket.writableLength : 0;
  }

  /** @param {string | ArrayBuffer | ArrayBufferView} data */
  send(data) {
    if (this.readyState === CONNECTING) {
      throw new DOMException("WebSocket is still connecting", "InvalidStateError");
    }
    if (this.readyState !== OPEN) return;
    if (typeof data === "string") this._frame(1, Buffer.from(data, "utf8"));
    else if (data instanceof ArrayBuffer) this._frame(2, Buffer.from(data));
    else if (ArrayBuffer.isView(data)) this._frame(2, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    else throw new TypeError("WebSocket.send takes a string, an ArrayBuffer or a view of one");
  }

  /** @param {number} [code] @param {string} [reason] */
  close(code, reason = "") {
    if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)) {
      throw new DOMException("close code must be 1000 or 3000-4999", "InvalidAccessError");
    }
    const why = Buffer.from(String(reason), "utf8");
    if (why.length > 123) throw new DOMException("close reason longer than 123 bytes", "SyntaxError");
    if (this.readyState === CLOSING || this.readyState === CLOSED) return;
    if (this.readyState === CONNECTING) {
      this._fail("closed before the connection was established");
      return;
    }
    this.readyState = CLOSING;
    this._sendClose(code, why);
  }

  _emit(type, event) {
    const handler = this[`on${type}`];
    if (typeof handler === "function") {
      try { handler.call(this, event); } catch (e) { queueMicrotask(() => { throw e; }); }
    }
    this.dispatchEvent(event);
  }

  _checkHandshake(text, offered) {
    const [status, ...fields] = text.split("\r\n");
    if (!/^HTTP\/1\.1 101\b/.test(status)) return `the server did not upgrade the connection (${status.slice(0, 80)})`;
    const headers = new Map();
    for (const f of fields) {
      const i = f.indexOf(":");
      if (i > 0) headers.set(f.slice(0, i).trim().toLowerCase(), f.slice(i + 1).trim());
    }
    const accept = createHash("sha1").update(this._key + GUID).digest("base64");
    if (headers.get("upgrade")?.toLowerCase() !== "websocket") return "the server's handshake lacks Upgrade: websocket";
    if (!/\bupgrade\b/i.test(headers.get("connection") ?? "")) return "the server's handshake lacks Connection: Upgrade";
    if (headers.get("sec-websocket-accept") !== accept) return "the server's Sec-WebSocket-Accept does not match";
    if (headers.has("sec-websocket-extensions")) return "the server chose an extension that was not offered";
    const protocol = headers.get("sec-websocket-protocol");
    if (protocol !== undefined) {
      if (!offered.includes(protocol)) return "the server chose a subprotocol that was not offered";
      this.protocol = protocol;
    }
    return null;
  }

  /** Writes one frame, masked with a fresh key. */
  _frame(opcode, payload) {
    const n = payload.length;
    const len = n < 126 ? 2 : n < 65536 ? 4 : 10;
    const frame = Buffer.allocUnsafe(len + 4 + n);
    frame[0] = 0x80 | opcode;
    if (n < 126) {
      frame[1] = 0x80 | n;
    } else if (n < 65536) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(n, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeBigUInt64BE(BigInt(n), 2);
    }
    const mask = maskKey();
    mask.copy(frame, len);
    const at = len + 4;
    const m0 = mask[0], m1 = mask[1], m2 = mask[2], m3 = mask[3];
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      frame[at + i] = payload[i] ^ m0;
      frame[at + i + 1] = payload[i + 1] ^ m1;
      frame[at + i + 2] = payload[i + 2] ^ m2;
      frame[at + i + 3] = payload[i + 3] ^ m3;
    }
    for (; i < n; i++) frame[at + i] = payload[i] ^ mask[i & 3];
    // Frames written in one turn go out in one write.
    if (!this._corked) {
      this._corked = true;
      this._socket.cork();
      process.nextTick(() => {
        this._corked = false;
        this._socket.uncork();
      });
    }
    this._socket.write(frame);
  }

  _sendClose(code, why = Buffer.alloc(0)) {
    if (this._closeSent) return;
    this._closeSent = true;
    let body = Buffer.alloc(0);
    if (code !== undefined) {
      body = Buffer.alloc(2 + why.length);
      body.writeUInt16BE(code, 0);
      why.copy(body, 2);
    }
    this._frame(8, body);
    // The server answers with its close and ends the TCP connection; one that does not
    // is cut.
    this._closeTimer = setTimeout(() => this._socket.destroy(), CLOSE_WAIT_MS);
    this._closeTimer.unref?.();
  }

  /** The first `n` received bytes, consumed. */
  _take(n) {
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this._chunks[0];
      const k = Math.min(c.length, n - at);
      c.copy(out, at, 0, k);
      at += k;
      if (k === c.length) this._chunks.shift();
      else this._chunks[0] = c.subarray(k);
    }
    this._have -= n;
    return out;
  }

  /** The first `n` received bytes, left in place (n is a frame header's length). */
  _peek(n) {
    if (this._chunks[0].length >= n) return this._chunks[0];
    const all = Buffer.concat(this._chunks);
    this._chunks = [all];
    return all;
  }

  _onData(chunk) {
    this._chunks.push(chunk);
    this._have += chunk.length;
    while (this._have >= 2 && this.readyState !== CLOSED) {
      const h = this._peek(2);
      const fin = (h[0] & 0x80) !== 0;
      const opcode = h[0] & 0x0f;
      if (h[0] & 0x70) return this._protocolError("a frame has reserved bits set");
      if (h[1] & 0x80) return this._protocolError("the server masked a frame");
      let len = h[1] & 0x7f;
      const hlen = len === 126 ? 4 : len === 127 ? 10 : 2;
      if (this._have < hlen) return;
      const hb = this._peek(hlen);
      if (len === 126) len = hb.readUInt16BE(2);
      else if (len === 127) {
        const big = hb.readBigUInt64BE(2);
        if (big > BigInt(MAX_MESSAGE)) return this._protocolError("a frame is too large", 1009);
        len = Number(big);
      }
      if (opcode >= 8 && (!fin || len > 125)) return this._protocolError("a control frame is fragmented or too long");
      if (len > MAX_MESSAGE) return this._protocolError("a frame is too large", 1009);
      if (this._have < hlen + len) return;
      this._take(hlen);
      const payload = this._take(len);
      this._onFrame(fin, opcode, payload);
    }
  }

  _onFrame(fin, opcode, payload) {
    if (opcode === 9) {
      if (this.readyState === OPEN) this._frame(10, payload);
      return;
    }
    if (opcode === 10) return;
    if (opcode === 8) {
      if (payload.length >= 2) {
        this._closeCode = payload.readUInt16BE(0);
        this._closeReason = payload.subarray(2).toString("utf8");
      } else {
        this._closeCode = 1005;
      }
      this._clean = true;
      if (this.readyState === OPEN) this.readyState = CLOSING;
      this._sendClose(payload.length >= 2 ? this._closeCode : undefined);
      this._socket.end();
      return;
    }
    if (opcode === 0) {
      if (!this._fragments) return this._protocolError("a continuation frame without a message");
    } else if (opcode === 1 || opcode === 2) {
      if (this._fragments) return this._protocolError("a new message inside a fragmented one");
      this._fragments = [];
      this._fragmentType = opcode;
      this._fragmentSize = 0;
    } else {
      return this._protocolError(`unknown opcode ${opcode}`);
    }
    this._fragments.push(payload);
    this._fragmentSize += payload.length;
    if (this._fragmentSize > MAX_MESSAGE) return this._protocolError("a message is too large", 1009);
    if (!fin) return;
    const data = this._fragments.length === 1 ? this._fragments[0] : Buffer.concat(this._fragments);
    const type = this._fragmentType;
    this._fragments = null;
    if (this.readyState !== OPEN) return;
    let value;
    if (type === 1) {
      try {
        value = new TextDecoder("utf-8", { fatal: true }).decode(data);
      } catch {
        return this._protocolError("a text message is not UTF-8", 1007);
      }
    } else if (this.binaryType === "arraybuffer") {
      value = data.buffer.slice(data.byteOffset, data.byteOffset + data.length);
    } else {
      value = new Blob([data]);
    }
    this._emit("message", new MessageEvent("message", { data: value, origin: new URL(this.url).origin }));
  }

  _protocolError(message, code = 1002) {
    if (this.readyState === OPEN) {
      this.readyState = CLOSING;
      this._sendClose(code);
    }
    this._fail(message);
  }

  /** Fails the connection: an error event, then the close event once the socket is gone. */
  _fail(message) {
    if (this._failed || this.readyState === CLOSED) return;
    this._failed = true;
    if (!this._clean) {
      const event = new Event("error");
      event.message = message;
      event.error = new Error(message);
      this._emit("error", event);
    }
    this._socket.destroy();
  }

  _finish() {
    if (this.readyState === CLOSED) return;
    clearTimeout(this._closeTimer);
    this.readyState = CLOSED;
    const event = new Event("close");
    event.code = this._clean ? this._closeCode : 1006;
    event.reason = this._clean ? this._closeReason : "";
    event.wasClean = this._clean;
    this._emit("close", event);
  }
}
