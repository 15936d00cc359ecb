// The demo page: every click on it becomes a record, produced with the tributary package
// into a topic of several partitions, delivered to NATS JetStream by a sink with a
// persistent outbox (tributary/durable). The lanes show each partition's log as it grows.
// Served with `script-src 'self' 'wasm-unsafe-eval'`: this module, no inline script, no eval.

const $ = (id) => document.getElementById(id);
const RETENTION = { maxRecords: 100, segmentBytes: 2048 }; // small, so the window visibly slides
const VIEW = 120; // offsets drawn per lane

// ---- what happened --------------------------------------------------------------------

const events = [];
function note(text, bad = false) {
  const at = new Date();
  events.push({ at: at.getTime(), text, bad });
  const li = document.createElement("li");
  if (bad) li.className = "bad";
  const time = document.createElement("time");
  time.textContent = at.toLocaleTimeString();
  li.append(time, text);
  $("events").prepend(li);
  while ($("events").children.length > 80) $("events").lastChild.remove();
}
document.addEventListener("securitypolicyviolation", (e) =>
  note(`Content-Security-Policy blocked ${e.blockedURI || "inline code"} (${e.violatedDirective})`, true));

// ---- clicks: tracked from the first moment, sent once the package is loaded -------------

function randomId() {
  const b = new Uint8Array(6);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
// A session per tab: it survives reloads (sessionStorage), a new tab starts another.
const session = sessionStorage.getItem("tributary-demo:session") ?? randomId();
sessionStorage.setItem("tributary-demo:session", session);
let seq = Number(sessionStorage.getItem("tributary-demo:seq") ?? 0);
let clicks = 0;
let send = null; // set once the package is loaded
const early = [];

function track(e) {
  const el = e.target instanceof Element ? (e.target.closest("[id]") ?? e.target) : document.body;
  const element = el.id ? `#${el.id}` : el.tagName.toLowerCase();
  seq++;
  sessionStorage.setItem("tributary-demo:seq", String(seq));
  clicks++;
  const record = {
    id: `${session}:${seq}`, session, seq, element,
    label: (el.textContent ?? "").trim().slice(0, 32),
    x: Math.round(e.clientX), y: Math.round(e.clientY), t: Date.now(), trusted: e.isTrusted,
    page: location.pathname,
  };
  const key = $("keyBy").value === "element" ? element : session;
  if (send) send(key, record);
  else early.push([key, record]);
}
document.addEventListener("click", track, { capture: true });

// ---- the package ----------------------------------------------------------------------

const demo = { ready: false, mode: "loading", session, events, clicks: () => clicks };
window.demo = demo;

if ("serviceWorker" in navigator) {
  // Keeps the page, the package and its config for starting offline (network first).
  navigator.serviceWorker.register("sw.js").catch((e) => note(`service worker: ${e.message}`, true));
}

async function loadConfig() {
  try {
    const res = await fetch(`config.json${location.search}`); // ?transport=http: no NATS credentials
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return await res.json();
  } catch (e) {
    return { mode: "memory", reason: `the demo server did not answer (${e.message})`, topic: "clicks", partitions: 6 };
  }
}

let client;
let durable = null;
let config;
// The offline switch (the "Go offline" button) is the tab's: it survives a reload.
let manualOffline = sessionStorage.getItem("tributary-demo:offline") === "1";
try {
  config = await loadConfig();
  const { Tributary } = await import("./pkg/browser.js");
  client = new Tributary();
  client.createTopic(config.topic, { partitions: config.partitions, retention: RETENTION });
  let producer;
  if (config.mode === "nats" || config.mode === "http") {
    const { openDurable } = await import("./pkg/durable.js");
    // The previous page of this tab: what it sent by beacon as it was hidden or left.
    const last = JSON.parse(sessionStorage.getItem("tributary-demo:beacon") ?? "null");
    if (last) note(`the previous page sent ${last.records} records by beacon (${last.bytes} bytes, ${last.method}) as it was ${last.reason === "pagehide" ? "left" : "hidden"}`);
    sessionStorage.removeItem("tributary-demo:beacon");
    durable = await openDurable(client, config.topic, {
      // NATS over a WebSocket with the page's credentials, or (mode "http") none at all:
      // everything through the edge worker's ingest.
      ...(config.mode === "nats" ? { server: config.ws, token: config.token, stream: config.stream, provision: true } : {}),
      // The edge worker's ingest, with this page's token: on the way out (tab hidden or
      // closed) the records not acknowledged yet go there by beacon.
      ...(config.ingest ? { ingest: { url: config.ingest.url, token: config.ingest.token } } : {}),
      onBeacon: (b) => {
        note(`beacon (${b.reason === "pagehide" ? "leaving the page" : "page hidden"}): ${b.records} records not acknowledged yet, ` +
          `${b.bytes.toLocaleString()} bytes, to the edge worker's ingest (${b.method})`);
        const prev = JSON.parse(sessionStorage.getItem("tributary-demo:beacon") ?? "null");
        sessionStorage.setItem("tributary-demo:beacon", JSON.stringify({
          reason: b.reason, method: b.method, records: b.records + (prev?.records ?? 0), bytes: b.bytes + (prev?.bytes ?? 0),
        }));
      },
      duplicateWindowMs: config.duplicateWindowMs,
      name: "tributary-demo",
      scanIntervalMs: 3000,
      paused: manualOffline, // nothing is sent, not even an older page's outbox, while switched off
      onStateChange: (state, error) => note(`sink: ${state}${error ? ` (${error.code}: ${error.message})` : ""}`, state === "failed"),
      onReplay: (r) => note(r.done
        ? `recovered: ${r.records + r.fresh} records of an earlier page delivered (generation ${r.generation})`
        : `recovering ${r.records} records of an earlier page with their message ids${r.fresh ? `, and ${r.fresh} that had no id yet (sent as this page's)` : ""}${r.late ? `; ${r.late} older than the de-duplication window` : ""} (generation ${r.generation})`),
      onError: (e) => note(`${e.code}: ${e.message}`, true),
    });
    producer = durable.producer();
    $("mode").dataset.mode = "nats";
    $("mode").textContent = (config.mode === "http"
      ? `Records go over HTTP to the edge worker's ingest at ${config.ingest.url} (no NATS credentials in this page), ` +
        `and from there to NATS JetStream, stream "${config.stream}" `
      : `Records go to NATS JetStream at ${config.ws}, stream "${config.stream}" `) +
      `(de-duplication window ${Math.round(config.duplicateWindowMs / 3_600_000)} h). ` +
      `Unacknowledged ones wait in the outbox (${durable.storage}) and are sent again, with the same ` +
      `message ids, by the next page${config.ingest ? ", and go by beacon to the edge worker when the tab is hidden or closed" : ""}. ` +
      `This page's id prefix: ${durable.generation}.`;
    $("offline").disabled = false;
    $("offline").textContent = manualOffline ? "Go online" : "Go offline";
    if (manualOffline) note("offline (button, kept across the reload): nothing is sent until Go online");
    $("c-storage").textContent = durable.storage;
  } else {
    producer = client.topicProducer(config.topic);
    $("mode").dataset.mode = "memory";
    $("mode").textContent = `In-memory mode: ${config.reason}. Records stay in this page's partition ` +
      "log: nothing leaves the page and a reload starts afresh. Install nats-server and run make demo to deliver them.";
    $("c-storage").textContent = "none";
    note("in-memory mode: no nats-server");
  }
  send = (key, record) => producer.send(key, JSON.stringify(record))
    .catch((e) => note(`send failed: ${e.code ?? ""} ${e.message}`, true));
  for (const [key, record] of early.splice(0)) send(key, record);
  $("burst").disabled = false;
  demo.mode = config.mode;
} catch (e) {
  $("mode").dataset.mode = "error";
  $("mode").textContent = `The package did not load: ${e.message}`;
  note(`package: ${e.message}`, true);
  throw e;
}

// ---- controls -------------------------------------------------------------------------

$("offline").addEventListener("click", () => {
  manualOffline = !manualOffline;
  sessionStorage.setItem("tributary-demo:offline", manualOffline ? "1" : "0");
  if (manualOffline) durable.pause();
  else durable.resume();
  $("offline").textContent = manualOffline ? "Go online" : "Go offline";
  note(manualOffline ? "offline (button): the sink closed its connection" : "online (button)");
});
window.addEventListener("offline", () => note("the browser went offline"));
window.addEventListener("online", () => note("the browser is online again"));
$("burst").addEventListener("click", () => {
  const tiles = [...document.querySelectorAll(".tile")];
  for (let i = 0; i < 1000; i++) {
    const tile = tiles[Math.floor(Math.random() * tiles.length)];
    const r = tile.getBoundingClientRect();
    tile.dispatchEvent(new MouseEvent("click", {
      bubbles: true, clientX: r.left + Math.random() * r.width, clientY: r.top + Math.random() * r.height,
    }));
  }
});
$("reload").addEventListener("click", () => location.reload());

// ---- the live view --------------------------------------------------------------------

const css = getComputedStyle(document.documentElement);
const color = (name) => css.getPropertyValue(name).trim();
const palette = {
  acked: color("--acked"), pending: color("--pending"), local: color("--local"),
  evicted: color("--evicted"), window: color("--window"), line: color("--line"),
};

const lanes = [];
for (let p = 0; p < config.partitions; p++) {
  const row = document.createElement("div");
  row.className = "lane";
  row.dataset.partition = String(p);
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = `P${p}`;
  const canvas = document.createElement("canvas");
  const info = document.createElement("div");
  info.className = "info";
  row.append(name, canvas, info);
  $("lanes").append(row);
  lanes.push({ canvas, info, last: "", hw: 0, arrivals: [], label: "" });
}

const decoder = new TextDecoder();
function partitions() {
  // Over HTTP (?transport=http) no WebSocket sink moves the log's cursor: the transport's does.
  const cursor = durable?.sink.cursor;
  return lanes.map((_, p) => {
    const info = client.partitionInfo(config.topic, p);
    return cursor ? { ...info, ackedOffset: Math.max(cursor.get(p) ?? 0, info.logStartOffset) } : info;
  });
}
demo.partitions = partitions;
demo.stats = () => ({
  clicks, mode: demo.mode, state: durable ? durable.sink.state : "in-memory",
  sink: durable ? durable.sink.stats() : null, durable: durable ? durable.stats() : null,
  partitions: partitions(),
});
demo.durable = durable;
demo.client = client;

function drawLane(lane, info, now) {
  const { canvas } = lane;
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const hw = info.highWatermark;
  const end = Math.max(hw, VIEW);
  const start = end - VIEW;
  const cell = w / VIEW;
  const acked = info.ackedOffset ?? info.logStartOffset;
  // the retention window: what the log holds
  const from = Math.max(info.logStartOffset, start);
  if (hw > from) {
    g.fillStyle = palette.window;
    g.fillRect((from - start) * cell, 0, (hw - from) * cell, h);
  }
  for (let o = Math.max(start, 0); o < hw; o++) {
    const x = (o - start) * cell + 0.5;
    const cw = Math.max(1, cell - 1.5);
    if (o < info.logStartOffset) {
      g.strokeStyle = palette.evicted;
      g.strokeRect(x + 0.5, 7.5, cw - 1, h - 15);
      continue;
    }
    g.fillStyle = info.ackedOffset === null ? palette.local : o < acked ? palette.acked : palette.pending;
    let lift = 0; // a record just appended stands out for a moment
    for (const a of lane.arrivals) {
      if (o >= a.from && o < a.to) lift = Math.max(lift, 1 - (now - a.at) / 700);
    }
    g.fillRect(x, 6 - 4 * lift, cw, h - 12 + 8 * lift);
  }
  lane.arrivals = lane.arrivals.filter((a) => now - a.at < 700);
  return lane.arrivals.length > 0;
}

function laneText(lane, p, info) {
  if (info.highWatermark !== lane.hw && info.highWatermark > info.logStartOffset) {
    try {
      const [r] = client.read(config.topic, p, info.highWatermark - 1, 1);
      const v = JSON.parse(decoder.decode(r.value));
      lane.label = `last ${v.element} (${v.x},${v.y})`;
    } catch { /* evicted meanwhile */ }
  }
  const pending = info.ackedOffset === null ? null : info.highWatermark - info.ackedOffset;
  lane.info.replaceChildren();
  const b = (t) => { const x = document.createElement("b"); x.textContent = t; return x; };
  lane.info.append("offsets ", b(info.highWatermark ? `${info.logStartOffset}–${info.highWatermark - 1}` : "none"),
    pending === null ? " · no sink" : " · pending ", ...(pending === null ? [] : [b(String(pending))]));
  if (info.overBound) {
    const s = document.createElement("span");
    s.className = "over";
    s.textContent = " · over bound: keeping unacked";
    lane.info.append(s);
  }
  if (lane.label) lane.info.append(` · ${lane.label}`);
}

let lastCounters = 0;
function frame(now) {
  const infos = partitions();
  infos.forEach((info, p) => {
    const lane = lanes[p];
    if (info.highWatermark > lane.hw) lane.arrivals.push({ from: lane.hw, to: info.highWatermark, at: now });
    const key = JSON.stringify(info) + lane.canvas.clientWidth;
    if (key !== lane.last || lane.arrivals.length) {
      drawLane(lane, info, now);
      if (key !== lane.last) laneText(lane, p, info);
      lane.last = key;
    }
    lane.hw = info.highWatermark;
  });
  if (now - lastCounters > 100) {
    lastCounters = now;
    const sum = (f) => infos.reduce((n, i) => n + f(i), 0);
    $("c-clicks").textContent = clicks.toLocaleString();
    $("c-held").textContent = sum((i) => i.records).toLocaleString();
    $("c-evicted").textContent = sum((i) => i.evictedRecords).toLocaleString();
    if (durable) {
      const s = durable.sink.stats();
      const d = durable.stats();
      $("c-acked").textContent = s.acked.toLocaleString();
      $("c-pending").textContent = d.pending.toLocaleString();
      $("c-waiting").textContent = d.unassigned.toLocaleString();
      $("c-saved").textContent = d.saved.toLocaleString();
      // Records of earlier pages: with their ids (settled / found), and without an id yet
      // (moved into this page's outbox and sent as its records).
      $("c-recovered").textContent = d.replayedRecords + d.replayFresh
        ? `${d.replayAcked.toLocaleString()} / ${d.replayedRecords.toLocaleString()} with ids + ${d.replayFresh.toLocaleString()} without`
        : "0";
      // This page's sink and the replays': resends JetStream already had.
      $("c-dups").textContent = d.duplicates.toLocaleString();
      $("c-connects").textContent = s.connects.toLocaleString();
      $("c-beacon").textContent = `${d.beaconRecords.toLocaleString()} in ${d.beacons.toLocaleString()}`;
      $("state").dataset.state = s.state;
      $("state").textContent = s.state;
    } else {
      $("c-acked").textContent = "–";
      $("c-pending").textContent = "–";
      $("c-waiting").textContent = "–";
      $("state").dataset.state = "in-memory";
      $("state").textContent = "in-memory";
    }
  }
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);
demo.ready = true;
