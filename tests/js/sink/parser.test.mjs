// Properties of the sink's NATS parser (js/nats.js `Parser`), with fast-check: any split
// of the bytes gives the same operations; bytes that are not NATS (or a message over the
// client's cap, whatever INFO announced) end in one BAD, never a throw; and the parser
// takes nothing after it. What was the Rust codec's fuzz target `nats_parser`.
// Run: node --test tests/js/sink/parser.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Parser, MAX_INBOUND, decodeSeed, publicNkey, b64url } from "../../../js/nats.js";

const enc = new TextEncoder();
const token = fc.stringMatching(/^[A-Za-z0-9_$-]{1,12}$/);
const subject = fc.array(token, { minLength: 1, maxLength: 4 }).map((t) => t.join("."));
const payload = fc.uint8Array({ maxLength: 300 });

/** One server operation as bytes, and what the parser must make of it. */
const op = fc.oneof(
  fc.constant(["PING\r\n", { op: "PING" }]),
  fc.constant(["PONG\r\n", { op: "PONG" }]),
  fc.constant(["+OK\r\n", { op: "OK" }]),
  fc.string({ maxLength: 40 }).filter((s) => !/[\r\n']/.test(s)).map((t) => [`-ERR '${t}'\r\n`, { op: "ERR", text: t.trim() }]),
  fc.record({ max_payload: fc.nat(), headers: fc.boolean(), nonce: token }).map((r) => ({ ...r })).map((info) => [`INFO ${JSON.stringify(info)}\r\n`, { op: "INFO", info }]),
  fc.tuple(subject, fc.option(subject, { nil: "" }), payload).map(([s, reply, data]) => [
    concat(enc.encode(`MSG ${s} 1 ${reply ? reply + " " : ""}${data.length}\r\n`), data, enc.encode("\r\n")),
    { op: "MSG", subject: s, reply, status: 0, data },
  ]),
  fc.tuple(subject, fc.constantFrom(0, 503, 408), payload).map(([s, status, data]) => {
    const head = enc.encode(`NATS/1.0${status ? " " + status : ""}\r\n\r\n`);
    return [
      concat(enc.encode(`HMSG ${s} 1 _INBOX.x.0.1 ${head.length} ${head.length + data.length}\r\n`), head, data, enc.encode("\r\n")),
      { op: "MSG", subject: s, reply: "_INBOX.x.0.1", status, data, headers: new TextDecoder("latin1").decode(head) },
    ];
  }),
);

function concat(...parts) {
  const bytes = parts.map((p) => (typeof p === "string" ? enc.encode(p) : p));
  const out = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of bytes) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** Feeds `bytes` cut at `cuts` (sorted positions); returns every operation. */
function feed(bytes, cuts) {
  const p = new Parser();
  const out = [];
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    out.push(...p.push(bytes.subarray(at, c)));
    at = c;
  }
  return out;
}

const cutsOf = (n) => fc.uniqueArray(fc.nat({ max: Math.max(0, n) }), { maxLength: 12 }).map((c) => c.sort((a, b) => a - b));

test("any split of the bytes gives the same operations as the whole", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 12 }).chain((ops) => {
      const bytes = concat(...ops.map(([b]) => b));
      return fc.tuple(fc.constant(ops), fc.constant(bytes), cutsOf(bytes.length));
    }), ([ops, bytes, cuts]) => {
      const whole = feed(bytes, []);
      assert.deepEqual(whole, ops.map(([, m]) => m));
      assert.deepEqual(feed(bytes, cuts), whole);
      // Byte by byte, too.
      assert.deepEqual(feed(bytes, Array.from({ length: bytes.length }, (_, i) => i)), whole);
    }),
    { numRuns: 300 },
  );
});

test("garbage is one BAD (SINK_PROTOCOL for the sink), never a throw, and nothing after it", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 4 }), fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.array(op, { maxLength: 3 }), (before, junk, after) => {
      const bytes = concat(...before.map(([b]) => b), junk, ...after.map(([b]) => b), "\r\n");
      for (const cuts of [[], [1, 7, 19], Array.from({ length: Math.min(bytes.length, 400) }, (_, i) => i)]) {
        let out;
        assert.doesNotThrow(() => (out = feed(bytes, cuts)));
        const bad = out.findIndex((m) => m.op === "BAD");
        // Junk may happen to be valid NATS; if not, one BAD ends the stream.
        if (bad >= 0) assert.equal(bad, out.length - 1);
        assert.deepEqual(feed(bytes, cuts), out, "the same for any split");
      }
    }),
    { numRuns: 300 },
  );
});

test("a message larger than the client's cap is BAD before its body arrives, whatever the server announced", () => {
  for (const size of [MAX_INBOUND + 1, 2 ** 31, 2 ** 40]) {
    const p = new Parser();
    const out = [...p.push(enc.encode(`INFO {"max_payload":${2 ** 40}}\r\n`)), ...p.push(enc.encode(`MSG a.b 1 ${size}\r\n`))];
    assert.deepEqual(out.map((m) => m.op), ["INFO", "BAD"]);
    assert.deepEqual(p.push(new Uint8Array(1 << 20)), [], "nothing taken after BAD");
  }
  // A control line that never ends is cut off too.
  const p = new Parser();
  assert.deepEqual(p.push(new Uint8Array(8192).fill(65)).map((m) => m.op), ["BAD"]);
});

