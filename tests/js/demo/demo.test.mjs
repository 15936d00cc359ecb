// The demo page as `make demo` serves it (www/serve.mjs, started here on free loopback
// ports: nats-server with JetStream, a WebSocket listener and a token; the page with its
// strict Content-Security-Policy), driven in headless Chromium (playwright-core,
// /usr/bin/chromium) with real mouse clicks. What reaches JetStream is read back with the
// `nats` client over TCP, independently of the page. Each test uses a fresh browser
// profile (its own IndexedDB, localStorage and Web Locks).
//
// TRIBUTARY_PKG=<dir under the repository> tests another build of the package than pkg/.
// Writes target/demo/screenshot.png (UPDATE_SCREENSHOT=1 also copies it to
// www/screenshot.png, the one README shows).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { startDemo, PARTITIONS } from "../../../www/serve.mjs";
import { serveDir } from "../harness/browser.mjs";
import {
  openDemo, waitDemo, clickTiles, stats, waitDelivered, readMessages, checkSession, sleep,
  countSession, readUntil, checkIdsUnique, withBrowser,
} from "./helpers.mjs";

const root = new URL("../../../", import.meta.url).pathname;
let demo;
before(async () => { demo = await startDemo({ port: 0, edge: false }); });
after(async () => { await demo?.stop(); });

const read = () => readMessages(demo.nats.port, "clicks", { token: demo.nats.token });

test("CSP: the page loads and produces under script-src 'self' 'wasm-unsafe-eval', no inline script, no eval", async () => {
  const res = await fetch(demo.url);
  const csp = res.headers.get("content-security-policy");
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'(;|$)/);
  assert.doesNotMatch(csp, /\s'unsafe-eval'|'unsafe-inline'/);
  const html = await res.text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, "an inline script in index.html");
  assert.doesNotMatch(html, /\son[a-z]+=/i, "an inline event handler in index.html");
  await withBrowser(async (context) => {
    const violations = [];
    await context.exposeFunction("__violation", (v) => violations.push(v));
    await context.addInitScript(() => document.addEventListener("securitypolicyviolation",
      (e) => window.__violation(`${e.violatedDirective} ${e.blockedURI}`)));
    const page = await openDemo(context, demo.url);
    // The policy is in force: a script of the page's origin (served by the test through
    // Playwright's router) may not eval, and an inline script does not run. (Code that
    // page.evaluate runs is exempt from CSP: the probe must be a script of the page.)
    await context.route("**/csp-probe.js", (route) => route.fulfill({
      contentType: "text/javascript",
      body: `const out = {};
        try { out.eval = String(eval("1 + 1")); } catch (e) { out.eval = e.name; }
        try { out.Function = String(new Function("return 1")()); } catch (e) { out.Function = e.name; }
        window.__probe = out;`,
    }));
    const refused = await page.evaluate(async () => {
      const probe = document.createElement("script");
      probe.src = "/csp-probe.js";
      const loaded = new Promise((resolve) => { probe.onload = resolve; probe.onerror = resolve; });
      document.head.append(probe);
      await loaded;
      const s = document.createElement("script");
      s.textContent = "window.__inline = 1";
      document.head.append(s);
      return { ...window.__probe, inline: window.__inline === 1 ? "ran" : "blocked" };
    });
    assert.deepEqual(refused, { eval: "EvalError", Function: "EvalError", inline: "blocked" });
    // ... and each refusal is reported as a violation; those three were ours.
    for (let i = 0; i < 100 && violations.length < 3; i++) await sleep(20);
    assert.deepEqual(violations.map((v) => v.split(" ")[0]).sort(), ["script-src", "script-src", "script-src-elem"]);
    violations.length = 0;
    page.problems.length = 0; // the console lines of those refusals
    assert.equal((await stats(page)).mode, "nats");
    await waitDemo(page, () => window.demo.stats().state === "connected");
    const session = await page.evaluate(() => window.demo.session);
    await clickTiles(page, 12);
    await waitDelivered(page);
    const s = await stats(page);
    assert.equal(s.clicks, 12);
    assert.equal(s.sink.acked, 12);
    assert.deepEqual(violations, [], "CSP violations while the page ran");
    assert.deepEqual(page.problems, [], "errors in the page's console");
    checkSession(assert, await read(), session, 12);
    await checkIdsUnique(assert, demo.nats);
    console.log(`csp: ${csp}\ncsp: page loaded, 12 clicks acknowledged, eval/Function/inline refused, no violations`);
  });
});

