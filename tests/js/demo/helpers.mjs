// Helpers of the demo tests: clicking the demo page for real (trusted mouse events at the
// tiles' centres), waiting for what the page reports (window.demo), and reading the
// click records back from JetStream with the `nats` client (an independent reader).
import { connect } from "nats";
import { launchChromium } from "../harness/browser.mjs";
import { readStream } from "../sink/harness.mjs";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Opens the demo in a new page of `context`; resolves once the package is loaded. */
export async function openDemo(context, url, { timeout = 20_000 } = {}) {
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e}`));
  page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
  page.problems = problems;
  await page.goto(url);
  await waitDemo(page, () => window.demo?.ready === true, null, timeout);
  return page;
}

/** Waits until `fn(arg)`, evaluated in the page, is truthy; the failure says what the page reported. */
export async function waitDemo(page, fn, arg = null, timeout = 30_000) {
  try {
    return await (await page.waitForFunction(fn, arg, { timeout, polling: 50 })).jsonValue();
  } catch (e) {
    const stats = await page.evaluate(() => window.demo?.stats?.()).catch(() => null);
    const events = await page.evaluate(() => window.demo?.events).catch(() => null);
    throw new Error(`${e.message}\nstats: ${JSON.stringify(stats)}\nevents: ${JSON.stringify(events)}\n` +
      `problems: ${JSON.stringify(page.problems ?? [])}`);
  }
}

/** Clicks `n` tiles with the mouse (trusted events), round robin from `start`. */
export async function clickTiles(page, n, start = 0) {
  const centres = await page.evaluate(() => [...document.querySelectorAll(".tile")].map((t) => {
    const r = t.getBoundingClientRect();
    return [r.left + r.width / 2, r.top + r.height / 2];
  }));
  for (let i = 0; i < n; i++) {
    const [x, y] = centres[(start + i) % centres.length];
    await page.mouse.click(x, y);
  }
}

/** The page's stats (window.demo.stats()). */
export const stats = (page) => page.evaluate(() => window.demo.stats());

/** Waits until the page has nothing left to deliver: its own records and any replay. */
export function waitDelivered(page, timeout = 30_000) {
  return waitDemo(page, () => {
    const s = window.demo.stats();
    return s.state === "connected" && s.durable.pending === 0 && s.durable.replaying === 0 &&
      s.durable.replayPending === 0 && s.sink.inFlight === 0;
  }, null, timeout);
}

/**
 * Every message of `stream` (the `nats` client, over TCP): [{ msgId, subject, data }] in
 * stream order, `data` parsed as JSON (or the text when it is not JSON).
 */
export async function readMessages(port, stream, { token, timeoutMs = 30_000, fromSeq = 1 } = {}) {
  const nc = await connect({ servers: `127.0.0.1:${port}`, token });
  try {
    const jsm = await nc.jetstreamManager();
    const { state } = await jsm.streams.info(stream);
    // The stream never deletes a message here: sequences fromSeq..last_seq are all there.
    const total = fromSeq <= 1 ? state.messages : Math.max(0, state.last_seq - fromSeq + 1);
    const out = [];
    if (total === 0) return out;
    const consumer = await nc.jetstream().consumers.get(stream,
      fromSeq <= 1 ? {} : { deliver_policy: "by_start_sequence", opt_start_seq: fromSeq });
    const iter = await consumer.consume({ max_messages: 1000 });
    const timer = setTimeout(() => iter.stop(), timeoutMs);
    for await (const m of iter) {
      let data = m.string();
      try { data = JSON.parse(data); } catch { /* plain text */ }
      out.push({ msgId: m.headers?.get("Nats-Msg-Id") ?? "", subject: m.subject, seq: m.seq, data });
      if (out.length >= total) break;
    }
    clearTimeout(timer);
    return out;
  } finally {
    await nc.close();
  }
}

/**
 * Checks that the stream holds session `session`'s clicks 1..n, each exactly once; returns
 * that session's messages.
 */
export function checkSession(assert, messages, session, n) {
  const mine = messages.filter((m) => m.data?.session === session);
  const seqs = mine.map((m) => m.data.seq).sort((a, b) => a - b);
  const seen = new Set();
  for (const s of seqs) {
    assert.ok(!seen.has(s), `session ${session}: click ${s} is in the stream twice`);
    seen.add(s);
  }
  const missing = [];
  for (let i = 1; i <= n; i++) if (!seen.has(i)) missing.push(i);
  assert.deepEqual(missing, [], `session ${session}: clicks missing from the stream`);
  assert.equal(mine.length, n, `session ${session}: exactly ${n} click records`);
  return mine;
}

/** The stream's last sequence (0 when empty): a run's messages come after it. */
export async function lastSeq(port, stream, { token } = {}) {
  const nc = await connect({ servers: `127.0.0.1:${port}`, token });
  try {
    return (await (await nc.jetstreamManager()).streams.info(stream)).state.last_seq;
  } finally {
    await nc.close();
  }
}

/** How many of `messages` are session `session`'s clicks. */
export const countSession = (messages, session) => messages.filter((m) => m.data?.session === session).length;

/** Calls `read()` until `done(messages)` (or `timeoutMs` pass): records may arrive after a page closed. */
export async function readUntil(read, done, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const messages = await read();
    if (done(messages) || Date.now() > deadline) return messages;
    await sleep(250);
  }
}

/** Every message id of the `clicks` stream is there once, each on its partition's subject (the harness's independent reader). */
export async function checkIdsUnique(assert, nats) {
  const messages = await readStream(nats.port, "clicks", { token: nats.token });
  const ids = new Set(messages.map((m) => m.msgId));
  assert.equal(ids.size, messages.length, "a Nats-Msg-Id is in the stream twice");
  for (const m of messages) assert.equal(m.subject, `clicks.${m.partition}`, `${m.msgId} on its partition's subject`);
  return messages;
}

/** Runs `f(context)` in a fresh headless Chromium (its own profile), closed afterwards. */
export async function withBrowser(f) {
  const browser = await launchChromium();
  try {
    return await f(browser.context);
  } finally {
    await browser.close();
  }
}