test("nkeys: the documented user seed gives its public key through WebCrypto; checksums and kinds are checked", async () => {
  const seed = decodeSeed("SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY");
  assert.ok(seed && seed.length === 32);
  const pkcs8 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20, ...seed]);
  const key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
  const { x } = await crypto.subtle.exportKey("jwk", key);
  const pub = Uint8Array.from(atob(x.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  assert.equal(publicNkey(pub), "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4");
  assert.equal(decodeSeed("SUAMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZWCAOQGGTLVKVI"), null, "bad checksum");
  assert.equal(decodeSeed("UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"), null, "a public key is no seed");
  assert.equal(decodeSeed("su"), null);
  assert.equal(b64url(Uint8Array.of(0, 1)), "AAE");
});

test("a message whose body comes in 1-byte frames is gathered, not joined again at each frame: bytes copied in proportion to its size", () => {
  // What the parser copies (Uint8Array set and slice), counted: a hostile server trickling
  // a 64 KiB body a byte a frame made it copy ~2 GiB (the pending bytes joined again at
  // every frame), the page's event loop blocked for seconds per message.
  const body = new Uint8Array(MAX_INBOUND).fill(120);
  const bytes = concat(`MSG a.b 1 ${body.length}\r\n`, body, "\r\nPING\r\n");
  const { set, slice } = Uint8Array.prototype;
  let copied = 0;
  Uint8Array.prototype.set = function (a, at) {
    copied += a.length;
    return set.call(this, a, at);
  };
  Uint8Array.prototype.slice = function (...args) {
    const r = slice.apply(this, args);
    copied += r.length;
    return r;
  };
  let out;
  try {
    for (const step of [1, 7]) {
      copied = 0;
      out = feed(bytes, Array.from({ length: Math.ceil(bytes.length / step) - 1 }, (_, i) => (i + 1) * step));
      assert.deepEqual(out.map((m) => m.op), ["MSG", "PING"]);
      assert.ok(copied < 4 * bytes.length, `${copied} bytes copied for a ${bytes.length}-byte message in ${step}-byte frames`);
    }
  } finally {
    Uint8Array.prototype.set = set;
    Uint8Array.prototype.slice = slice;
  }
  assert.deepEqual(out[0].data, body);
});

test("sizes, verbs and statuses: signs, hex, 11 digits and a header over its total are BAD; exactly MAX_INBOUND is taken; verbs in any case; a 503 is a status", () => {
  const ops = (text) => feed(enc.encode(text), []).map((m) => (m.op === "MSG" ? [m.op, m.reply, m.status, m.data.length] : m.op === "ERR" ? [m.op, m.text] : [m.op]));
  for (const size of ["+2", "-2", "0x2", "2e0", "00000000002", " "]) assert.deepEqual(ops(`MSG a 1 ${size}\r\nhi\r\n`), [["BAD"]], size);
  assert.deepEqual(ops("HMSG a 1 20 12\r\nNATS/1.0\r\n\r\n\r\n"), [["BAD"]], "header size over the total");
  assert.deepEqual(ops("HMSG a 1 6 6\r\nNATS/2\r\n\r\n"), [["BAD"]], "no NATS/1.0 line");
  assert.deepEqual(ops("MSG a 1 2 3 4\r\nhi\r\n"), [["BAD"]], "5 arguments");
  assert.deepEqual(ops(`MSG a 1 ${MAX_INBOUND}\r\n${"x".repeat(MAX_INBOUND)}\r\n`), [["MSG", "", 0, MAX_INBOUND]]);
  assert.deepEqual(ops("msg a 1 r  2\r\nhi\r\nping\r\npong\r\n+ok\r\n"), [["MSG", "r", 0, 2], ["PING"], ["PONG"], ["OK"]]);
  assert.deepEqual(ops("HMSG _INBOX.x.0.1 1 _INBOX.x.0.1 16 16\r\nNATS/1.0 503\r\n\r\n\r\nHMSG a 1 30 31\r\nNATS/1.0 503 No Responders\r\n\r\nx\r\n"),
    [["MSG", "_INBOX.x.0.1", 503, 0], ["MSG", "", 503, 1]]);
  assert.deepEqual(ops("-ERR 'Permissions Violation for Subscription to \"_INBOX.x.>\"'\r\n-err Unknown Protocol Operation\r\n-ERR\r\n"),
    [["ERR", 'Permissions Violation for Subscription to "_INBOX.x.>"'], ["ERR", "Unknown Protocol Operation"], ["ERR", ""]]);
  for (const json of ["5", "[]", "null", '"x"', ""]) assert.deepEqual(ops(`INFO ${json}\r\n`), [["BAD"]], json);
  // A frame that is a view into a larger buffer: only its own bytes.
  const big = enc.encode("xxPING\r\nyy");
  assert.deepEqual(new Parser().push(big.subarray(2, 8)), [{ op: "PING" }]);
});