test("500 clicks with a reload and an offline spell in the middle: each click in JetStream exactly once", async () => {
  await withBrowser(async (context) => {
    let page = await openDemo(context, demo.url);
    const session = await page.evaluate(() => window.demo.session);
    await waitDemo(page, () => window.demo.stats().state === "connected");
    let tiles = 0;
    let controls = 0;
    // 150 clicks online, keyed by session.
    await clickTiles(page, 150, tiles); tiles += 150;
    // The offline button (sink.pause()), then 100 clicks that can only wait in the outbox.
    await page.click("#offline"); controls++;
    await waitDemo(page, () => window.demo.stats().state === "offline");
    await clickTiles(page, 100, tiles); tiles += 100;
    await waitDemo(page, () => window.demo.stats().durable.saved >= 100);
    const before = await stats(page);
    assert.ok(before.durable.pending >= 100, `pending before the reload: ${before.durable.pending}`);
    // Reload (the page's button): the next page replays this one's outbox with its ids.
    const generation = before.durable.generation;
    await Promise.all([page.waitForEvent("load"), page.click("#reload")]); controls++;
    await waitDemo(page, () => window.demo?.ready === true);
    // The offline switch survives the reload (issue 12): back online by hand.
    assert.equal(await page.textContent("#offline"), "Go online");
    assert.equal((await stats(page)).state, "offline");
    await page.click("#offline"); controls++;
    const replayed = await waitDemo(page, () => {
      const d = window.demo.stats().durable;
      return d.replayedRecords > 0 && d.replayPending === 0 && d.replaying === 0 && d;
    });
    assert.ok(replayed.replayedRecords >= 100, `replayed ${replayed.replayedRecords} records of ${generation}`);
    assert.equal(replayed.replayFailed, 0);
    assert.equal(await page.evaluate(() => window.demo.session), session, "the tab keeps its session across the reload");
    // 100 clicks keyed by element (all partitions), then the browser goes offline for 100.
    await page.selectOption("#keyBy", "element");
    await clickTiles(page, 100, tiles); tiles += 100;
    await context.setOffline(true);
    await waitDemo(page, () => window.demo.stats().state === "offline");
    await clickTiles(page, 100, tiles); tiles += 100;
    await sleep(300);
    assert.ok((await stats(page)).durable.pending >= 100, "clicks wait while the browser is offline");
    await context.setOffline(false);
    await clickTiles(page, 50, tiles); tiles += 50;
    await waitDelivered(page);
    assert.equal(tiles, 500);
    const messages = await read();
    const mine = checkSession(assert, messages, session, tiles + controls);
    assert.equal(mine.filter((m) => m.data.element.startsWith("#t-")).length, 500, "500 tile clicks");
    const used = new Set(mine.map((m) => m.subject));
    assert.ok(used.size >= 4, `clicks keyed by element spread over partitions: ${[...used]}`);
    const ids = await checkIdsUnique(assert, demo.nats);
    const s = await stats(page);
    console.log(`500 clicks (+${controls} on controls): each once in the stream (${messages.length} messages, ` +
      `${ids.length} unique ids); the reload replayed ${replayed.replayedRecords} records; sink ${JSON.stringify(s.sink)}`);

    // The screenshot: go offline again and burst, so the lanes show acknowledged,
    // pending and evicted records and the retention window; then deliver everything.
    await page.setViewportSize({ width: 1280, height: 1000 });
    await page.click("#offline");
    await waitDemo(page, () => window.demo.stats().state === "offline");
    await page.click("#burst");
    await clickTiles(page, 12);
    await waitDemo(page, () => window.demo.stats().durable.pending >= 1000);
    await sleep(900); // the arrival animation settles
    const lanes = await page.evaluate(() => [...document.querySelectorAll(".lane")].map((l) => ({
      text: l.querySelector(".info").textContent, width: l.querySelector("canvas").width,
    })));
    assert.equal(lanes.length, PARTITIONS, "one lane per partition");
    for (const l of lanes) {
      assert.match(l.text, /^offsets \d+–\d+/, `lane: ${l.text}`);
      assert.ok(l.width > 300, "lane canvas drawn");
    }
    const png = await page.screenshot({ fullPage: true });
    mkdirSync(join(root, "target/demo"), { recursive: true });
    const shot = join(root, "target/demo/screenshot.png");
    writeFileSync(shot, png);
    if (process.env.UPDATE_SCREENSHOT) copyFileSync(shot, join(root, "www/screenshot.png"));
    const look = await inspectPng(context, png);
    assert.ok(look.width >= 1000 && look.height >= 800, `screenshot size ${look.width}x${look.height}`);
    assert.ok(look.notBackground > 0.1, `screenshot mostly blank: ${JSON.stringify(look)}`);
    assert.ok(look.acked > 3000 && look.pending > 3000, `lanes show acknowledged and pending records: ${JSON.stringify(look)}`);
    console.log(`screenshot ${shot}: ${look.width}x${look.height}, ${(look.notBackground * 100).toFixed(0)}% drawn, ` +
      `${look.acked} acknowledged-green and ${look.pending} pending-amber pixels`);
    await page.click("#offline"); // back online
    await waitDelivered(page);
    checkSession(assert, await read(), session, tiles + controls + 1 + 1 + 1000 + 12 + 1);
    await checkIdsUnique(assert, demo.nats);
    page = null;
  });
});

