// Turns the JS benchmarks' results into BENCHMARKS.md's `js` section and two SVG charts
// (drawn here: no plotting library). Every ratio is stated so that above 1 means we do
// better: ours / peer for throughput, peer / ours for bytes.

const int = (x) => (x == null || Number.isNaN(x) ? "–" : Math.round(x).toLocaleString("en-US"));
const r2 = (x) => (x == null || Number.isNaN(x) ? "–" : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const span = (s) => `${int(s.min)} – ${int(s.max)}`;
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Ratio of medians with its range (ours' worst against the peer's best, and back). */
function ratio(ours, peer) {
  return { median: ours.median / peer.median, lo: ours.min / peer.max, hi: ours.max / peer.min };
}

/** The headline ratios, in chart order: { label, ratio: {median, lo, hi}, aim }. */
export function headline(res) {
  const rows = [];
  const d = (name) => (res[name]?.ok ? res[name].data : null);
  const enc = d("encode");
  if (enc) {
    rows.push({ label: "1. encode 16 KB batches, none (vs kafkajs)", ratio: ratio(enc.codecs.none.ours, enc.codecs.none.peer), aim: 5 });
    rows.push({ label: "1. encode 16 KB batches, gzip (vs kafkajs)", ratio: ratio(enc.codecs.gzip.ours, enc.codecs.gzip.peer), aim: 5 });
    for (const c of ["none", "gzip"]) {
      const pf = enc.codecs[c].platformatic;
      if (pf) rows.push({ label: `1. encode 16 KB batches, ${c} (vs @platformatic/kafka)`, ratio: ratio(enc.codecs[c].ours, pf), aim: 2 });
    }
  }
  for (const [name, where] of [["send", "Node"], ["send-browser", "Chromium"]]) {
    const s = d(name);
    if (!s) continue;
    // Issue 14's aims: send at least 1x the peer in Node, 2x in Chromium; sendAll 3x in both.
    rows.push({ label: `2. send(), ${where} (vs NATS publish)`, ratio: ratio(s.result.send, s.result.peer), aim: where === "Node" ? 1 : 2 });
    rows.push({ label: `2. sendAll(), ${where} (vs NATS publish)`, ratio: ratio(s.result.sendAll, s.result.peer), aim: 3 });
  }
  const ack = d("ack");
  if (ack?.result.official) rows.push({ label: "3. acknowledged by JetStream (vs @nats-io/jetstream 3.4)", ratio: ratio(ack.result.ours, ack.result.official), aim: 3 });
  if (ack) rows.push({ label: "3b. acknowledged by JetStream (vs nats.ws 1.30)", ratio: ratio(ack.result.ours, ack.result.peer), aim: 2 });
  const size = d("size");
  if (size) {
    const seg = size.peers.find((p) => p.name === "@segment/analytics-next");
    const m = seg.gzip / size.ours.tributary.gzip;
    rows.push({ label: "4. gzip size, with the sink (vs Segment)", ratio: { median: m, lo: m, hi: m }, aim: 1 });
  }
  const mem = d("memory");
  if (mem) {
    const peer = Math.min(mem.peerBytes.heapPerRecord, mem.peerStrings.heapPerRecord);
    const m = peer / mem.ours.wasmPerRecord;
    rows.push({ label: "5. memory per record (vs cheapest JS array)", ratio: { median: m, lo: m, hi: m }, aim: 1 });
  }
  return rows;
}

export function ratiosSvg(res, meta) {
  const rows = headline(res);
  const W = 860, left = 330, right = 90, top = 58, rowH = 30;
  const H = top + rows.length * rowH + 46;
  const vals = rows.flatMap((r) => [r.ratio.lo, r.ratio.hi, r.aim]).filter((v) => v > 0 && Number.isFinite(v));
  const lo = Math.min(0.1, ...vals.map((v) => v / 1.3));
  const hi = Math.max(10, ...vals.map((v) => v * 1.3));
  const x = (v) => left + (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) * (W - left - right);
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">tributary against its peers: ratio of medians (log scale; above 1 = we do better)</text>`);
  out.push(`<text x="${W / 2}" y="38" text-anchor="middle" fill="#555">${esc(`${meta.command}, ${meta.date}, ${meta.machine.model}, ${meta.machine.nproc} cores, Node ${meta.machine.node}; whiskers: worst and best pairing of runs`)}</text>`);
  for (const t of [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50].filter((t) => t >= lo && t <= hi)) {
    out.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${top - 6}" y2="${top + rows.length * rowH}" stroke="${t === 1 ? "#000" : "#ddd"}" stroke-width="${t === 1 ? 1.5 : 1}"/>`);
    out.push(`<text x="${x(t)}" y="${top + rows.length * rowH + 16}" text-anchor="middle" fill="#333">${t}×</text>`);
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const m = r.ratio.median;
    const color = m >= r.aim ? "#2e7d32" : m >= 1 ? "#f9a825" : "#c62828";
    out.push(`<text x="${left - 8}" y="${y + rowH / 2 + 4}" text-anchor="end">${esc(r.label)}</text>`);
    const [a, b] = [x(Math.min(1, m)), x(Math.max(1, m))];
    out.push(`<rect x="${a}" y="${y + 7}" width="${Math.max(1, b - a)}" height="${rowH - 14}" fill="${color}" opacity="0.85"/>`);
    if (r.ratio.hi !== r.ratio.lo) {
      out.push(`<line x1="${x(r.ratio.lo)}" x2="${x(r.ratio.hi)}" y1="${y + rowH / 2}" y2="${y + rowH / 2}" stroke="#222"/>`);
      for (const v of [r.ratio.lo, r.ratio.hi]) out.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${y + 10}" y2="${y + rowH - 10}" stroke="#222"/>`);
    }
    out.push(`<line x1="${x(r.aim)}" x2="${x(r.aim)}" y1="${y + 3}" y2="${y + rowH - 3}" stroke="#1565c0" stroke-width="3"/>`);
    out.push(`<text x="${Math.max(x(r.ratio.hi), b, x(r.aim)) + 6}" y="${y + rowH / 2 + 4}">${r2(m)}×</text>`);
  });
  out.push(`<text x="20" y="${H - 8}" fill="#555">green: aim met; amber: ahead of the peer, short of the aim; red: behind the peer. Blue tick: the aim (issue 6).</text>`);
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

export function scalingSvg(data, meta) {
  const W = 900, H = 380, panelW = 360, top = 60, plotH = 250;
  const panels = [
    { title: `by partitions (${int(data.nByPartitions)} records)`, pts: data.byPartitions, key: "partitions", xlabel: "partitions", x0: 70 },
    { title: "by records (16 partitions)", pts: data.byRecords, key: "n", xlabel: "records", x0: 70 + panelW + 90 },
  ];
  const top0 = Math.max(...[...data.byPartitions, ...data.byRecords].map((p) => p.nsMax)) * 1.15;
  const step = 10 ** Math.floor(Math.log10(top0 / 4));
  const ymax = 4 * step * [1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 10].find((k) => 4 * step * k >= top0);
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">Cost per record through a retention-bounded log (sendAll ×10,000, Node, wasm)</text>`);
  out.push(`<text x="${W / 2}" y="38" text-anchor="middle" fill="#555">${esc(`ns per record, median and min–max of ${data.reps} runs; retention 10,000 records/partition; ${meta.command}, ${meta.date}, ${meta.machine.model}, Node ${meta.machine.node}`)}</text>`);
  const y = (v) => top + plotH - (v / ymax) * plotH;
  for (const p of panels) {
    const xs = p.pts.map((q) => q[p.key]);
    const [l0, l1] = [Math.log10(Math.min(...xs)), Math.log10(Math.max(...xs))];
    const x = (v) => p.x0 + 20 + (Math.log10(v) - l0) / Math.max(1e-9, l1 - l0) * (panelW - 40);
    out.push(`<text x="${p.x0 + panelW / 2}" y="${top - 6}" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`);
    out.push(`<line x1="${p.x0}" x2="${p.x0}" y1="${top}" y2="${top + plotH}" stroke="#000"/>`);
    out.push(`<line x1="${p.x0}" x2="${p.x0 + panelW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#000"/>`);
    for (let k = 0; k <= 4; k++) {
      const v = (ymax / 4) * k;
      out.push(`<line x1="${p.x0}" x2="${p.x0 + panelW}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
      out.push(`<text x="${p.x0 - 4}" y="${y(v) + 4}" text-anchor="end" fill="#333">${int(v)}</text>`);
    }
    out.push(`<text x="${p.x0 + panelW / 2}" y="${top + plotH + 36}" text-anchor="middle">${p.xlabel} (log scale)</text>`);
    out.push(`<polyline fill="none" stroke="#1565c0" stroke-width="2" points="${p.pts.map((q) => `${x(q[p.key])},${y(q.nsPerRecord)}`).join(" ")}"/>`);
    p.pts.forEach((q, i) => {
      const cx = x(q[p.key]);
      out.push(`<line x1="${cx}" x2="${cx}" y1="${y(q.nsMin)}" y2="${y(q.nsMax)}" stroke="#222"/>`);
      out.push(`<circle cx="${cx}" cy="${y(q.nsPerRecord)}" r="4" fill="#1565c0"/>`);
      out.push(`<text x="${cx}" y="${top + plotH + 16}" text-anchor="middle" fill="#333">${q[p.key] >= 1e4 ? `1e${Math.round(Math.log10(q[p.key]))}` : q[p.key]}</text>`);
      const last = q === p.pts.at(-1);
      const below = i % 2 === 1; // alternate above and below: neighbours on a log axis sit close
      out.push(`<text x="${cx + (last ? -6 : 6)}" y="${y(q.nsPerRecord) + (below ? 18 : -8)}" text-anchor="${last ? "end" : "start"}" fill="#333">${int(q.nsPerRecord)} ns</text>`);
    });
  }
  out.push(`<text x="14" y="${top + plotH / 2}" transform="rotate(-90 14 ${top + plotH / 2})" text-anchor="middle">ns per record</text>`);
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

function failed(res, name) {
  return res[name] && !res[name].ok ? `\nThis run failed: ${res[name].error}\n` : "";
}

export function markdown(res, meta) {
  const m = meta.machine;
  const d = (name) => (res[name]?.ok ? res[name].data : null);
  const L = [];
  L.push("<!-- js:begin -->");
  L.push("## Against the peers (JS, issue 6)");
  L.push("");
  L.push(`Command: \`${meta.command}\` (\`node benches/js/run.mjs\`, after the core and size sections; \`node benches/js/run.mjs encode\` runs one). ` +
    `Tier: ${meta.tier}. Machine: \`nproc\` ${m.nproc}, ${m.model}, Node ${m.node}, ${m.chromium || "no Chromium"}, nats-server ${m.nats}, ${m.os}. ` +
    `Package: pkg/ as built from \`${meta.revision}\`, copied aside for the run. ${meta.date}; the JS part took ${meta.seconds} s` +
    (meta.load ? ` (1-minute load average ${meta.load[0]} before, ${meta.load[1]} after, on ${m.nproc} cores).` : "."));
  L.push("");
  L.push("Every contender runs in the same process as its peer (memory: in fresh processes), after one warm-up run each, " +
    "alternating order each repetition; figures are medians with min – max. Ratios are stated so that above 1 means we do better " +
    "(ours / peer for throughput, peer / ours for bytes). This machine is shared: other jobs may run beside the benchmark, which the " +
    "min – max shows. Raw figures: [benches/js/results.json](benches/js/results.json).");
  L.push("");
  L.push("![ratios](benches/js/ratios.svg)");
  L.push("");
  L.push("| benchmark | ratio (median; range) | aim | verdict |");
  L.push("|---|---:|---:|---|");
  for (const r of headline(res)) {
    const v = r.ratio.median >= r.aim ? "aim met" : r.ratio.median >= 1 ? "ahead, short of the aim" : "**behind the peer**";
    const range = r.ratio.lo === r.ratio.hi ? "" : ` (${r2(r.ratio.lo)} – ${r2(r.ratio.hi)})`;
    L.push(`| ${r.label} | ${r2(r.ratio.median)}×${range} | ${r.aim}× | ${v} |`);
  }
  L.push("");

  // 1. encode
  const enc = d("encode");
  L.push("### 1. Record-batch encoding (Node)");
  L.push("");
  L.push(failed(res, "encode"));
  if (enc) {
    L.push(`${int(enc.n)} keyed records (16-byte keys, 100-byte values, Uint8Array), batches closed at ${int(enc.batchSize)} bytes, ${enc.reps} repetitions. ` +
      "**Ours** goes through the public API of `tributary/full`: a 1-partition topic, `topicProducer({ batchSize: 16384, batchQueueSize: 10000 })` " +
      "(room for all ~780 batches, so no record waits for the queue), one `sendAll` of the " +
      "[key, value] pairs (built inside the timing), then `client.flush()`; so it measures the crossing into wasm, placement, encoding Fluvio " +
      "record batches (CRC-32C; gzip for the gzip row), appending them to the partition log and resolving a RecordMetadata per record. " +
      "**kafkajs 2.2.4**: its own encoder as its Produce v3 request calls it (`Record(...)` per record, `await RecordBatch({...})` per batch, " +
      "then the batch's bytes), records as Buffers, batches cut by the same 16,384-byte rule; its gzip is Node's zlib." +
      (enc.platformatic ? ` **@platformatic/kafka ${enc.platformatic.version}**: \`createRecordsBatch(messages, { compression })\` per batch (what its producer calls), ` +
        "a `{ key, value, timestamp }` message per record built inside the timing, the same batches; its gzip is Node's `gzipSync`, its CRC-32C " +
        `${enc.platformatic.crc} here; its result is a Writer over a list of chunks, whose length we take (no contiguous copy).` : ""));
    L.push("");
    const pfHead = enc.platformatic ? " @platformatic/kafka records/s | min – max | ours / @platformatic/kafka |" : "";
    L.push(`| codec | ours records/s | min – max | kafkajs records/s | min – max | ours / kafkajs |${pfHead} batches (ours, kafkajs) | bytes out (ours, kafkajs) | share of ours spent in the \`sendAll\` call |`);
    L.push(`|---|---:|---:|---:|---:|---:|${enc.platformatic ? "---:|---:|---:|" : ""}---:|---:|---:|`);
    for (const [c, v] of Object.entries(enc.codecs)) {
      const pf = v.platformatic ? ` ${int(v.platformatic.median)} | ${span(v.platformatic)} | ${r2(v.ours.median / v.platformatic.median)}× |` : "";
      L.push(`| ${c} | ${int(v.ours.median)} | ${span(v.ours)} | ${int(v.peer.median)} | ${span(v.peer)} | ${r2(v.ours.median / v.peer.median)}× |${pf} ` +
        `${v.ours.extra.batches}, ${v.peer.extra.batches} | ${int(v.ours.extra.bytes)}, ${int(v.peer.extra.bytes)} | ${Math.round(v.ours.extra.callShare * 100)} % |`);
    }
    L.push("");
    const lim = enc.memcpy;
    L.push(`**Physical limit** (the same ${int(enc.recordBytes)} bytes copied once into wasm memory, measured in the same run): ` +
      `per record (two \`Uint8Array.set\` calls, key and value, into a \`WebAssembly.Memory\`) ${int(lim.perRecord.median)} records/s ` +
      `(${span(lim.perRecord)}); in bulk (one \`set\` of all the bytes) ${int(lim.bulk.median)} records/s ` +
      `(${r2(enc.recordBytes * lim.bulk.median / enc.n / 1e9)} GB/s). Ours without compression reaches ` +
      `${r2(100 * enc.codecs.none.ours.median / lim.perRecord.median)} % of the per-record copy and ` +
      `${r2(100 * enc.codecs.none.ours.median / lim.bulk.median)} % of the bulk copy.`);
    L.push("");
  }

  // 2. send
  L.push("### 2. `send()` throughput from JS (Node and headless Chromium)");
  L.push("");
  L.push("100-byte Uint8Array values, 16-character string keys, a 16-partition topic (local mode: no sink). **send**: one `send(key, value)` per record, " +
    "then `await client.flush()` (every record in the log, every promise settled). **sendAll**: the pairs built and handed over in one call, awaited. " +
    "**sendAll ×1,000**: calls of 1,000, each awaited. **Peer**: the NATS JS client's `publish(\"bench.<key>\", value)` into an open connection " +
    "to the same nats-server (`nats` 2.29.3 over TCP in Node, `nats.ws` 1.30.3 over the browser's WebSocket in Chromium), then `await nc.flush()` " +
    "(the server has them all). *Settled* is until those awaits resolve (the headline); *calls* counts the synchronous calls alone.");
  L.push("");
  for (const [name, where] of [["send", "Node"], ["send-browser", "Chromium"]]) {
    L.push(failed(res, name));
    const s = d(name);
    if (!s) continue;
    L.push(`${where} (${s.runtime}), ${int(s.n)} records a run, ${s.reps} repetitions; peer: ${s.peer}.`);
    L.push("");
    L.push("| contender | settled records/s | min – max | calls only, records/s | ratio to the peer (settled) |");
    L.push("|---|---:|---:|---:|---:|");
    const label = { send: "ours: send", sendAll: "ours: sendAll (1 call)", sendAll1k: "ours: sendAll ×1,000", peer: "peer: publish" };
    for (const [k, v] of Object.entries(s.result)) {
      L.push(`| ${label[k] ?? k} | ${int(v.median)} | ${span(v)} | ${int(v.extra?.calls)} | ${r2(v.median / s.result.peer.median)}× |`);
    }
    L.push("");
  }
  if (enc && d("send")) {
    const lim = enc.memcpy.perRecord.median;
    const best = Math.max(...["send", "sendAll", "sendAll1k"].map((k) => d("send").result[k].median));
    L.push(`**Physical limit** (Node): copying each record's bytes once into wasm memory runs at ${int(lim)} records/s (benchmark 1, same run); ` +
      `our best JS path here reaches ${r2(100 * best / lim)} % of it. The gap is the package's per-record work, not the copy.`);
    L.push("");
    const r = d("send").result;
    const ns = (x) => 1e9 / x;
    L.push(`Where our time goes (Node, this run, ns per record): \`send\` ${int(ns(r.send.median))} settled, of which ${int(ns(r.send.extra.calls))} in the ` +
      `calls and the rest resolving the promises; \`sendAll\` ${int(ns(r.sendAll.median))}, of which ${int(ns(r.sendAll.extra.calls))} in the call; ` +
      `NATS's publish ${int(ns(r.peer.median))}. In the call the package's JS writes each key and value into the client's staging area in wasm ` +
      "memory (`encodeInto` for strings, `set` for bytes) and crosses into wasm once per call, where each record is placed (SipHash of its key) and " +
      "encoded into its batch; the poll closes the batches (CRC-32C) and appends them, and settling reads each record's partition, offset and " +
      "timestamp from a view of wasm memory, makes its RecordMetadata in JS and resolves its promise. A CPU profile of `sendAll` (100,000 records, " +
      "Node, issue 14) put about half the time in wasm (CRC-32C 6 %, the placement done twice per record, checked then taken, ~6 %, allocation and " +
      "buffer growth ~9 %, encoding ~6 %), a quarter in the package's JS (settling 12 %, staging 10 %) and an eighth in the garbage collector.");
    L.push("");
  }

  // 3. ack
  L.push("### 3. Acknowledged delivery into JetStream over WebSocket (Node, issue 4)");
  L.push("");
  L.push(failed(res, "ack"));
  const ack = d("ack");
  if (ack) {
    L.push(`${int(ack.n)} records a run (16-byte keys, 100-byte values), ${ack.reps} repetitions, into a fresh 16-subject file-backed stream per run ` +
      "(the same configuration for each contender, made beforehand and deleted after; each run is checked to leave exactly N messages), over " +
      "nats-server's WebSocket listener on loopback, `ws` 8.23.0 as Node 20's WebSocket. **Ours**: `sendAll` into a 16-partition topic with a " +
      "connected sink, then `await client.flush()` (resolves once JetStream acknowledged every record; each message carries Nats-Msg-Id, key and " +
      "timestamp headers; at most 1,024 unacknowledged). **Peer**: `nats.ws` 1.30.3, `js.publish(subject, value, { msgID, headers })` per record " +
      `(the key as a header), ${ack.window} in flight at a time (\`await Promise.all\` over chunks of ${ack.window}). **Peer, payload only**: the same without msgID and headers (its upper bound). ` +
      "**The current official client**: `@nats-io/jetstream` 3.4.0 over `@nats-io/nats-core` 3.4.0's `wsconnect`, the same publishes and window.");
    L.push("");
    L.push("| contender | acknowledged records/s | min – max | ours / this |");
    L.push("|---|---:|---:|---:|");
    const label = { ours: "ours: sink + client.flush()", official: "@nats-io/jetstream 3.4 (nats-core wsconnect): js.publish with msgID + key header", peer: "nats.ws 1.30: js.publish with msgID + key header", peerBare: "nats.ws 1.30: js.publish, payload only" };
    for (const [k, v] of Object.entries(ack.result)) {
      L.push(`| ${label[k] ?? k} | ${int(v.median)} | ${span(v)} | ${r2(ack.result.ours.median / v.median)}× |`);
    }
    L.push("");
  }

  // 4. size
  L.push("### 4. Size of what a browser loads");
  L.push("");
  L.push(failed(res, "size"));
  const size = d("size");
  if (size) {
    L.push("gzip -9 and brotli -q 11 (Node's zlib) per file, summed. Ours: per entry, the files `build_pkg.py` counts (the `.wasm`, the glue, " +
      "`browser.js`, `errors.js`). Peers (pinned devDependencies): Segment's standalone build (the chunks it loads later are not counted), " +
      "posthog-js's `dist/array.js` (what its snippet loads), Snowplow's UMD min, Rudderstack and nats.ws bundled by esbuild 0.28.2 " +
      "(`export * from \"<package>\"`, `--bundle --minify`, ESM; Rudderstack's plugins load at run time and are not counted).");
    L.push("");
    L.push("| what a browser loads | raw | gzip | brotli | gzip: this / `tributary` |");
    L.push("|---|---:|---:|---:|---:|");
    const base = size.ours.tributary.gzip;
    for (const [k, v] of Object.entries(size.ours)) {
      const what = k === "tributary" ? "**`tributary`** (log + sink)" : k === "tributary/local" ? "**`tributary/local`** (log only)" : "**`tributary/full`** (+ codecs)";
      L.push(`| ${what} | ${int(v.raw)} | ${int(v.gzip)} | ${int(v.brotli)} | ${r2(v.gzip / base)} |`);
    }
    for (const p of size.peers) L.push(`| ${p.name} ${p.version}, ${p.what} | ${int(p.raw)} | ${int(p.gzip)} | ${int(p.brotli)} | ${r2(p.gzip / base)} |`);
    L.push("");
    const seg = size.peers.find((p) => p.name === "@segment/analytics-next");
    const t = size.ours.tributary.gzip;
    L.push(`Aim: smaller than Segment's ${r2(seg.gzip / 1024)} KiB gzip with the sink included. ` +
      (t < seg.gzip ? `Met: ${r2(t / 1024)} KiB.` : `**Not met**: \`tributary\` is ${r2(t / 1024)} KiB gzip, ${r2(t / seg.gzip)}× Segment's; ` +
        `\`tributary/local\` (no sink) is ${r2(size.ours["tributary/local"].gzip / 1024)} KiB.`));
    if (size.reportCheck) {
      const same = size.reportCheck.tributary?.gzip === size.ours.tributary.gzip;
      L[L.length - 1] += same ? " Ours equal target/pkg-size.json's figures (written by `build_pkg.py` in the same `make bench`)."
        : " (target/pkg-size.json, from the last `build_pkg.py`, differs from the copy measured here: pkg/ was rebuilt in between.)";
    }
    L.push("");
  }

  // 5. memory
  L.push("### 5. Memory per retained record (Node)");
  L.push("");
  L.push(failed(res, "memory"));
  const mem = d("memory");
  if (mem) {
    L.push(`${int(mem.n)} records (16-byte keys, 100-byte values), each contender in a fresh \`node --expose-gc\` process, measured after a full GC; ` +
      `${mem.reps} run(s) each, the median shown (min – max of the main figure). **Ours**: \`sendAll\` in calls of 10,000 into a 16-partition topic, ` +
      "no retention, everything kept in the partition log (the JS side keeps nothing). **Peer**: a plain JS array of `{ key, value, timestamp }`, " +
      "with Uint8Array fields (each its own buffer) and with string fields. RSS also counts the garbage of making the records, which V8 does not hand back.");
    L.push("");
    L.push("| contender | held per record (bytes) | min – max | RSS growth per record | held / our encoded record |");
    L.push("|---|---:|---:|---:|---:|");
    const e = mem.ours.encodedPerRecord;
    L.push(`| ours: wasm memory growth | ${r2(mem.ours.wasmPerRecord)} | ${r2(mem.ours.min)} – ${r2(mem.ours.max)} | ${r2(mem.ours.rssPerRecord)} | ${r2(mem.ours.wasmPerRecord / e)} |`);
    L.push(`| JS array, Uint8Array fields: heap + array buffers | ${r2(mem.peerBytes.heapPerRecord)} | ${r2(mem.peerBytes.min)} – ${r2(mem.peerBytes.max)} | ${r2(mem.peerBytes.rssPerRecord)} | ${r2(mem.peerBytes.heapPerRecord / e)} |`);
    L.push(`| JS array, string fields: heap | ${r2(mem.peerStrings.heapPerRecord)} | ${r2(mem.peerStrings.min)} – ${r2(mem.peerStrings.max)} | ${r2(mem.peerStrings.rssPerRecord)} | ${r2(mem.peerStrings.heapPerRecord / e)} |`);
    L.push("");
    L.push(`Our encoded record in its batch (the log's bytes / N, framing included): ${r2(e)} bytes. Aim: within 1.25× of it: ` +
      `${mem.ours.wasmPerRecord / e <= 1.25 ? "met" : "**not met**"} (${r2(mem.ours.wasmPerRecord / e)}×; wasm memory grows in 64 KiB pages and ` +
      "includes the allocator's free space).");
    L.push("");
  }

  // 6. scaling
  L.push("### 6. Scaling: cost per record through a retention-bounded log (Node)");
  L.push("");
  L.push(failed(res, "scaling"));
  const sc = d("scaling");
  if (sc) {
    L.push(`\`sendAll\` calls of ${int(sc.chunk)} records (each awaited, then \`client.flush()\`), 16-byte keys, 100-byte values (a pool of 100,000 ` +
      `records reused in turn), retention ${int(sc.retention)} records per partition; median and min – max of ${sc.reps} runs ` +
      "(10^4: 5× as many; 10^6 in the fast tier and 10^7: 2) after a warm-up. No peer: the point is that the cost per record stays flat.");
    L.push("");
    L.push("![scaling](benches/js/scaling.svg)");
    L.push("");
    L.push("| partitions | records | records/s | min – max | ns per record | wasm memory, high-water mark of the process so far (MB) |");
    L.push("|---:|---:|---:|---:|---:|---:|");
    for (const q of [...sc.byPartitions, ...sc.byRecords]) {
      L.push(`| ${int(q.partitions)} | ${int(q.n)} | ${int(q.median)} | ${span(q)} | ${int(q.nsPerRecord)} | ${r2(q.wasmBytes / 1e6)} |`);
    }
    L.push("");
  }
  // 7. the command
  L.push("### 7. The command: `tributary produce` from a file into JetStream (Node, issue 16)");
  L.push("");
  L.push(failed(res, "cli"));
  const cli = d("cli");
  if (cli) {
    L.push(`A file of ${int(cli.n)} lines (${int(cli.bytes)} bytes), \`<16-byte key>:<100-byte value>\` (benchmark 3's records), through ` +
      "`node cli.js produce <stream> --server ws://... --partitions 16 --key-separator : --file <file>` of the package, a fresh process per run " +
      `timed from spawn to exit (start, loading the package, reading, acknowledged delivery, closing), ${cli.reps} repetitions, each into a fresh ` +
      "16-subject file-backed stream that must hold exactly N messages after; peak RSS from `/usr/bin/time -v`. Node 20 has no global WebSocket: " +
      "**built-in** is the command's own client (`cli/websocket.js`, what `npx tributary` uses there), **ws** the `ws` package's, preloaded as the " +
      "global WebSocket (which the command then takes)." +
      (cli.date ? ` Run ${cli.date} on \`${cli.revision}\` (1-minute load average ${cli.load[0]} before, ${cli.load[1]} after).` : ""));
    L.push("");
    L.push("| WebSocket | records/s | min – max | seconds a run | peak RSS (MB) |");
    L.push("|---|---:|---:|---:|---:|");
    for (const [k, v] of Object.entries(cli.result)) {
      L.push(`| ${k === "builtin" ? "built-in (cli/websocket.js)" : "`ws` 8.23.0"} | ${int(v.median)} | ${span(v)} | ${r2(v.extra.seconds)} | ${int(v.extra.rssMb)} |`);
    }
    L.push("");
  }
  L.push("<!-- js:end -->");
  return L.filter((l, i, a) => !(l === "" && a[i - 1] === "")).join("\n");
}
