// The demo page's way out (issue 15): `make demo`'s server (www/serve.mjs on free loopback
// ports) with the edge worker in workerd, whose /ingest is tributary/ingest. In headless
// Chromium with real mouse clicks: the page's WebSocket to NATS is cut (Playwright's
// WebSocket routing) part of the time, and the records not acknowledged when the tab
// closes go to the ingest by beacon. The stream is read back with the `nats` client.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startDemo } from "../../../www/serve.mjs";
import {
  openDemo, waitDemo, clickTiles, stats, waitDelivered, readMessages, checkSession, sleep,
  countSession, readUntil, checkIdsUnique, withBrowser,
} from "./helpers.mjs";

let demo;
before(async () => {
  demo = await startDemo({ port: 0 });
  assert.ok(demo.edge, "the edge worker runs (workerd)");
});
after(async () => { await demo?.stop(); });

const read = () => readMessages(demo.nats.port, "clicks", { token: demo.nats.token });

/**
 * Routes every WebSocket of `context` through Playwright: `block()` closes the open ones
 * and refuses new ones (the page's sink keeps reconnecting, in vain) until `unblock()`.
 */
async function webSocketGate(context) {
  const gate = { blocked: false, live: new Set(), refused: 0, opened: 0 };
  await context.routeWebSocket(/.*/, (ws) => {
    if (gate.blocked) { gate.refused++; ws.close(); return; }
    gate.opened++;
    const server = ws.connectToServer();
    gate.live.add({ ws, server });
  });
  gate.block = async () => {
    gate.blocked = true;
    for (const { ws, server } of gate.live) { await ws.close().catch(() => {}); await server.close().catch(() => {}); }
    gate.live.clear();
  };
  gate.unblock = () => { gate.blocked = false; };
  return gate;
}

/**
 * 500 clicks: 150 online, 150 with the WebSocket cut (then let through again and
 * delivered), 120 online, 80 with it cut; returns with those last 80 in the log, not
 * acknowledged, and the stream holding the first 420. (Keyed by session, every click goes
 * to one partition, whose log takes 100 records not acknowledged before sends wait.)
 */
async function clicksWithCuts(page, gate, session) {
  await waitDemo(page, () => window.demo.stats().state === "connected");
  await clickTiles(page, 150, 0);
  await gate.block();
  await waitDemo(page, () => window.demo.stats().state !== "connected");
  await clickTiles(page, 150, 150);
  await sleep(300);
  gate.unblock();
  await clickTiles(page, 120, 300);
  await waitDelivered(page);
  await gate.block();
  await waitDemo(page, () => window.demo.stats().state !== "connected");
  await clickTiles(page, 80, 420);
  // Every click has its id and is in the log (pending: the sink cannot send it).
  await waitDemo(page, () => {
    const d = window.demo.stats().durable;
    return d.unassigned === 0 && d.pending === 80;
  });
  const before = countSession(await read(), session);
  assert.equal(before, 420, "the last 80 clicks did not reach JetStream while the WebSocket was cut");
}

test("500 clicks, the WebSocket cut part of the time, the tab closed and never opened again: all 500 in the stream, each once (by beacon)", async () => {
  await withBrowser(async (context) => {
    const gate = await webSocketGate(context);
    const page = await openDemo(context, demo.url);
    const session = await page.evaluate(() => window.demo.session);
    await clicksWithCuts(page, gate, session);
    await page.close(); // pagehide: the beacon
    const messages = await readUntil(read, (m) => countSession(m, session) >= 500);
    checkSession(assert, messages, session, 500);
    await checkIdsUnique(assert, demo.nats);
    console.log(`never reopened: 500 clicks each once; the last 80 (WebSocket cut) arrived by beacon after the tab closed ` +
      `(${gate.refused} WebSocket connections refused)`);
  });
});