/** Decodes a PNG in a blank page and counts what it shows. */
async function inspectPng(context, png) {
  const page = await context.newPage();
  try {
    return await page.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const g = canvas.getContext("2d");
      g.drawImage(bitmap, 0, 0);
      const { data } = g.getImageData(0, 0, bitmap.width, bitmap.height);
      const near = (i, [r, gg, b]) => Math.abs(data[i] - r) + Math.abs(data[i + 1] - gg) + Math.abs(data[i + 2] - b) < 40;
      let notBackground = 0, acked = 0, pending = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (!near(i, [0x0f, 0x14, 0x19])) notBackground++;
        if (near(i, [0x2b, 0xb3, 0x8a])) acked++;
        if (near(i, [0xf0, 0xa5, 0x3a])) pending++;
      }
      const n = data.length / 4;
      return { width: bitmap.width, height: bitmap.height, notBackground: notBackground / n, acked, pending };
    }, Buffer.from(png).toString("base64"));
  } finally {
    await page.close();
  }
}

test("a closed tab: records sent just before it closed arrive after the page is opened again", async () => {
  await withBrowser(async (context) => {
    // Tab A: offline (button), 30 clicks, closed at once: nothing of it reached JetStream.
    const a = await openDemo(context, demo.url);
    const sessionA = await a.evaluate(() => window.demo.session);
    await waitDemo(a, () => window.demo.stats().state === "connected");
    await a.click("#offline");
    await clickTiles(a, 30);
    await a.close();
    // Tab B: online; 60 clicks dispatched and the tab closed in the same breath, before
    // their sends resolved (pagehide appends them, the outbox keeps them).
    const b = await openDemo(context, demo.url);
    const sessionB = await b.evaluate(() => window.demo.session);
    await waitDemo(b, () => window.demo.stats().state === "connected");
    const pendingAtClose = await b.evaluate(() => {
      const tiles = [...document.querySelectorAll(".tile")];
      for (let i = 0; i < 60; i++) tiles[i % tiles.length].click();
      return window.demo.stats().durable.pending;
    });
    await b.close();
    // B, opening after A closed, finds A's outbox and sends it; C sends what B left (if
    // anything: B may have been through before it closed).
    const c = await openDemo(context, demo.url);
    await readUntil(read, (m) => countSession(m, sessionA) >= 31 && countSession(m, sessionB) >= 60);
    await waitDelivered(c);
    const messages = await read();
    checkSession(assert, messages, sessionA, 31); // 30 tiles + the offline button
    checkSession(assert, messages, sessionB, 60);
    await checkIdsUnique(assert, demo.nats);
    const replayed = (await stats(c)).durable;
    console.log(`closed tabs: A (offline, 31 records) and B (60 clicks, ${pendingAtClose} pending at close) ` +
      `delivered by the pages opened after them (C: ${replayed.replayedRecords} records replayed with their ids, ` +
      `${replayed.replayFresh} sent fresh); each once in the stream`);
  });
});

test("two tabs: a live tab's outbox is left alone; a closed tab's is sent by the other, once", async () => {
  await withBrowser(async (context) => {
    const a = await openDemo(context, demo.url);
    const b = await openDemo(context, demo.url);
    const [sa, sb] = await Promise.all([a, b].map((p) => p.evaluate(() => window.demo.session)));
    assert.notEqual(sa, sb, "each tab has its own session");
    await waitDemo(a, () => window.demo.stats().state === "connected");
    await a.click("#offline");
    await clickTiles(a, 20);
    await waitDemo(a, () => window.demo.stats().durable.saved >= 20);
    await clickTiles(b, 20);
    // B looks for outboxes: A's is there, with 21 records, but A is alive (its Web Lock).
    await b.evaluate(() => window.demo.durable.scan());
    await sleep(500);
    assert.equal((await stats(b)).durable.replayedGenerations, 0, "B replayed the outbox of a live tab");
    await waitDelivered(b);
    await a.close();
    await b.evaluate(() => window.demo.durable.scan());
    const d = await waitDemo(b, () => {
      const x = window.demo.stats().durable;
      return x.replayedGenerations >= 1 && x.replayPending === 0 && x.replaying === 0 && x;
    });
    assert.equal(d.replayedRecords, 21, "B sent A's 21 records");
    await waitDelivered(b);
    const messages = await read();
    checkSession(assert, messages, sa, 21);
    checkSession(assert, messages, sb, 20);
    await checkIdsUnique(assert, demo.nats);
    console.log("two tabs: B left A's outbox alone while A lived, then sent its 21 records once");
  });
});

