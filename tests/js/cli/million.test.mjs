// 1,000,000 lines from a file into JetStream through `tributary produce` (the installed
// package's bin, Node 20, under /usr/bin/time -v for its peak RSS): each line exactly
// once, on the partition partitionFor gives for its key, in line order per partition; and
// the process's peak memory stays under a bound that does not grow with the input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { startNats } from "../sink/harness.mjs";
import { run, eachMessage, installed, RSS_BOUND_MB } from "./helpers.mjs";

const N = 1_000_000;
const PARTITIONS = 8;
// The bound (helpers.mjs RSS_BOUND_MB, 200 MB; measured here: 158 MB). The file is larger
// than the bound, so holding it would fail the test.

test("1,000,000 lines: each once, on partitionFor's partition, in line order per partition; peak RSS bounded", { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "tributary-cli-1m-"));
  const nats = await startNats({ name: "cli-1m" });
  try {
    const path = join(dir, "million.txt");
    const out = createWriteStream(path);
    const pad = "x".repeat(200);
    let bytes = 0;
    for (let i = 1; i <= N; i += 10_000) {
      let s = "";
      for (let j = i; j < i + 10_000; j++) s += `user-${j % 10_007}:${j} ${pad}\n`;
      bytes += s.length;
      if (!out.write(s)) await once(out, "drain");
    }
    out.end();
    await once(out, "close");
    assert.ok(bytes / 1e6 > RSS_BOUND_MB, `the file (${(bytes / 1e6).toFixed(0)} MB) is larger than the bound`);

    const r = await run(["produce", "million", "--server", nats.url, "--provision", "--partitions", String(PARTITIONS),
      "--key-separator", ":", "--file", path], { time: true, timeoutMs: 240_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /tributary: 1000000 records acknowledged from 1000000 lines/);
    console.log(`# ${r.stderr.trim()}; peak RSS ${(r.maxRssKb / 1024).toFixed(0)} MB`);
    assert.ok(r.maxRssKb / 1024 < RSS_BOUND_MB, `peak RSS ${(r.maxRssKb / 1024).toFixed(0)} MB, bound ${RSS_BOUND_MB} MB`);

    const { partitionFor } = await import(join(installed, "node.js"));
    const seen = new Uint8Array(N + 1);
    const lastLine = new Array(PARTITIONS).fill(0);
    const lastOffset = new Array(PARTITIONS).fill(-1);
    const dec = new TextDecoder();
    let problems = 0;
    const problem = (what) => { if (problems++ < 5) console.log(`# ${what}`); };
    const count = await eachMessage(nats.port, "million", (m) => {
      const key = m.headers.get("Tributary-Key");
      const value = dec.decode(m.data);
      const line = Number(value.slice(0, value.indexOf(" ")));
      const [p, o] = m.headers.get("Nats-Msg-Id").split("-").slice(-2).map(Number);
      if (key !== `user-${line % 10_007}` || value !== `${line} ${pad}`) problem(`line ${line}: key ${key}`);
      if (seen[line]++) problem(`line ${line} twice`);
      if (p !== partitionFor(key, PARTITIONS) || m.subject !== `million.${p}`) problem(`line ${line} on partition ${p}`);
      if (line <= lastLine[p] || o !== lastOffset[p] + 1) problem(`partition ${p}: line ${line} at ${o} after line ${lastLine[p]} at ${lastOffset[p]}`);
      lastLine[p] = line;
      lastOffset[p] = o;
    });
    assert.equal(count, N, "the stream holds N messages");
    assert.equal(problems, 0, "every message checked");
    assert.equal(seen.indexOf(0, 1), -1, "every line arrived");
  } finally {
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