test("the same, then the page opened again: its replay of the outbox is dropped as duplicates, each click once", async () => {
  await withBrowser(async (context) => {
    const gate = await webSocketGate(context);
    const page = await openDemo(context, demo.url);
    const session = await page.evaluate(() => window.demo.session);
    await clicksWithCuts(page, gate, session);
    await page.close();
    await readUntil(read, (m) => countSession(m, session) >= 500);
    gate.unblock();
    const next = await openDemo(context, demo.url);
    const replayed = await waitDemo(next, () => {
      const d = window.demo.stats().durable;
      return d.replayedRecords > 0 && d.replaying === 0 && d.replayPending === 0 && d;
    });
    await waitDelivered(next);
    // The previous page's beacon, as the page says it.
    const said = await next.evaluate(() => window.demo.events.map((e) => e.text).find((t) => t.startsWith("the previous page sent")));
    assert.equal(said, undefined, "a new tab has its own sessionStorage: nothing to say"); // (a reload would)
    const messages = await read();
    checkSession(assert, messages, session, 500);
    await checkIdsUnique(assert, demo.nats);
    assert.equal(replayed.replayFailed, 0);
    assert.ok(replayed.replayDuplicates >= 1, `the replay's copies of beaconed records were duplicates: ${JSON.stringify(replayed)}`);
    console.log(`reopened: the outbox's ${replayed.replayedRecords} records replayed with their ids, ` +
      `${replayed.replayDuplicates} of them dropped as duplicates (the beacon had delivered them); each click once`);
  });
});

test("a reload after a beacon: the next page says what went out by beacon", async () => {
  await withBrowser(async (context) => {
    const gate = await webSocketGate(context);
    const page = await openDemo(context, demo.url);
    await waitDemo(page, () => window.demo.stats().state === "connected");
    await gate.block();
    await waitDemo(page, () => window.demo.stats().state !== "connected");
    await clickTiles(page, 20);
    await waitDemo(page, () => window.demo.stats().durable.pending === 20 && window.demo.stats().durable.unassigned === 0);
    // The WebSocket stays cut across the reload: only the beacon can deliver them.
    await Promise.all([page.waitForEvent("load"), page.click("#reload")]);
    await waitDemo(page, () => window.demo?.ready === true);
    const said = await page.evaluate(() => window.demo.events.map((e) => e.text).find((t) => t.startsWith("the previous page sent")));
    // 20 tiles, and the Reload button's own click when it reached the log before pagehide.
    assert.match(said ?? "", /^the previous page sent (20|21) records by beacon \(\d+ bytes, beacon\) as it was left$/, `the page says: ${said}`);
    assert.match(await page.textContent("#c-beacon"), /^0 in 0$/, "this page has sent no beacon yet");
    console.log(`reload: "${said}"`);
  });
});

test("HTTP transport only, no NATS credentials in the page, the ingest cut part of the time: 500 clicks each once, also after a reopen", async () => {
  await withBrowser(async (context) => {
    const url = `${demo.url}?transport=http`;
    const config = await (await fetch(`${demo.url}config.json?transport=http`)).json();
    assert.equal(config.mode, "http");
    assert.ok(!("token" in config) && !("ws" in config), `no NATS credentials in the page's config: ${JSON.stringify(config)}`);
    let cut = false;
    let refused = 0;
    await context.route("**/ingest", (route) => {
      if (cut) { refused++; return route.abort(); }
      return route.continue();
    });
    const sockets = [];
    context.on("page", (p) => p.on("websocket", (ws) => sockets.push(ws.url())));
    const page = await openDemo(context, url);
    const session = await page.evaluate(() => window.demo.session);
    await clickTiles(page, 200, 0);
    cut = true;
    await clickTiles(page, 150, 200);
    await waitDemo(page, () => window.demo.stats().state === "reconnecting");
    cut = false;
    await clickTiles(page, 100, 350);
    await waitDelivered(page);
    await clickTiles(page, 50, 450);
    await waitDemo(page, () => window.demo.stats().durable.unassigned === 0); // every click has its id
    await page.close();
    let messages = await readUntil(read, (m) => countSession(m, session) >= 500);
    checkSession(assert, messages, session, 500);
    // Opened again: whatever the outbox still held goes again, with its own token's grant.
    const next = await openDemo(context, url);
    await waitDemo(next, () => { const d = window.demo.stats().durable; return d.replaying === 0 && d.replayPending === 0; });
    await waitDelivered(next);
    messages = await read();
    checkSession(assert, messages, session, 500);
    await checkIdsUnique(assert, demo.nats);
    assert.deepEqual(sockets, [], "the page opened no WebSocket");
    const s = await stats(next);
    assert.equal(s.state, "connected");
    console.log(`HTTP only: 500 clicks each once (${refused} requests refused while the ingest was cut); no WebSocket, no NATS credentials`);
  });
});
