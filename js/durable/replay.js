// @ts-check
// tributary/durable: replays of older generations' outboxes, in steps each safe if the
// page dies at any point: claim (the generation's Web Lock), normalize (the spill merged
// into the store in one transaction), send (the records with an id, under that
// generation's prefix, from a client of their own), move (the records without an id, into
// this generation, each in the write of its new id), drop. See durable.js.
import { DurableError } from "./error.js";
import { Journal, UNASSIGNED, mergeSpill } from "./journal.js";
import { readSpill, removeKeys, spilledGenerations } from "./store.js";
import { whileLocked } from "./lifecycle.js";

/** Without Web Locks, a generation is gone once its heartbeat is this old. */
export const STALE_MS = 60_000;

/**
 * Looks for outboxes of pages that are gone and replays them (`d`: the DurableTopic).
 * @param {any} d
 */
export async function scanOutboxes(d) {
  const metas = await d._store.outboxes();
  // A spill without an outbox (it reached localStorage after its outbox was replayed and
  // dropped): replayed like one, its outbox made from it.
  const known = new Set(metas.map((m) => m.generation));
  if (d._store.kind !== "none") {
    for (const g of spilledGenerations(d.name)) {
      if (known.has(g) || g === d.generation) continue;
      const spill = readSpill(d.name, g);
      if (spill && spill.topic === d.topic) {
        metas.push({ generation: g, topic: d.topic, partitions: d._partitions, created: 0, lastSeen: spill.lastSeen, closed: spill.closed });
      }
    }
  }
  for (const meta of metas) {
    const g = meta.generation;
    if (g === d.generation || meta.topic !== d.topic || d._replays.has(g) || d._closed) continue;
    if (d._locks) {
      await whileLocked(d._locks, d._lockName(g), () => replay(d, meta), // held until the replay ends
        (e) => d._report(new DurableError("REPLAY_FAILED", `lock of ${g}: ${e?.message ?? e}`, e)));
    } else {
      const spill = d._store.kind !== "none" ? readSpill(d.name, g) : null;
      if (meta.closed || spill?.closed || Date.now() - Math.max(meta.lastSeen ?? 0, spill?.lastSeen ?? 0) > STALE_MS) {
        replay(d, meta);
      }
    }
  }
}

/**
 * Step one of a replay (claimed: the generation's lock is ours): the spill goes into
 * the store in one transaction that records the spill keys imported (`importedKeys`), and rows without an id whose
 * record has one (the same `seq`) are deleted with it. Returns the rows to replay.
 */
async function normalize(d, meta) {
  const g = meta.generation;
  const stored = await d._store.records(g);
  // The spill's keys not imported yet (a key imported before a crash may still be there).
  const imported = meta.importedKeys ?? [];
  const spill = d._store.kind !== "none" ? readSpill(d.name, g, imported) : null;
  const { rows, puts, removes } = mergeSpill(stored, spill?.records ?? []);
  if (spill || removes.length) {
    const journal = new Journal(g, { ...meta, importedKeys: [...imported, ...(spill?.keys ?? [])],
      closed: meta.closed || spill?.closed === true });
    if (d._store.kind === "localstorage") {
      for (const r of rows) {
        if (r.partition === UNASSIGNED) journal.fresh.set(r.offset, { seq: r.offset, key: r.key, value: r.value, options: r.options });
        else journal.add({ ...r, saved: true });
      }
    }
    const ok = await d._write({ meta: true, puts, removes }, journal);
    if (!ok) throw new Error("the spill could not be written to the outbox");
    if (spill) removeKeys(spill.keys);
  }
  removeKeys(imported);
  return rows;
}

