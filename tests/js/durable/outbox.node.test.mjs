// tributary/durable's journal in Node (issue 12), with an injectable store (`storage`: a
// store object) whose writes commit when the test says, or are lost when the "page"
// crashes; Web Locks and localStorage are small fakes; the records go to a real
// nats-server, read back with the `nats` client.
//
// The write-ahead rule is checked where it matters, on the wire: a WebSocket that, for
// every Nats-Msg-Id the sink sends, asks the store whether the row holding that id is
// committed at that moment (a control shows the check fails for a plain sink). Then pages
// crash (no pagehide: pending writes lost, the client gone) or are left (pagehide, then
// the crash) at many instants, and the next page's replay leaves each record in the
// stream at most once (crash) or exactly once (pagehide); replays crash too.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { Tributary } from "../../../pkg/node.js";
import { openDurable } from "../../../pkg/durable.js";
import { startNats } from "../sink/harness.mjs";
import { readMessages } from "../demo/helpers.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- fakes ------------------------------------------------------------------------------

/** localStorage: synchronous, survives the "page" (it is the origin's). */
class FakeStorage {
  #m = new Map();
  get length() { return this.#m.size; }
  key(i) { return [...this.#m.keys()][i] ?? null; }
  getItem(k) { return this.#m.has(k) ? this.#m.get(k) : null; }
  setItem(k, v) { this.#m.set(k, String(v)); }
  removeItem(k) { this.#m.delete(k); }
  clear() { this.#m.clear(); }
}

/** The origin's committed outbox data: metas and rows, shared by every page's store. */
class Disk {
  metas = new Map();
  rows = new Map(); // generation -> Map("p/o" -> row)
  has(g, p, o) { return this.rows.get(g)?.has(`${p}/${o}`) ?? false; }
  apply(journal, { meta = false, puts = [], deletes = [], removes = [], foreign = [] }) {
    const g = journal.generation;
    if (meta) this.metas.set(g, structuredClone(journal.meta));
    if (!this.rows.has(g)) this.rows.set(g, new Map());
    const rows = this.rows.get(g);
    for (const [p, o] of removes) rows.delete(`${p}/${o}`);
    for (const [fg, p, o] of foreign) this.rows.get(fg)?.delete(`${p}/${o}`);
    for (const r of puts) rows.set(`${r.partition}/${r.offset}`, structuredClone({ generation: g, ...r }));
    for (const [p, below] of deletes) {
      for (const [k, r] of rows) if (r.partition === p && r.offset < below) rows.delete(k);
    }
  }
}

/**
 * One page's view of the disk: each write commits after `delay()` ms (or when `release()`
 * is called, while `held`), all or nothing; `crash()` loses the writes not committed.
 */
class PageStore {
  kind = "test";
  pending = [];
  dead = false;
  constructor(disk, { delay = () => Math.random() * 6, held = false } = {}) {
    this.disk = disk;
    this.delay = delay;
    this.held = held;
  }
  write(journal, change) {
    if (this.dead) return new Promise(() => {});
    const snapshot = { journal: { generation: journal.generation, meta: structuredClone(journal.meta) }, change: structuredClone(change) };
    return new Promise((resolve) => {
      const w = { snapshot, resolve };
      this.pending.push(w);
      if (!this.held) setTimeout(() => this.#commit(w), this.delay());
    });
  }
  #commit(w) {
    if (this.dead || !this.pending.includes(w)) return;
    // Commits in order (like IndexedDB's readwrite transactions on the same stores).
    while (this.pending.length) {
      const first = this.pending.shift();
      this.disk.apply(first.snapshot.journal, first.snapshot.change);
      first.resolve();
      if (first === w) break;
    }
  }
  release() {
    this.held = false;
    for (const w of [...this.pending]) this.#commit(w);
  }
  crash() { this.dead = true; this.pending = []; }
  async outboxes() { return [...this.disk.metas.values()].map((m) => structuredClone(m)); }
  async records(g) { return [...(this.disk.rows.get(g)?.values() ?? [])].map((r) => structuredClone(r)); }
  async drop(g) {
    if (this.dead) return new Promise(() => {});
    this.disk.metas.delete(g);
    this.disk.rows.delete(g);
  }
  close() {}
}

/** Web Locks of one origin; each page asks through its own view, released when it dies. */
class Locks {
  held = new Map(); // name -> page
  view(page) {
    return {
      request: async (name, opts, cb) => {
        const f = typeof opts === "function" ? opts : cb;
        if (this.held.has(name)) {
          if (opts?.ifAvailable) return f(null);
          throw new Error(`test lock ${name} is held`);
        }
        this.held.set(name, page);
        try {
          return await f({ name });
        } finally {
          if (this.held.get(name) === page) this.held.delete(name);
        }
      },
    };
  }
  releaseAll(page) { for (const [k, p] of this.held) if (p === page) this.held.delete(k); }
}

// ---- pages ------------------------------------------------------------------------------

let nats;
let disk;
let locks;
let published; // Nats-Msg-Id -> whether its row was committed when it went out
before(async () => {
  nats = await startNats({ name: "durablenode" });
  globalThis.localStorage = new FakeStorage();
});
after(async () => {
  delete globalThis.localStorage;
  await nats?.stop();
});

/** A WebSocket that checks, for each message id sent, that the store holds its row. */
class CheckedWebSocket extends WebSocket {
  send(data, ...rest) {
    const text = Buffer.from(data).toString("latin1");
    for (const m of text.matchAll(/Nats-Msg-Id: ([^\r]+)\r\n/g)) {
      const parts = m[1].split("-");
      const o = Number(parts.pop());
      const p = Number(parts.pop());
      if (!published.has(m[1])) published.set(m[1], disk.has(parts.join("-"), p, o));
    }
    return super.send(data, ...rest);
  }
}

let pages = 0;
/** A "page": a client, a durable topic on the shared disk, its window (events, locks). */
async function openPage(topic, storeOptions) {
  const id = ++pages;
  const client = new Tributary();
  client.createTopic(topic, { partitions: 3 });
  const store = new PageStore(disk, storeOptions);
  const win = new EventTarget();
  win.navigator = { onLine: true, locks: locks.view(id) };
  const errors = [];
  const durable = await openDurable(client, topic, {
    server: nats.url, WebSocket: CheckedWebSocket, provision: true, duplicateWindowMs: 600_000,
    storage: store, name: "node", window: win, scanIntervalMs: 100_000, onError: (e) => errors.push(e),
  });
  return { id, client, store, win, durable, errors, producer: durable.producer() };
}

/** The page dies: writes not committed are lost, its locks go, its connections close. */
async function crash(page) {
  page.store.crash();
  locks.releaseAll(page.id);
  clearInterval(page.durable._timer);
  await page.client.close();
}

/** The page is left: `pagehide` (the spill), then it dies. */
async function leave(page) {
  const e = new Event("pagehide");
  e.persisted = false;
  page.win.dispatchEvent(e);
  await crash(page);
}

/** Waits until `page` replayed every other outbox and delivered everything. */
async function settle(page, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    await page.durable.scan();
    const s = page.durable.stats();
    const others = [...disk.metas.keys()].filter((g) => g !== page.durable.generation);
    if (!others.length && s.replaying === 0 && s.pending === 0 && s.state === "connected" &&
      page.durable.sink.stats().inFlight === 0) return;
    if (Date.now() > deadline) throw new Error(`not settled: ${JSON.stringify({ others, s })}`);
    await sleep(50);
  }
}

/** The stream's values ([] when no page got far enough to create it). */
async function streamValues(stream) {
  try {
    return (await readMessages(nats.port, stream)).map((m) => m.data);
  } catch (e) {
    if (e?.code === "404") return [];
    throw e;
  }
}

function reset() {
  disk = new Disk();
  locks = new Locks();
  published = new Map();
  globalThis.localStorage.clear();
}

// ---- tests ------------------------------------------------------------------------------

test("write-ahead: the sink publishes no id whose row is not committed (and the check catches a plain sink)", { timeout: 60_000 }, async () => {
  reset();
  const page = await openPage("wa");
  await sleep(20); // the writes of opening
  page.store.held = true;
  const sends = Array.from({ length: 200 }, (_, i) => page.producer.send(`k${i % 7}`, `wa:${i}`));
  await sleep(300);
  assert.equal(page.durable.sink.stats().published, 0, "nothing published while no row is committed");
  assert.equal(page.durable.stats().unassigned, 200, "all 200 wait outside the log");
  page.store.release();
  const mds = await Promise.all(sends);
  await page.durable.flush();
  assert.equal(published.size, 200);
  assert.deepEqual([...published.values()].filter((ok) => !ok), [], "an id went out before its row was committed");
  for (const md of mds) assert.ok(published.has(`${page.durable.generation}-${md.partition}-${md.offset}`));
  const values = (await streamValues("wa")).filter((v) => v.startsWith("wa:"));
  assert.equal(values.length, 200);
  assert.equal(new Set(values).size, 200);
  const s = page.durable.stats();
  assert.equal(s.pending, 0);
  await page.durable.close();
  await page.client.close();

  // The control: the same check on a plain sink (no outbox) sees ids whose rows do not exist.
  published = new Map();
  const client = new Tributary();
  client.createTopic("wa", { partitions: 3 });
  client.connect("wa", { server: nats.url, WebSocket: CheckedWebSocket, msgIdPrefix: "plain" });
  const producer = client.topicProducer("wa");
  await Promise.all(Array.from({ length: 20 }, (_, i) => producer.send(null, `plain:${i}`)));
  await client.flush();
  assert.ok([...published.values()].filter((ok) => !ok).length === 20, "the check fails without an outbox");
  await client.close();
  console.log(`write-ahead: 200 records held outside the log until their rows committed, then published; ${published.size} ids of a plain sink caught by the same check`);
});

test("a page that crashes (no pagehide) at any instant: the next page's replay stores each record at most once, and every committed one", { timeout: 120_000 }, async () => {
  const lines = [];
  for (const cut of [0, 1, 2, 4, 8, 16, 32, 64, 128]) {
    reset();
    const topic = `crash${cut}`;
    const a = await openPage(topic);
    for (let i = 0; i < 400; i++) a.producer.send(`k${i % 5}`, `${topic}:${i}`).catch(() => {});
    await sleep(cut);
    const committed = new Set();
    for (const rows of disk.rows.values()) for (const r of rows.values()) if (r.value) committed.add(String(r.value));
    await crash(a);
    const b = await openPage(topic);
    await settle(b);
    const values = (await streamValues(topic)).filter((v) => v.startsWith(`${topic}:`));
    const seen = new Set();
    for (const v of values) {
      assert.ok(!seen.has(v), `${v} is in the stream twice`);
      seen.add(v);
    }
    for (const v of committed) assert.ok(seen.has(v), `${v}: its row was committed, but it is not in the stream`);
    assert.deepEqual([...published.values()].filter((ok) => !ok), [], "an id went out before its row was committed");
    lines.push(`${cut} ms: ${values.length}/400 stored once (${committed.size} committed at the crash), B replayed ${b.durable.stats().replayedRecords}`);
    await b.durable.close();
    await b.client.close();
  }
  console.log(`crash without pagehide:\n  ${lines.join("\n  ")}`);
});

test("a page left (pagehide, then gone) at any instant, and replays that crash too: every record exactly once", { timeout: 180_000 }, async () => {
  const lines = [];
  for (const cut of [0, 1, 3, 10, 30, 100]) {
    for (const replayCut of [null, 0, 2, 8, 30]) {
      reset();
      const topic = `left${cut}r${replayCut ?? "n"}`;
      const a = await openPage(topic);
      for (let i = 0; i < 300; i++) a.producer.send(`k${i % 5}`, `${topic}:${i}`).catch(() => {});
      await sleep(cut);
      // Sent while the page goes away: after pagehide, in the same turn.
      const e = new Event("pagehide");
      e.persisted = false;
      a.win.dispatchEvent(e);
      for (let i = 300; i < 320; i++) a.producer.send(`k${i % 5}`, `${topic}:${i}`).catch(() => {});
      await crash(a);
      let replayed = "";
      if (replayCut !== null) {
        // B starts replaying A's outbox and crashes `replayCut` ms into it (no pagehide).
        const b = await openPage(topic);
        await sleep(replayCut);
        const s = b.durable.stats();
        replayed = `B ${s.replayAcked}/${s.replayedRecords}+${s.replayFresh} then crashed; `;
        await crash(b);
      }
      const c = await openPage(topic);
      await settle(c);
      const values = (await streamValues(topic)).filter((v) => v.startsWith(`${topic}:`));
      assert.equal(values.length, 320, `${topic}: ${values.length} records in the stream`);
      assert.equal(new Set(values).size, 320, `${topic}: a record twice`);
      assert.deepEqual([...published.values()].filter((ok) => !ok), [], "an id went out before its row was committed");
      const d = c.durable.stats();
      lines.push(`${topic}: ${replayed}C ${d.replayedRecords} with ids (${d.replayDuplicates} already stored) + ${d.replayFresh} without`);
      await c.durable.close();
      await c.client.close();
    }
  }
  console.log(`pagehide then gone, replays crashed:\n  ${lines.join("\n  ")}`);
});

test("a spill that reaches localStorage after the next page replayed the outbox is still delivered, once", { timeout: 60_000 }, async () => {
  reset();
  const topic = "late";
  const a = await openPage(topic);
  for (let i = 0; i < 100; i++) a.producer.send(`k${i % 5}`, `${topic}:${i}`).catch(() => {});
  await sleep(30);
  const e = new Event("pagehide");
  e.persisted = false;
  a.win.dispatchEvent(e);
  for (let i = 100; i < 130; i++) a.producer.send(`k${i % 5}`, `${topic}:${i}`).catch(() => {});
  await crash(a);
  // The sends after pagehide reach localStorage late: held back until B is done.
  const late = [];
  for (let i = 0; i < localStorage.length; i++) {
    const k = localStorage.key(i);
    if (k.includes("~spill:") && k.includes("+")) late.push([k, localStorage.getItem(k)]);
  }
  assert.equal(late.length, 30, "one key per send after pagehide");
  for (const [k] of late) localStorage.removeItem(k);
  const b = await openPage(topic);
  await settle(b);
  assert.equal((await streamValues(topic)).length, 100);
  for (const [k, v] of late) localStorage.setItem(k, v);
  await b.durable.scan();
  await settle(b);
  const values = await streamValues(topic);
  assert.equal(values.length, 130, `${values.length} records in the stream`);
  assert.equal(new Set(values).size, 130, "a record twice");
  const left = [];
  for (let i = 0; i < localStorage.length; i++) left.push(localStorage.key(i));
  assert.deepEqual(left.filter((k) => k.includes("~spill:")), [], "spill keys left");
  await b.durable.close();
  await b.client.close();
  console.log("late spill: 30 sends after pagehide reached localStorage after the replay; the next scan delivered them, each once");
});

