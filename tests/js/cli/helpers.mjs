// The `tributary` command as a user runs it: from the package installed (a copy, as the
// registry would give it) into tests/js/cli/app by `make test-cli`, through
// node_modules/.bin/tributary; nats-server on loopback (tests/js/sink/harness.mjs); the
// stream read back with the `nats` client over TCP (independent of the package).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { connect as natsConnect } from "nats";

export const root = new URL("../../../", import.meta.url).pathname;
export const app = join(root, "tests/js/cli/app");
export const bin = join(app, "node_modules/.bin/tributary");
export const installed = join(app, "node_modules/tributary");
export const deno = join(root, "node_modules/.bin/deno");

/** The command's peak RSS stays under this, whatever the input's size or --partitions:
 *  Node with the package loaded (50 MB), the log's 16 MiB of acknowledged records and up
 *  to 16 MiB of records waiting (and the wasm memory's high-water mark around them), the
 *  sink's window, the JS heap. */
export const RSS_BOUND_MB = 200;
export const bun = join(root, "node_modules/.bin/bun");

if (!existsSync(bin)) throw new Error(`${bin} is missing: run make test-cli (it installs pkg/ into ${app})`);

/**
 * Runs a command (default: the installed bin); resolves with { code, signal, stdout,
 * stderr, maxRssKb } once it exits. `input` is written to its stdin (then closed) unless
 * `stdin` is "keep" (the caller writes to `child.stdin`); `onSpawn(child)` sees the
 * process; `time`: run under /usr/bin/time -v, which reports the peak RSS.
 */
export function run(args, { cmd = bin, input, env = {}, cwd = app, timeoutMs = 120_000, onSpawn, time = false, stdin } = {}) {
  return new Promise((resolve, reject) => {
    const argv = time ? ["-v", cmd, ...args] : args;
    const child = spawn(time ? "/usr/bin/time" : cmd, argv, {
      cwd, env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"],
    });
    const out = [];
    let err = "";
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => { err += d; });
    child.stdin.on("error", () => {});
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      let stderr = err;
      let maxRssKb = null;
      if (time) {
        const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(err);
        maxRssKb = m ? Number(m[1]) : null;
        const at = err.lastIndexOf("\tCommand being timed:");
        if (at >= 0) stderr = err.slice(0, at);
        const exit = /Exit status: (\d+)/.exec(err);
        if (exit) code = Number(exit[1]);
      }
      resolve({ code, signal, stdout: Buffer.concat(out).toString("utf8"), stderr, maxRssKb });
    });
    onSpawn?.(child);
    if (stdin !== "keep") child.stdin.end(input ?? "");
  });
}

/**
 * Every message of `stream`, in stream order: { subject, partition, offset, key (a
 * Buffer, or null), value (a Buffer), headers (name -> value, a null-prototype object) }.
 * Waits until the stream holds `expect` messages when given (up to `timeoutMs`).
 */
export async function readAll(port, stream, { expect, timeoutMs = 60_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (expect !== undefined && (await streamCount(port, stream)) < expect && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  const out = [];
  await eachMessage(port, stream, (m) => {
    const headers = Object.create(null); // a "__proto__" header is a header like any other
    for (const [k, v] of m.headers ?? []) headers[k] = v[0];
    const parts = (headers["Nats-Msg-Id"] ?? "").split("-");
    let key = null;
    if (headers["Tributary-Key"] !== undefined) key = Buffer.from(headers["Tributary-Key"], "utf8");
    else if (headers["Tributary-Key-Base64"] !== undefined) key = Buffer.from(headers["Tributary-Key-Base64"], "base64url");
    out.push({
      subject: m.subject, partition: Number(parts.at(-2)), offset: Number(parts.at(-1)),
      key, value: Buffer.from(m.data), headers,
    });
  }, { timeoutMs });
  return out;
}

/**
 * Calls `each(message)` for every message of `stream` in stream order (message: the `nats`
 * client's JsMsg), without keeping them; resolves with the count.
 */
export async function eachMessage(port, stream, each, { timeoutMs = 120_000 } = {}) {
  const nc = await natsConnect({ servers: `127.0.0.1:${port}`, reconnect: false });
  try {
    const total = (await (await nc.jetstreamManager()).streams.info(stream)).state.messages;
    if (total === 0) return 0;
    const consumer = await nc.jetstream().consumers.get(stream);
    const iter = await consumer.consume({ max_messages: 10_000 });
    const timer = setTimeout(() => iter.stop(), timeoutMs);
    let n = 0;
    try {
      for await (const m of iter) {
        each(m);
        if (++n >= total) break;
      }
    } finally {
      clearTimeout(timer);
      iter.stop();
    }
    return n;
  } finally {
    await nc.close();
  }
}

/** The stream's message count (0 when it does not exist); `auth`: the `nats` client's
 *  token or user/pass options. */
export async function streamCount(port, stream, auth = {}) {
  const nc = await natsConnect({ servers: `127.0.0.1:${port}`, reconnect: false, ...auth });
  try {
    const jsm = await nc.jetstreamManager();
    return (await jsm.streams.info(stream)).state.messages;
  } catch {
    return 0;
  } finally {
    await nc.close();
  }
}

/** Creates `stream` with subjects `<stream>.*` (file storage, a long duplicate window). */
export async function createStream(port, stream) {
  const nc = await natsConnect({ servers: `127.0.0.1:${port}`, reconnect: false });
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: stream, subjects: [`${stream}.*`] });
  } finally {
    await nc.close();
  }
}