/** Sends generation `meta`'s outbox again, with its message ids, then forgets it. */
async function replay(d, meta) {
  const g = meta.generation;
  const state = { sinks: new Set(), clients: new Set() };
  d._replays.set(g, state);
  let event = null;
  try {
    const rows = await normalize(d, meta);
    const fresh = rows.filter((r) => r.partition === UNASSIGNED);
    const byPartition = new Map();
    for (const r of rows) {
      if (r.partition === UNASSIGNED) continue;
      if (!byPartition.has(r.partition)) byPartition.set(r.partition, new Map());
      byPartition.get(r.partition).set(r.offset, r); // de-duplicated by offset
    }
    const total = [...byPartition.values()].reduce((n, m) => n + m.size, 0);
    if (total + fresh.length === 0) {
      await d._store.drop(g);
      return;
    }
    const now = Date.now();
    let late = 0;
    for (const m of byPartition.values()) for (const r of m.values()) if (now - r.timestamp > d._windowMs) late++;
    d._counts.replayedGenerations++;
    d._counts.replayedRecords += total;
    d._counts.replayLate += late;
    event = { generation: g, records: total, fresh: fresh.length, late, done: false };
    d._onReplay?.(event);
    const runs = [...byPartition].map(([p, m]) => [p, [...m.values()].sort((a, b) => a.offset - b.offset)]);
    // Each round restores, per partition, one run of consecutive offsets (a gap would
    // only come from a lost write) into a client of its own, and waits for its acks.
    while (runs.some(([, list]) => list.length) && !d._closed && !d._frozen) {
      // Offline (or paused), a round waits: its sink would only be closed at once.
      if (!d.online) await new Promise((resolve) => d._onlineWaiters.push(resolve));
      else await replayRound(d, meta, runs, state);
    }
    if (d._closed || d._frozen) return;
    // Records that never had an id: moved into this generation, each in the transaction
    // that writes its new id and deletes its old row, then sent as this page's records.
    if (fresh.length) {
      const moved = await move(d, g, fresh);
      if (moved < fresh.length) throw new Error(`${fresh.length - moved} records without an id could not be moved`);
    }
    await d._store.drop(g);
    d._onReplay?.({ ...event, done: true });
  } catch (e) {
    d._counts.replayFailed++;
    d._report(new DurableError("REPLAY_FAILED", `replaying the outbox of ${g}: ${e?.message ?? e}`, e));
  } finally {
    for (const c of state.clients) c.close().catch(() => {});
    d._replays.delete(g);
  }
}

/** Moves rows without an id of generation `g` into this one; resolves with how many moved. */
async function move(d, g, fresh) {
  const producer = d._moveProducer ??= d._staging.topicProducer(d.topic);
  const j = d._journal;
  const staged = producer.sendAll(fresh.map((r) => [r.key, r.value, r.options]));
  const entries = fresh.map((r) => j.enqueue(r.key, r.value, r.options, [g, UNASSIGNED, r.offset]));
  const saved = entries.map((e) => new Promise((resolve) => { e.onSaved = resolve; }));
  const sent = d._track(staged, entries);
  for (const s of sent) s.catch(() => {}); // failures: counted below
  const results = await Promise.all(saved.map((s, i) => Promise.race([s, sent[i].then(() => true, () => false)])));
  const moved = results.filter(Boolean).length;
  d._counts.replayFresh += moved;
  return moved;
}

async function replayRound(d, meta, runs, state) {
  const g = meta.generation;
  const Client = d.client.constructor;
  const client = new Client();
  state.clients.add(client);
  client.createTopic(meta.topic, { partitions: Math.max(meta.partitions, ...runs.map(([p]) => p + 1)) });
  const journal = new Journal(g, meta);
  for (const [p, list] of runs) {
    if (!list.length) continue;
    let n = 1;
    while (n < list.length && list[n].offset === list[n - 1].offset + 1) n++;
    const run = list.splice(0, n);
    client.restore(meta.topic, p, run.map(({ offset, key, value, timestamp, headers }) =>
      ({ offset, key, value, timestamp, headers })));
    journal.outbox.set(p, run);
  }
  const sink = d._connect(client, meta.topic, {
    ...d._sinkOptions,
    msgIdPrefix: g,
    onAck: (progress) => {
      const { deletes, arrived, gone } = d._progress(journal, progress);
      d._counts.replayAcked += arrived;
      d._counts.replayUndelivered += gone;
      if (deletes.length && d._store.kind !== "localstorage") d._write({ deletes }, journal);
    },
  }, { token: meta.ingestToken });
  state.sinks.add(sink);
  d._replaySinks.add(sink);
  if (!d.online) sink.pause();
  try {
    // Records given up were reported by `_givenUp` and left the outbox: the round
    // goes on. Anything else (the sink failed or closed) fails the round.
    await d._delivered(client, sink).catch((e) => { if (e?.code !== "SINK_UNDELIVERED") throw e; });
    await Promise.all(d._writes);
    // localStorage keeps a generation as one snapshot: rewrite it with what is left.
    if (d._store.kind === "localstorage") {
      const rest = new Journal(g, meta);
      for (const [p, list] of runs) if (list.length) rest.outbox.set(p, list);
      const all = await d._store.records(g);
      for (const r of all) if (r.partition === UNASSIGNED) rest.fresh.set(r.offset, { seq: r.offset, key: r.key, value: r.value, options: r.options });
      await d._write({}, rest);
    }
  } finally {
    d._replaySinks.delete(sink);
    d._counts.replayDuplicates += sink.stats().duplicates;
    await sink.close().catch(() => {});
  }
}
