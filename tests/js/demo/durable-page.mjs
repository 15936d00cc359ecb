// tributary/durable from a plain page, for the paths the demo page does not take:
// `storage` forced ("localstorage"), localStorage filled to its quota first (`fill=1`:
// every write of the outbox must then be reported, never swallowed), offline start.
// Sends `count` records keyed `k<i>` with values `<run>:<i>`; window.__result gets the
// durable layer's stats and the errors it reported. window.__durable stays for the test.
const q = new URLSearchParams(location.search);
// ?pkg=<path>: another build of the package under the served root (default pkg/).
const pkg = q.get("pkg") ?? "../../../pkg/";
const { Tributary } = await import(`${pkg}browser.js`);
const { openDurable } = await import(`${pkg}durable.js`);

const errors = [];
const replays = [];
try {
  if (q.get("fill")) {
    // Fill localStorage until the browser refuses (QuotaExceededError).
    const chunk = "x".repeat(256 * 1024);
    for (let i = 0; i < 1000; i++) {
      try { localStorage.setItem(`filler-${i}`, chunk); } catch { break; }
    }
    const small = "y".repeat(1024);
    for (let i = 0; i < 1000; i++) {
      try { localStorage.setItem(`filler-small-${i}`, small); } catch { break; }
    }
  }
  const client = new Tributary();
  const topic = q.get("topic") ?? "dtest";
  client.createTopic(topic, { partitions: 3 });
  const durable = await openDurable(client, topic, {
    server: q.get("ws"), token: q.get("token") ?? undefined, provision: true, duplicateWindowMs: 3_600_000,
    storage: q.get("storage") ?? "auto", name: "tributary-durable-test", scanIntervalMs: 500,
    onError: (e) => errors.push({ name: e.name, code: e.code, message: e.message }),
    onReplay: (r) => replays.push(r),
  });
  window.__durable = durable;
  if (q.get("offline")) durable.pause();
  const producer = durable.producer();
  const run = q.get("run") ?? "r";
  const mds = [];
  for (let i = 0; i < Number(q.get("count") ?? 0); i++) mds.push(producer.send(`k${i}`, `${run}:${i}`));
  await Promise.all(mds);
  await new Promise((r) => setTimeout(r, 50)); // the outbox writes of this turn
  window.__result = { stats: durable.stats(), errors, replays, storage: durable.storage };
} catch (e) {
  window.__result = { error: `${e?.code ?? ""} ${e?.message ?? e}`, errors };
}
window.__errors = errors;
window.__replays = replays;
