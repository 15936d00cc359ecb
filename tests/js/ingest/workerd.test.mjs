// tributary/ingest in Cloudflare's workerd (npm package workerd): a worker (worker.mjs)
// whose modules are the built package's files (pkg/), as an app's node_modules/tributary
// holds them, served on loopback beside a real nats-server; the cases of cases.mjs.
import { test } from "node:test";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { accepts, freePort, sleep, workerdWithIngest } from "../../../scripts/loopback.mjs";
import { ORIGIN, LIMITS, SECRET, TOPICS, runCases } from "./cases.mjs";
import { startIngestNats } from "./nats.mjs";

const root = new URL("../../../", import.meta.url).pathname;
const pkg = join(root, "pkg");

test("the ingest as a worker in workerd: records stored once with the page's ids, every bad request refused", async () => {
  const nats = await startIngestNats("ingest-workerd");
  const dir = mkdtempSync(join(tmpdir(), "tributary-ingest-workerd-"));
  const port = await freePort();
  workerdWithIngest(dir, {
    pkg, worker: join(root, "tests/js/ingest/worker.mjs"), port,
    bindings: [
      ["INGEST_SECRET", SECRET],
      ["NATS_URL", nats.url],
      ["NATS_TOKEN", nats.token],
      ["INGEST_TOPICS", JSON.stringify(TOPICS).replaceAll('"', '\\"')],
      ["INGEST_LIMITS", JSON.stringify(LIMITS).replaceAll('"', '\\"')],
      ["ALLOWED_ORIGINS", ORIGIN],
    ],
  });
  let output = "";
  const workerd = spawn(join(root, "node_modules/.bin/workerd"), ["serve", join(dir, "config.capnp")], { stdio: ["ignore", "pipe", "pipe"] });
  workerd.stdout.on("data", (d) => { output += d; });
  workerd.stderr.on("data", (d) => { output += d; });
  try {
    const deadline = Date.now() + 30_000;
    while (!(await accepts(port))) {
      if (workerd.exitCode !== null || Date.now() > deadline) throw new Error(`workerd did not start:\n${output}`);
      await sleep(50);
    }
    await runCases({ base: `http://127.0.0.1:${port}/`, nats, label: "workerd", grant: "wkrd" });
  } catch (e) {
    e.message += `\nworkerd said:\n${output}`;
    throw e;
  } finally {
    const exited = new Promise((r) => workerd.once("exit", r));
    workerd.kill("SIGTERM");
    await Promise.race([exited, sleep(3000)]);
    if (workerd.exitCode === null && workerd.signalCode === null) workerd.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    await nats.stop();
  }
});
