/**
 * The wire format of a request to `tributary/ingest` (shared by the handler and the page
 * side, with the few helpers they share; no imports, so it loads anywhere).
 *
 * `POST` with `Content-Type: application/vnd.tributary.batches` and this body (integers
 * big-endian):
 *
 * ```text
 * "TRB" 0x01            magic and version (4 bytes)
 * u16 + bytes           the token (ASCII) that grants the prefix (see ingest.js)
 * u16 + bytes           the topic (UTF-8)
 * u8  + bytes           the message-id prefix (ASCII: A-Z a-z 0-9 _ -)
 * then, to the end of the body, one or more sections:
 *   u32                 the partition
 *   record batch        one Fluvio record batch as the core encodes it (base offset i64,
 *                       batch length i32, then that many bytes; CRC-32C checked), whose
 *                       records keep the offsets they had in the page's log
 * ```
 *
 * Everything travels in the body because `navigator.sendBeacon` can set no header but the
 * content type.
 */

/** A token's grant: 1 to 40 of A-Z a-z 0-9 _ (no "-": no two grants share a message id). */
export const GRANT = /^[A-Za-z0-9_]{1,40}$/;

/**
 * The message-id prefix a token (`<grant>.<expiresAtMs>.<signature>`) grants: what the
 * page uses as `msgIdPrefix`. Unverified (the ingest verifies); null if it is not a token.
 */
export function tokenPrefix(token) {
  const parts = typeof token === "string" ? token.split(".") : [];
  return parts.length === 3 && GRANT.test(parts[0]) ? parts[0] : null;
}

/**
 * Checks `this` in every method and getter of class `C` (not the constructor, not the
 * `_` internals; shared by durable.js and ingest-client.js): called on an object its
 * constructor did not put in `made` (`DurableProducer.prototype.send.call({})`), a method
 * throws `error()`, or, when it returns a promise (`promises`), rejects with it.
 * @param {Function} C
 * @param {WeakSet<object>} made
 * @param {string[]} promises
 * @param {() => Error} error
 */
export function checkReceivers(C, made, promises, error) {
  const P = C.prototype;
  for (const k of Object.getOwnPropertyNames(P)) {
    const d = /** @type {PropertyDescriptor} */ (Object.getOwnPropertyDescriptor(P, k));
    const a = d.get ? "get" : "value", f = d[a];
    if (k === "constructor" || k.startsWith("_") || typeof f !== "function") continue;
    d[a] = function (/** @type {any[]} */ ...args) {
      // @ts-ignore: `this` is whatever the caller passed
      if (made.has(this)) return f.apply(this, args);
      const e = error();
      if (promises.includes(k)) return Promise.reject(e);
      throw e;
    };
    Object.defineProperty(P, k, d);
  }
}

/** The partition count of `topic` in `client` (shared by durable.js and ingest-client.js). */
export function partitionCount(client, topic) {
  let n = 0;
  for (;;) {
    try {
      client.partitionInfo(topic, n);
      n++;
    } catch (e) {
      if (e?.code === "PARTITION_OUT_OF_RANGE" || n > 0) return n;
      throw e;
    }
  }
}

/** The content type of a request's body. */
export const CONTENT_TYPE = "application/vnd.tributary.batches";

const MAGIC = [0x54, 0x52, 0x42, 0x01]; // "TRB" and version 1
const PREAMBLE = 12; // a batch's base offset and length
const utf8 = new TextEncoder();

/**
 * Encodes one request: `{ token, topic, prefix, sections: [{ partition, batch }] }`, each
 * `batch` the bytes of one record batch (`Tributary.encodeBatch`). Returns a Uint8Array.
 */
export function encodeRequest({ token, topic, prefix, sections }) {
  const t = ascii(token, "token", 0xffff);
  const name = utf8.encode(topic);
  const p = ascii(prefix, "prefix", 0xff);
  if (name.length > 0xffff) throw new RangeError("topic longer than 65535 bytes");
  let size = 4 + 2 + t.length + 2 + name.length + 1 + p.length;
  for (const s of sections) size += 4 + s.batch.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  let at = 4;
  const put = (bytes, width) => {
    if (width === 2) view.setUint16(at, bytes.length);
    else view.setUint8(at, bytes.length);
    out.set(bytes, at + width);
    at += width + bytes.length;
  };
  put(t, 2);
  put(name, 2);
  put(p, 1);
  for (const { partition, batch } of sections) {
    view.setUint32(at, partition);
    out.set(batch, at + 4);
    at += 4 + batch.length;
  }
  return out;
}

/** The bytes one section of `batch` (a record batch) adds to a request. */
export const sectionSize = (batch) => 4 + batch.length;

/** The bytes of a request's header for `token`, `topic`, `prefix` (before any section). */
export function headerSize(token, topic, prefix) {
  return 4 + 2 + token.length + 2 + utf8.encode(topic).length + 1 + prefix.length;
}

function ascii(s, what, max) {
  if (typeof s !== "string" || s.length > max || !/^[\x21-\x7e]*$/.test(s)) {
    throw new TypeError(`${what} must be printable ASCII of at most ${max} characters`);
  }
  return utf8.encode(s);
}

/**
 * Decodes a request's body: `{ token, topic, prefix, sections: [{ partition, batch, at }] }`
 * where `batch` is a view of one record batch's bytes, its length as its preamble says.
 * Throws `{ code, message }` objects: BAD_ENVELOPE (not this format, or it ends inside
 * its header), BATCH_TRUNCATED (the body ends inside a section).
 */
export function decodeRequest(body) {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const bad = (message) => ({ code: "BAD_ENVELOPE", message });
  if (body.length < 4 || MAGIC.some((b, i) => body[i] !== b)) {
    throw bad(`not a tributary ingest request (it starts with "TRB" and version 1)`);
  }
  let at = 4;
  const take = (width, what) => {
    if (at + width > body.length) throw bad(`the body ends inside the ${what}`);
    const n = width === 2 ? view.getUint16(at) : view.getUint8(at);
    if (at + width + n > body.length) throw bad(`the body ends inside the ${what}`);
    const bytes = body.subarray(at + width, at + width + n);
    at += width + n;
    return bytes;
  };
  const token = latin1(take(2, "token"));
  let topic;
  try {
    topic = new TextDecoder("utf-8", { fatal: true }).decode(take(2, "topic"));
  } catch (e) {
    if (e?.code) throw e;
    throw bad("the topic is not UTF-8");
  }
  const prefix = latin1(take(1, "message-id prefix"));
  const sections = [];
  while (at < body.length) {
    if (at + 4 + PREAMBLE > body.length) {
      throw { code: "BATCH_TRUNCATED", message: `section ${sections.length + 1} ends inside its partition or batch preamble` };
    }
    const partition = view.getUint32(at);
    const length = view.getInt32(at + 4 + 8);
    const end = at + 4 + PREAMBLE + Math.max(length, 0);
    if (end > body.length) {
      throw { code: "BATCH_TRUNCATED", message: `section ${sections.length + 1}'s batch needs ${end - body.length} more bytes than the body has` };
    }
    sections.push({ partition, batch: body.subarray(at + 4, end), at });
    at = end;
  }
  return { token, topic, prefix, sections };
}

const latin1 = (bytes) => String.fromCharCode(...bytes);