test("starting offline: the page loads from its service worker, queues clicks, delivers them once online", async () => {
  await withBrowser(async (context) => {
    const first = await openDemo(context, demo.url);
    await first.evaluate(async () => {
      await navigator.serviceWorker.ready;
      const c = await caches.open("tributary-demo-v2");
      for (let i = 0; i < 100 && (await c.keys()).length < 16; i++) await new Promise((r) => setTimeout(r, 50));
    });
    await waitDelivered(first);
    await first.close();
    await context.setOffline(true);
    const page = await openDemo(context, demo.url);
    const s0 = await stats(page);
    assert.equal(s0.state, "offline", "started offline");
    assert.equal(s0.durable.online, false);
    const session = await page.evaluate(() => window.demo.session);
    await clickTiles(page, 15);
    await waitDemo(page, () => window.demo.stats().durable.saved >= 15);
    await context.setOffline(false);
    await waitDelivered(page);
    checkSession(assert, await read(), session, 15);
    console.log("started offline: 15 clicks waited in the outbox and were delivered once online");
  });
});

test("tributary/durable with localStorage: quota errors are reported, and the outbox is replayed when there is room", async () => {
  const files = await serveDir(root);
  try {
    await withBrowser(async (context) => {
      const pkg = process.env.TRIBUTARY_PKG ? `/${relative(root, process.env.TRIBUTARY_PKG)}/` : "../../../pkg/";
      const base = `${files.url}tests/js/demo/durable.html?` +
        new URLSearchParams({ ws: demo.nats.wsUrl, token: demo.nats.token, pkg });
      const run = (q) => runDurablePage(context, `${base}&${new URLSearchParams(q)}`);
      // localStorage full: every write of the outbox fails, and each failure is reported.
      const full = await run({ storage: "localstorage", fill: "1", offline: "1", count: "5", run: "full" });
      assert.equal(full.value.storage, "localstorage");
      assert.ok(full.value.errors.length >= 1, "quota errors reported");
      assert.ok(full.value.errors.every((e) => e.code === "STORAGE_QUOTA"), JSON.stringify(full.value.errors));
      assert.ok(full.value.stats.storageErrors >= 1);
      assert.equal(full.value.stats.saved, 0);
      await full.page.evaluate(() => localStorage.clear());
      await full.page.close();
      // With room: 10 records offline, the page closed, the next one replays them.
      const first = await run({ storage: "localstorage", offline: "1", count: "10", run: "ls" });
      assert.deepEqual(first.value.errors, []);
      assert.equal(first.value.stats.saved, 10);
      await first.page.close();
      // The next page replays both: the first run's outbox was written at its pagehide,
      // after the test made room.
      const next = await run({ storage: "localstorage", count: "0", run: "ls2" });
      await next.page.waitForFunction(() => window.__replays.filter((r) => r.done).length >= 2, null, { timeout: 20_000 });
      await next.page.close();
      const values = (await readMessages(demo.nats.port, "dtest", { token: demo.nats.token })).map((m) => m.data);
      for (const [run, n] of [["ls", 10], ["full", 5]]) {
        assert.deepEqual(values.filter((v) => v.startsWith(`${run}:`)).sort(),
          Array.from({ length: n }, (_, i) => `${run}:${i}`).sort(), `run ${run}: its ${n} records, once each`);
      }
      console.log(`localStorage: ${full.value.errors.length} quota errors reported (${full.value.errors[0].message}); ` +
        "the 5 + 10 records replayed from localStorage by the next page, once each");
    });
  } finally {
    await files.close();
  }
});

async function runDurablePage(context, url) {
  const page = await context.newPage();
  await page.goto(url);
  const value = await (await page.waitForFunction(() => window.__result, null, { timeout: 20_000 })).jsonValue();
  assert.equal(value.error, undefined, value.error);
  return { page, value };
}

test("without nats-server the page runs on the in-memory log and says so", async () => {
  const memory = await startDemo({ port: 0, nats: false, edge: false });
  try {
    assert.equal(memory.mode, "memory");
    await withBrowser(async (context) => {
      const page = await openDemo(context, memory.url);
      assert.match(await page.textContent("#mode"), /^In-memory mode: started without nats-server/);
      await clickTiles(page, 25);
      await waitDemo(page, () => window.demo.partitions().reduce((n, p) => n + p.highWatermark, 0) === 25);
      const s = await stats(page);
      assert.equal(s.state, "in-memory");
      assert.equal(await page.textContent("#state"), "in-memory");
      console.log("in-memory mode: the page says so; 25 clicks in the partition logs");
    });
  } finally {
    await memory.stop();
  }
});
