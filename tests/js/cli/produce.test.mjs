// `tributary produce` and `tributary partition` as a user runs them
// (node_modules/.bin/tributary of the installed package, Node 20: the command's own
// WebSocket client), against nats-server on loopback; what arrived is read back with the
// `nats` client. Usage errors, the key-separator edge cases, producer options, refused
// credentials, wss:// with a private CA, a server that is down (and the backpressure that
// bounds reading), the progress line on a terminal, Ctrl-C, Deno and Bun.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, mkdirSync, rmSync, readFileSync, createWriteStream, openSync, closeSync, constants } from "node:fs";
import { execFileSync } from "node:child_process";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { startNats, freePort, sleep } from "../sink/harness.mjs";
import { credsAuthenticator } from "nats";
import { WebSocketServer } from "ws";
import { run, readAll, streamCount, root as repoRoot, bin, installed, deno, bun, RSS_BOUND_MB } from "./helpers.mjs";
import { makeTls, operatorSetup } from "../security/helpers.mjs";

const dir = mkdtempSync(join(tmpdir(), "tributary-cli-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
const file = (name, content) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

/** A usage error: exit 2, nothing on stdout, the message then the usage on stderr. */
function assertUsage(r, message, usage = "Usage: tributary produce") {
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines[0], message);
  assert.ok(lines[1].startsWith(usage), r.stderr);
}

test("--help for each command, and the command list", async () => {
  const top = await run(["--help"]);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /produce <topic>/);
  assert.match(top.stdout, /partition <key>/);
  const produce = await run(["produce", "--help"]);
  assert.equal(produce.code, 0);
  for (const option of ["--file", "--raw", "--key-separator", "--key", "--partitions", "--partition", "--header", "--linger",
    "--batch-size", "--compression", "--server", "--token", "--user", "--password", "--creds", "--stream",
    "--subject-prefix", "--provision", "--delivery", "--timeout", "--verbose"]) {
    assert.ok(produce.stdout.includes(option), `produce --help names ${option}`);
  }
  const partition = await run(["partition", "-h"]);
  assert.equal(partition.code, 0);
  assert.match(partition.stdout, /--murmur2/);
  const version = await run(["--version"]);
  assert.match(version.stdout, /^tributary \d+\.\d+\.\d+/);
  // `tributary help <command>` is the command's --help; combined short flags work (-vh).
  for (const [args, same] of [[["help", "produce"], produce], [["help", "partition"], partition], [["produce", "-vh"], produce], [["help"], top]]) {
    const r = await run(args);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stdout, same.stdout, args.join(" "));
  }
  assertUsage(await run(["--version", "extra"]), "tributary: unexpected argument 'extra'", "Usage: tributary <command>");
  assertUsage(await run(["help", "consume"]), "tributary: unexpected argument 'consume' (commands: produce, partition)",
    "Usage: tributary <command>");
});

test("usage errors: exit 2 with a one-line message and the usage", async () => {
  const server = ["--server", "ws://127.0.0.1:1"];
  assertUsage(await run(["produce", "t", ...server, "--frobnicate"]), "tributary produce: unknown option --frobnicate");
  assertUsage(await run(["produce", "t", ...server, "-Z"]), "tributary produce: unknown option -Z");
  assertUsage(await run(["produce", "t", ...server, "-vZ"]), "tributary produce: unknown option -Z");
  assertUsage(await run(["produce", "t", ...server, "-vp"]), "tributary produce: option --partition needs a value (p)");
  assertUsage(await run(["produce", "t", ...server, "-vpx"]), "tributary produce: option --partition: bad value 'x': not a whole number");
  assertUsage(await run(["produce", ...server]), "tributary produce: missing <topic>");
  assertUsage(await run(["produce", "t", "u", ...server]), "tributary produce: unexpected argument 'u'");
  assertUsage(await run(["produce", "t", ...server, "--partitions", "abc"]),
    "tributary produce: option --partitions: bad value 'abc': not a whole number");
  assertUsage(await run(["produce", "t", ...server, "--partitions", "0"]),
    "tributary produce: option --partitions: bad value '0': must be 1 to 65536");
  assertUsage(await run(["produce", "t", ...server, "--linger=5 parsecs"]),
    "tributary produce: option --linger: bad value '5 parsecs': not a duration (e.g. 150ms, 20s, 2m)");
  assertUsage(await run(["produce", "t", ...server, "--batch-size"]), "tributary produce: option --batch-size needs a value (bytes)");
  // The value quoted is the one given (it was '0' for "0.4", rounded to whole milliseconds).
  for (const zero of ["0", "0.4", "0s"]) {
    assertUsage(await run(["produce", "t", ...server, "--timeout", zero]),
      `tributary produce: option --timeout: bad value '${zero}': must be at least 1ms`);
  }
  assertUsage(await run(["produce", "t", ...server, "--compression", "zstd"]),
    "tributary produce: option --compression: bad value 'zstd': must be one of none, gzip, snappy, lz4");
  assertUsage(await run(["produce", "t", ...server, "--partitions", "4", "--partition", "4"]),
    "tributary produce: --partition 4 is not below --partitions 4");
  assertUsage(await run(["produce", "t", ...server, "--key", "k", "--key-separator", ":"]),
    "tributary produce: --key and --key-separator exclude each other");
  assertUsage(await run(["produce", "t"]),
    "tributary produce: no server: give --server ws://host:port (a nats-server WebSocket listener)");
  assertUsage(await run(["produce", "t", "--server", "http://127.0.0.1:1"]),
    "tributary produce: option --server: bad value: not a ws:// or wss:// URL");
  assertUsage(await run(["produce", "t", ...server, "--file", join(dir, "absent.txt")]),
    `tributary produce: cannot read --file '${join(dir, "absent.txt")}': no such file`);
  mkdirSync(join(dir, "a-directory"), { recursive: true });
  assertUsage(await run(["produce", "t", ...server, "-f", join(dir, "a-directory")]),
    `tributary produce: cannot read --file '${join(dir, "a-directory")}': it is a directory`);
  assertUsage(await run(["produce", "t", ...server, "--creds", join(dir, "absent.creds")]),
    `tributary produce: cannot read --creds file '${join(dir, "absent.creds")}': ENOENT`);
  assertUsage(await run(["produce", "t", ...server, "--user", "bob"]), "tributary produce: --user needs --password (or TRIBUTARY_PASSWORD)");
  assertUsage(await run(["partition", "k"]), "tributary partition: missing --partitions <n>", "Usage: tributary partition");
  assertUsage(await run(["produce", "bad.topic", ...server]),
    "tributary produce: invalid topic name: only A-Z, a-z, 0-9, '-' and '_' are allowed");
  // What the sink refuses (here a stream name), with and without --provision.
  for (const provision of [[], ["--provision"]]) {
    const r = await run(["produce", "t", ...server, "--stream", "a stream", ...provision]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^tributary produce: .*stream.*\nUsage: tributary produce/);
  }
  const none = await run([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^tributary: missing <command>\nUsage: tributary <command>/);
  assert.equal((await run(["consume", "t"])).code, 2);
});

test("usage errors never show a credential", async () => {
  const secret = "pa55-WORD-x1";
  const cases = [
    ["produce", "t", "--server", `ws://bob:${secret}@127.0.0.1:1`],
    ["produce", "t", "--server", `ws://127.0.0.1:1`, "--token", secret, "--token", secret],
    ["produce", "t", "--server", `ws://127.0.0.1:1`, `--password=${secret}`],
    ["produce", "t", "--server", `ws://127.0.0.1:1`, "--token", secret, "--user", "bob", "--password", secret],
  ];
  for (const args of cases) {
    const r = await run(args, { env: { TRIBUTARY_PASSWORD: secret } });
    assert.equal(r.code, 2, r.stderr);
    assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret), `${args.join(" ")}: ${r.stderr}`);
  }
});

test("a secret given on the command line leaves the process title (ps, /proc/<pid>/cmdline) while it runs", async () => {
  const secret = "pa55-WORD-x2";
  const down = `ws://127.0.0.1:${await freePort()}`; // nothing listens: the command waits for stdin
  const cases = [
    [["--token", secret], ["--token", "***"]],
    [[`--token=${secret}`], ["--token=***"]],
    [["--user", "bob", "--password", secret], ["--user", "bob", "--password", "***"]],
    [["--user", "bob", `--password=${secret}`], ["--user", "bob", "--password=***"]],
  ];
  for (const [args, shown] of cases) {
    let title = null;
    await run(["produce", "t", "-s", down, ...args], {
      stdin: "keep",
      onSpawn: async (child) => {
        // The title is set at start-up: poll until it is (or give up after 15 s).
        const deadline = Date.now() + 15_000;
        while (Date.now() < deadline) {
          try {
            title = readFileSync(`/proc/${child.pid}/cmdline`, "utf8").replace(/\0+$/, "").replaceAll("\0", " ");
          } catch {
            title = null;
          }
          if (title?.startsWith("tributary produce")) break;
          await sleep(50);
        }
        child.kill("SIGKILL");
      },
    });
    assert.equal(title, ["tributary", "produce", "t", "-s", "***", ...shown].join(" "), `${args.join(" ")}`);
    assert.ok(!title.includes(secret));
  }
});

test("--file of a FIFO: read once, as it is written (not opened twice: the writer's lines were lost and the command hung)", async () => {
  const nats = await startNats({ name: "cli-fifo" });
  try {
    const fifo = join(dir, "lines.fifo");
    execFileSync("mkfifo", [fifo]);
    let writer;
    const r = await run(["produce", "fifo", "-s", nats.url, "--provision", "--key-separator", ":", "-f", fifo, "-v"], {
      timeoutMs: 30_000,
      onSpawn: () => {
        // The writer opens the FIFO once the command does, writes and closes it.
        writer = new Promise((resolve) => {
          const out = createWriteStream(fifo);
          out.on("error", (e) => resolve(e.code));
          out.end("a:1\nb:2\nc:3\n", () => resolve("written"));
        });
      },
    });
    // A writer still waiting for a reader (a command that never opened the FIFO) gets one
    // here, so that the test ends either way.
    closeSync(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await writer, "written");
    assert.match(r.stderr, /tributary: 3 records acknowledged from 3 lines/);
    const got = await readAll(nats.port, "fifo", { expect: 3 });
    assert.deepEqual(got.map((m) => [m.key.toString(), m.value.toString()]), [["a", "1"], ["b", "2"], ["c", "3"]]);
  } finally {
    await nats.stop();
  }
});

test("lines not sent are counted, and only the first kept: memory does not grow with them", async () => {
  // 4,000,000 lines, every other one empty and the rest without the separator: each line
  // not sent used to be kept as a range of its own (about 450 MB here, 780 MB for 8,000,000).
  const N = 4_000_000;
  const input = "b\n\n".repeat(N / 2);
  const r = await run(["produce", "t", "-s", `ws://127.0.0.1:${await freePort()}`, "--key-separator", ":"], { input, time: true });
  assert.equal(r.code, 1, r.stderr);
  const firstTwenty = Array.from({ length: 20 }, (_, i) => 2 * i + 1).join(", ");
  assert.equal(r.stderr.split("\n")[1],
    `tributary: not sent: ${N / 2} lines without the key separator ':': lines ${firstTwenty}, and ${N / 2 - 20} more`);
  console.log(`# ${N / 2} lines not sent: peak RSS ${(r.maxRssKb / 1024).toFixed(0)} MB`);
  assert.ok(r.maxRssKb < 150 * 1024, `peak RSS ${r.maxRssKb} kB`);
});

test("lines not acknowledged on many partitions are named in line order, as whole ranges", async () => {
  // 20,000 keyed lines over 8 partitions, the server down: every line waits. Partition by
  // partition, the first's lines (every 8th or so) would fill what the report keeps.
  const input = Array.from({ length: 20_000 }, (_, i) => `k${i}:v`).join("\n");
  const r = await run(["produce", "t", "-s", `ws://127.0.0.1:${await freePort()}`, "--partitions", "8", "--key-separator", ":",
    "--timeout", "2s"], { input });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /tributary: not acknowledged: 20000 records: lines 1-20000\n/);
});

test("tributary partition: partitionFor's answer, and kafkajs's with --murmur2", async () => {
  const { partitionFor } = await import(join(installed, "node.js"));
  // DESIGN.md's samples (partitions 2, 3, 7).
  const samples = { "": [1, 2, 3], "user-1": [0, 1, 5], click: [0, 1, 4] };
  for (const [key, want] of Object.entries(samples)) {
    const got = [];
    for (const n of [2, 3, 7]) {
      const r = await run(["partition", "--partitions", String(n), "--", key]);
      assert.equal(r.code, 0, r.stderr);
      got.push(Number(r.stdout));
      assert.equal(Number(r.stdout), partitionFor(key, n));
    }
    assert.deepEqual(got, want, `key ${JSON.stringify(key)}`);
  }
  const require = createRequire(join(repoRoot, "package.json"));
  const kafka = require("kafkajs").Partitioners.DefaultPartitioner();
  for (const [key, n] of [["user-1", 7], ["click", 16], ["héllo wörld ✓", 100], ["-starts-with-a-dash", 3]]) {
    const r = await run(["partition", "--murmur2", "--partitions", String(n), "--", key]);
    assert.equal(r.code, 0, r.stderr);
    const want = kafka({ topic: "t", partitionMetadata: Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 0 })), message: { key: Buffer.from(key) } });
    assert.equal(Number(r.stdout), want, `murmur2 ${key} / ${n}`);
  }
  // Without "--", a key that starts with "-" is an option.
  assertUsage(await run(["partition", "-x", "--partitions", "3"]), "tributary partition: unknown option -x", "Usage: tributary partition");
});

test("key-separator edge cases, each with its documented outcome, in JetStream", async () => {
  const nats = await startNats({ name: "cli-edge" });
  try {
    const input = file("edge.txt", Buffer.concat([
      Buffer.from("alice:Alice\n"), // 1: key alice, value Alice
      Buffer.from("no separator here\n"), // 2: not sent, named, exit 1
      Buffer.from(":starts with it\n"), // 3: empty key (not "no key")
      Buffer.from("ends with it:\n"), // 4: empty value
      Buffer.from("\n"), // 5: empty line: skipped, counted
      Buffer.from("crlf:windows\r\n"), // 6: the \r is dropped
      Buffer.from("a:b:c\n"), // 7: split at the first separator
      Buffer.from([0x6b, 0xff, 0x3a, 0x76, 0xfe, 0x0a]), // 8: not UTF-8: sent as its bytes
      Buffer.from("last:no newline"), // 9: the last line needs no \n
    ]));
    const r = await run(["produce", "edge", "--server", nats.url, "--provision", "--partitions", "3",
      "--key-separator", ":", "--file", input, "-v", "-H", "source=edge-test", "-H", "__proto__=a-header"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /tributary: 7 records acknowledged from 9 lines in [\d.]+ s \([\d,]+ records\/s\); 1 empty line skipped\n/);
    assert.match(r.stderr, /tributary: not sent: 1 line without the key separator ':': line 2\n/);
    assert.ok(!r.stderr.includes("\r"), "no progress line when stderr is not a terminal");
    const got = await readAll(nats.port, "edge", { expect: 7 });
    const { partitionFor } = await import(join(installed, "node.js"));
    const want = [
      ["alice", "Alice", 1], ["", "starts with it", 3], ["ends with it", "", 4], ["crlf", "windows", 6],
      ["a", "b:c", 7], [Buffer.from([0x6b, 0xff]), Buffer.from([0x76, 0xfe]), 8], ["last", "no newline", 9],
    ];
    assert.equal(got.length, want.length);
    // Verbose: "<partition>@<offset> line <n>" per acknowledged record.
    const reported = new Map(r.stdout.trim().split("\n").map((l) => {
      const [, p, o, n] = /^(\d+)@(\d+) line (\d+)$/.exec(l);
      return [Number(n), [Number(p), Number(o)]];
    }));
    assert.equal(reported.size, want.length);
    for (const [key, value, line] of want) {
      const k = Buffer.from(key);
      const m = got.find((x) => x.key !== null && x.key.equals(k));
      assert.ok(m, `line ${line} arrived`);
      assert.deepEqual(m.value, Buffer.from(value), `line ${line}: value`);
      assert.equal(m.partition, partitionFor(new Uint8Array(k), 3), `line ${line}: partition`);
      assert.deepEqual(reported.get(line), [m.partition, m.offset], `line ${line}: reported where it is`);
      assert.equal(m.headers.source, "edge-test");
      assert.ok(Object.hasOwn(m.headers, "__proto__") && m.headers.__proto__ === "a-header", "a __proto__ header arrives");
    }
  } finally {
    await nats.stop();
  }
});

test("no separator: each line is a value (keyless: round robin; --key; --partition); --raw sends the input whole", async () => {
  const nats = await startNats({ name: "cli-modes" });
  try {
    const lines = Array.from({ length: 40 }, (_, i) => `line ${i + 1}`);
    const input = file("plain.txt", lines.join("\n") + "\n");
    const keyless = await run(["produce", "plain", "--server", nats.url, "--provision", "--partitions", "4", "--file", input]);
    assert.equal(keyless.code, 0, keyless.stderr);
    const got = await readAll(nats.port, "plain", { expect: 40 });
    assert.equal(got.length, 40);
    assert.ok(got.every((m) => m.key === null));
    const perPartition = [0, 0, 0, 0];
    for (const m of got) perPartition[m.partition]++;
    assert.deepEqual(perPartition, [10, 10, 10, 10], "round robin");
    // stdin, one key for all, pinned to a partition.
    // (An empty TRIBUTARY_TOKEN is no token: this server wants none. Combined flags: -p2.)
    const keyed = await run(["produce", "keyed", "-s", nats.url, "--provision", "--partitions", "4", "--key", "k", "-vp2"],
      { input: lines.join("\r\n"), env: { TRIBUTARY_TOKEN: "" } });
    assert.equal(keyed.code, 0, keyed.stderr);
    assert.equal(keyed.stdout.trim().split("\n").length, 40, "-v of -vp2: a line per record");
    const k = await readAll(nats.port, "keyed", { expect: 40 });
    assert.deepEqual(k.map((m) => [m.partition, m.offset, m.key.toString(), m.value.toString()]),
      lines.map((l, i) => [2, i, "k", l]));
    // --raw: every byte, newlines and invalid UTF-8 included, as one record.
    const raw = Buffer.concat([Buffer.from("a\nb\r\n"), Buffer.from([0, 0xff, 0xfe]), Buffer.from("\n\n")]);
    const whole = await run(["produce", "raw", "-s", nats.url, "--provision", "--raw", "--key", "blob", "-f", file("raw.bin", raw)]);
    assert.equal(whole.code, 0, whole.stderr);
    const [one, ...more] = await readAll(nats.port, "raw", { expect: 1 });
    assert.deepEqual([one.value, one.key.toString(), more.length], [raw, "blob", 0]);
    // --raw over the 1 MiB record limit: not sent, exit 1.
    const big = await run(["produce", "raw", "-s", nats.url, "--raw", "-f", file("big.bin", Buffer.alloc(1024 * 1024 + 1, 120))]);
    assert.equal(big.code, 1);
    assert.match(big.stderr, /not sent: the input is larger than 1048576 bytes, the largest record/);
    assert.equal(await streamCount(nats.port, "raw"), 1);
    // --raw with an empty input: no record (not one empty record), exit 0.
    const empty = await run(["produce", "raw", "-s", nats.url, "--raw"], { input: "" });
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stderr, /^tributary: 0 records acknowledged from 0 lines/);
    assert.equal(await streamCount(nats.port, "raw"), 1);
  } finally {
    await nats.stop();
  }
});

test("--delivery at-most-once: sent without acknowledgements, said so; --verbose into | head", async () => {
  const nats = await startNats({ name: "cli-amo" });
  try {
    const input = file("amo.txt", Array.from({ length: 3000 }, (_, i) => `k${i % 7}:${i}`).join("\n"));
    const r = await run(["produce", "amo", "-s", nats.url, "--provision", "--key-separator", ":", "-f", input,
      "--delivery", "at-most-once", "--partitions", "2"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /tributary: 3000 records sent \(at most once: not acknowledged\) from 3000 lines/);
    assert.equal((await readAll(nats.port, "amo", { expect: 3000 })).length, 3000);
    // --verbose into a reader that goes away early (`| head -1`): the command still
    // delivers everything and exits.
    const piped = await run(["-c", `set -o pipefail; ${bin} produce amo -s ${nats.url} --key-separator : -f ${input} -v | head -1`], { cmd: "bash" });
    assert.equal(piped.code, 0, piped.stderr);
    assert.match(piped.stdout, /^\d+@\d+ line 1\n$/);
    assert.match(piped.stderr, /tributary: 3000 records acknowledged from 3000 lines/);
  } finally {
    await nats.stop();
  }
});

test("producer options: --compression gzip (loads tributary/full), --linger, --batch-size, --murmur2 placement", async () => {
  const nats = await startNats({ name: "cli-options" });
  try {
    const keys = Array.from({ length: 500 }, (_, i) => `key-${i % 37}`);
    const input = file("options.txt", keys.map((k, i) => `${k}=${i}`).join("\n") + "\n");
    const r = await run(["produce", "opts", "-s", nats.url, "--provision", "--partitions", "7", "--key-separator", "=",
      "-f", input, "--compression", "gzip", "--linger", "5ms", "--batch-size", "1024", "--murmur2"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /tributary: 500 records acknowledged from 500 lines/);
    const got = await readAll(nats.port, "opts", { expect: 500 });
    assert.equal(got.length, 500);
    const require = createRequire(join(repoRoot, "package.json"));
    const kafka = require("kafkajs").Partitioners.DefaultPartitioner();
    const metadata = Array.from({ length: 7 }, (_, i) => ({ partitionId: i, leader: 0 }));
    for (const m of got) {
      const want = kafka({ topic: "opts", partitionMetadata: metadata, message: { key: m.key } });
      assert.equal(m.partition, want, `${m.key} on Kafka's partition`);
      const line = Number(m.value.toString());
      assert.equal(keys[line], m.key.toString(), "the key of its line");
    }
  } finally {
    await nats.stop();
  }
});

test("refused credentials: a clear message, exit 1, nothing reported sent; the right ones deliver; no credential shown", async () => {
  const token = "t0ken-S3CRET-9f8e";
  const password = "pw-S3CRET-7a6b";
  const nats = await startNats({
    name: "cli-auth",
    auth: `authorization { users: [ { user: "bob", password: "${password}" } ] }`,
  });
  const tokenServer = await startNats({ name: "cli-token", auth: `authorization { token: "${token}" }` });
  try {
    const input = file("auth.txt", "a:1\nb:2\nc:3\n");
    const common = ["--key-separator", ":", "-f", input, "-v", "--timeout", "20s"];
    const noSecret = (r) => {
      for (const secret of [token, password, "S3CRET"]) {
        assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret), `no credential in the output: ${r.stderr}`);
      }
    };
    // The right credentials (from the environment, and as options) deliver.
    const right = await run(["produce", "auth", "-s", tokenServer.url, "--provision", ...common], { env: { TRIBUTARY_TOKEN: token } });
    assert.equal(right.code, 0, right.stderr);
    assert.match(right.stderr, /tributary: 3 records acknowledged from 3 lines/);
    noSecret(right);
    const user = await run(["produce", "auth", "-s", nats.url, "--provision", "--user", "bob", "--password", password, ...common]);
    assert.equal(user.code, 0, user.stderr);
    noSecret(user);
    // TRIBUTARY_TOKEN is --token's default, not a second credential: --user on the command
    // line goes without it (it was a usage error: "give one of token, user/pass, ...").
    const userOverEnv = await run(["produce", "auth2", "-s", nats.url, "--provision", "--user", "bob", "--password", password, ...common],
      { env: { TRIBUTARY_TOKEN: token } });
    assert.equal(userOverEnv.code, 0, userOverEnv.stderr);
    assert.equal(await streamCount(nats.port, "auth2", { user: "bob", pass: password }), 3);
    // Wrong ones: the sink stops at once; every line is named as not acknowledged.
    const wrong = [
      await run(["produce", "auth", "-s", tokenServer.url, "--token", `${token}x`, ...common]),
      await run(["produce", "auth", "-s", tokenServer.url, ...common], { env: { TRIBUTARY_TOKEN: "nope" } }),
      await run(["produce", "auth", "-s", nats.url, "--user", "bob", "--password", `${password}x`, ...common]),
      await run(["produce", "auth", "-s", nats.url, "--user", "bob", ...common], { env: { TRIBUTARY_PASSWORD: "x" } }),
    ];
    for (const r of wrong) {
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /tributary: 0 records acknowledged from 3 lines/);
      assert.match(r.stderr, /tributary: not acknowledged: 3 records: lines 1-3\n/);
      assert.match(r.stderr, /tributary: error: SINK_AUTH: the server refused the sink's credentials\n/);
      assert.doesNotMatch(r.stdout, /@/, "verbose reports no record as acknowledged");
      noSecret(r);
    }
    // With --provision, the stream is made first: refused there, nothing is read.
    const early = await run(["produce", "auth", "-s", tokenServer.url, "--token", "nope", "--provision", ...common]);
    assert.equal(early.code, 1);
    assert.equal(early.stderr, "tributary: error: cannot create the stream: SINK_AUTH: the server refused the sink's credentials\n" +
      "tributary: nothing was read or sent\n");
    assert.equal(await streamCount(nats.port, "auth", { user: "bob", pass: password }), 3);
    assert.equal(await streamCount(tokenServer.port, "auth", { token }), 3);
  } finally {
    await nats.stop();
    await tokenServer.stop();
  }
});

test("an empty TRIBUTARY_TOKEN is as if unset: no auth_token in CONNECT; a set one is sent", async () => {
  // A WebSocket server that speaks the first step of NATS: INFO, then it keeps the CONNECT.
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((r) => wss.once("listening", r));
  const connects = [];
  wss.on("connection", (ws) => {
    ws.send(Buffer.from('INFO {"server_id":"x","version":"2.10.0","proto":1,"headers":true,"max_payload":1048576}\r\n'));
    ws.on("message", (data) => {
      const m = /^CONNECT (\{.*\})\r\n/.exec(data.toString());
      if (m) {
        connects.push(JSON.parse(m[1]));
        ws.close();
      }
    });
  });
  try {
    const url = `ws://127.0.0.1:${wss.address().port}`;
    for (const [token, want] of [["", undefined], ["t0k", "t0k"]]) {
      connects.length = 0;
      const r = await run(["produce", "t", "-s", url, "--timeout", "1s"], { input: "a\n", env: { TRIBUTARY_TOKEN: token } });
      assert.equal(r.code, 1, r.stderr);
      assert.ok(connects.length > 0, `a CONNECT arrived: ${r.stderr}`);
      assert.equal(connects[0].auth_token, want, `TRIBUTARY_TOKEN=${JSON.stringify(token)}`);
      assert.ok(!r.stderr.includes("t0k"), "no token shown");
    }
  } finally {
    await new Promise((r) => wss.close(r));
  }
});

test("wss:// with a private CA (NODE_EXTRA_CA_CERTS) and a .creds user: delivered; untrusted: a clear error; no secret shown", async () => {
  const tls = makeTls(dir);
  const op = operatorSetup();
  const alice = op.user("alice");
  const nats = await startNats({ name: "cli-wss", wsTls: tls, auth: op.serverConfig(dir) });
  try {
    const creds = file("alice.creds", alice.creds);
    const input = file("wss.txt", "a:1\nb:2\n");
    const args = ["produce", "secure", "-s", nats.url, "--creds", creds, "--provision", "--key-separator", ":", "-f", input, "-v"];
    const trusted = await run(args, { env: { NODE_EXTRA_CA_CERTS: tls.caFile } });
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.match(trusted.stderr, /tributary: 2 records acknowledged from 2 lines/);
    const auth = { authenticator: credsAuthenticator(new TextEncoder().encode(alice.creds)) };
    assert.equal(await streamCount(nats.port, "secure", auth), 2);
    const untrusted = await run([...args.filter((a) => a !== "--provision"), "--timeout", "2s"]);
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /tributary: error: SINK_CONNECT: .*(certificate|self-signed|self signed)/i);
    assert.match(untrusted.stderr, /tributary: not acknowledged: 2 records: lines 1-2\n/);
    for (const r of [trusted, untrusted]) {
      assert.ok(!(r.stdout + r.stderr).includes(alice.seed) && !(r.stdout + r.stderr).includes(alice.jwt), "no .creds content shown");
    }
    assert.equal(await streamCount(nats.port, "secure", auth), 2);
  } finally {
    await nats.stop();
  }
});

test("on a terminal, a progress line on stderr (records read, acknowledged, rate)", async () => {
  const port = await freePort(); // nothing listens: the run lasts --timeout
  const input = file("tty.txt", "a\nb\nc\n");
  const command = `${bin} produce tty -s ws://127.0.0.1:${port} -f ${input} --timeout 1500ms`;
  const r = await run(["-qfec", command, "/dev/null"], { cmd: "script" }); // a pseudo-terminal
  assert.match(r.stdout, /\r\x1b\[Kread 3 lines, 0 acknowledged, 0 records\/s/);
  assert.match(r.stdout, /tributary: 0 records acknowledged from 3 lines/);
});

/** Writes lines of `width` bytes to `stdin` as fast as it takes them, until it closes;
 *  returns a function giving the bytes it took. `keys`: how many keys the lines use. */
function endlessLines(stdin, width = 100, keys = 997) {
  let written = 0;
  let n = 0;
  let stop = false;
  const block = () => {
    let s = "";
    for (let i = 0; i < 1000; i++) s += `key-${n % keys}:${String(n++).padEnd(width - 10, ".")}\n`;
    return s;
  };
  const pump = () => {
    while (!stop) {
      const chunk = block();
      written += chunk.length;
      if (!stdin.write(chunk)) return stdin.once("drain", pump);
    }
  };
  stdin.on("error", () => { stop = true; });
  stdin.on("close", () => { stop = true; });
  pump();
  return () => written;
}

// With the server down, reading stops once 16 MiB of records read wait (counted with 32
// bytes each besides their key and value: about 12.5 MiB of these 100-byte lines), then
// --timeout gives up. The bound is one for the whole command: 4,096 partitions, each with
// records waiting (distinct keys), take no more input and no more memory than 4 (a log
// bound per partition reached 234 MB at 256 partitions). There, the log's 16 MiB are
// 4 KiB a partition, and the busiest partition fills its share first (about 5 MiB of input).
for (const partitions of [4, 4096]) {
  test(`server down, ${partitions} partitions: reading stops at the memory bound (backpressure), --timeout gives up: exit 1, nothing reported sent`, async () => {
    const port = await freePort(); // nothing listens
    let taken;
    const r = await run(["produce", "down", "-s", `ws://127.0.0.1:${port}`, "--key-separator", ":", "--partitions", String(partitions),
      "--timeout", "6s", "-v"], { stdin: "keep", time: true, onSpawn: (child) => { taken = endlessLines(child.stdin, 100, 1_000_000); } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /tributary: 0 records acknowledged from \d+ lines/);
    assert.match(r.stderr, /tributary: not acknowledged: \d+ records: lines 1-\d+/);
    assert.match(r.stderr, /tributary: stopped: nothing acknowledged for 6 s\n/);
    assert.match(r.stderr, /tributary: error: SINK_CONNECT: .*127\.0\.0\.1/);
    assert.equal(r.stdout.replace(/^tributary: sink .*\n/gm, ""), "", "no record reported acknowledged");
    // The command took what fills its bound (and a few 64 KiB reads and the pipe), then
    // stopped reading: the writer could have gone on for ever.
    const mib = taken() / 1024 / 1024;
    console.log(`# server down, ${partitions} partitions: stdin taken ${mib.toFixed(1)} MiB, peak RSS ${(r.maxRssKb / 1024).toFixed(0)} MB`);
    assert.ok(mib > (partitions === 4 ? 4 : 1) && mib < 20, `stdin taken: ${mib.toFixed(1)} MiB`);
    assert.ok(r.maxRssKb / 1024 < RSS_BOUND_MB, `peak RSS ${(r.maxRssKb / 1024).toFixed(0)} MB, bound ${RSS_BOUND_MB} MB`);
  });
}

test("Ctrl-C mid-file: stops reading, waits for what was read, reports it; nothing acknowledged is lost", async () => {
  const nats = await startNats({ name: "cli-sigint" });
  try {
    const n = 400_000;
    const lines = [];
    // 44 MB: more than the command's log holds (16 MiB), so reading is still going on.
    const pad = "p".repeat(100);
    for (let i = 1; i <= n; i++) lines.push(`user-${i % 1013}:${i} ${pad}`);
    const input = file("sigint.txt", lines.join("\n") + "\n");
    let sent = false;
    const r = await run(["produce", "sigint", "-s", nats.url, "--provision", "--partitions", "3", "--key-separator", ":",
      "-f", input, "-v"], {
      onSpawn: (child) => child.stdout.on("data", () => {
        if (!sent) {
          sent = true;
          setTimeout(() => child.kill("SIGINT"), 200); // once records are being acknowledged
        }
      }),
    });
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /interrupted: no more input is read; waiting for the records read so far/);
    const [, acked, read] = /tributary: (\d+) records acknowledged from (\d+) lines/.exec(r.stderr).map(Number);
    assert.ok(acked > 0 && read < n, `acknowledged ${acked} of ${read} lines read (of ${n})`);
    assert.equal(acked, read, "every line read was acknowledged before the exit");
    assert.match(r.stderr, new RegExp(`tributary: interrupted after line ${read}\\n`));
    const got = await readAll(nats.port, "sigint", { expect: acked });
    assert.equal(got.length, acked, "the stream holds exactly what was reported");
    const lineOf = (m) => Number(m.value.toString().split(" ")[0]);
    const byLine = new Map(got.map((m) => [lineOf(m), m]));
    const reported = r.stdout.trim().split("\n");
    assert.equal(reported.length, acked);
    for (const l of reported) {
      const [, p, o, line] = /^(\d+)@(\d+) line (\d+)$/.exec(l).map(Number);
      const m = byLine.get(line);
      assert.ok(m && m.partition === p && m.offset === o, `line ${line}, reported at ${p}@${o}, is there`);
    }
    // The lines acknowledged are the first ones, in line order per partition.
    for (let line = 1; line <= acked; line++) assert.ok(byLine.has(line), `line ${line}`);
    for (const p of [0, 1, 2]) {
      const values = got.filter((m) => m.partition === p).map(lineOf);
      assert.deepEqual(values, values.slice().sort((a, b) => a - b), `partition ${p} in line order`);
    }
  } finally {
    await nats.stop();
  }
});

// A second signal (of any of the three) exits at once; the first one's status is the exit
// status. In Node, and in Deno and Bun (their own signal handling under `process.on`).
const signalRuns = [
  ["Node", "SIGINT", "SIGINT", 130, "interrupted"], ["Node", "SIGHUP", "SIGTERM", 129, "hung up \\(SIGHUP\\)"],
  ["Deno", "SIGTERM", "SIGINT", 143, "terminated \\(SIGTERM\\)"], ["Deno", "SIGHUP", "SIGHUP", 129, "hung up \\(SIGHUP\\)"],
  ["Deno", "SIGINT", "SIGTERM", 130, "interrupted"],
  ["Bun", "SIGTERM", "SIGINT", 143, "terminated \\(SIGTERM\\)"], ["Bun", "SIGHUP", "SIGHUP", 129, "hung up \\(SIGHUP\\)"],
  ["Bun", "SIGINT", "SIGTERM", 130, "interrupted"],
];
for (const [runtime, first, second, status, what] of signalRuns) {
  test(`a second signal exits at once, reporting what was not delivered (${runtime}: ${first} then ${second})`, async () => {
    // A server that takes the connection and never answers: the first signal would wait up
    // to --timeout. Its first connection says the command has started (its signal handlers
    // are in place before it connects), whatever the runtime's start-up time.
    const sockets = [];
    let connected;
    const started = new Promise((resolve) => { connected = resolve; });
    const silent = net.createServer((socket) => { sockets.push(socket); connected(); });
    await new Promise((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const input = file("second.txt", Array.from({ length: 5000 }, (_, i) => `k${i}:v`).join("\n"));
    const cli = join(installed, "cli.js");
    const [cmd, pre] = { Node: [bin, []], Deno: [deno, ["run", "-A", cli]], Bun: [bun, [cli]] }[runtime];
    let t1;
    const r = await run([...pre, "produce", "second", "-s", `ws://127.0.0.1:${silent.address().port}`, "--key-separator", ":", "-f", input, "--timeout", "60s"], {
      cmd,
      onSpawn: async (child) => {
        await Promise.race([started, sleep(30_000)]);
        await sleep(1000); // the 5,000 lines read
        child.kill(first);
        await sleep(1000);
        assert.equal(child.exitCode, null, "the first signal waits");
        t1 = Date.now();
        child.kill(second);
      },
    });
    assert.ok(Date.now() - t1 < 3000, "the second signal exits at once");
    assert.equal(r.code, status, r.stderr);
    assert.match(r.stderr, new RegExp(`tributary: ${what}: no more input is read; waiting for the records read so far`));
    assert.match(r.stderr, /tributary: 0 records acknowledged from 5000 lines/);
    assert.match(r.stderr, /tributary: not acknowledged: 5000 records: lines 1-5000\n/);
    assert.match(r.stderr, new RegExp(`tributary: ${what} after line 5000: exited without waiting\n`));
    for (const socket of sockets) socket.destroy();
    silent.close();
  });
}

test("SIGTERM (timeout(1), kill): stops reading, waits for what was read, reports it, exit 143", async () => {
  const nats = await startNats({ name: "cli-sigterm" });
  try {
    // stdin stays open: only the signal ends the command. It runs under timeout(1), which
    // passes the SIGTERM it gets on to the command (as it sends its own when time is up),
    // and exits with the command's status (--preserve-status).
    const r = await run(["--preserve-status", "600", bin, "produce", "term", "-s", nats.url, "--provision", "--key-separator", ":", "-v"], {
      cmd: "timeout",
      stdin: "keep",
      onSpawn: (child) => {
        child.stdin.write("a:1\nb:2\nc:3\n");
        let out = "";
        child.stdout.on("data", (d) => {
          out += d;
          if (out.split("\n").length === 4) child.kill("SIGTERM"); // the three acknowledged
        });
      },
    });
    assert.equal(r.code, 143, r.stderr);
    assert.match(r.stderr, /tributary: terminated \(SIGTERM\): no more input is read; waiting for the records read so far \(a second signal to exit now\)\n/);
    assert.match(r.stderr, /tributary: 3 records acknowledged from 3 lines/);
    assert.match(r.stderr, /tributary: terminated \(SIGTERM\) after line 3\n/);
    assert.doesNotMatch(r.stderr, /not acknowledged|exited without waiting/);
    assert.deepEqual(r.stdout.trim().split("\n").map((l) => l.split(" ").slice(1).join(" ")), ["line 1", "line 2", "line 3"]);
    assert.equal(await streamCount(nats.port, "term"), 3);
  } finally {
    await nats.stop();
  }
});

test("the same signal twice at once (timeout(1) sends SIGTERM to the command and to its group) is one stop: it waits, exit 143", async () => {
  const nats = await startNats({ name: "cli-sigterm-twice" });
  try {
    const r = await run(["produce", "twice", "-s", nats.url, "--provision", "--key-separator", ":", "-v"], {
      stdin: "keep",
      onSpawn: (child) => {
        child.stdin.write("a:1\nb:2\nc:3\n");
        let out = "";
        child.stdout.on("data", (d) => {
          out += d;
          if (out.split("\n").length === 4) { child.kill("SIGTERM"); child.kill("SIGTERM"); }
        });
      },
    });
    assert.equal(r.code, 143, r.stderr);
    assert.match(r.stderr, /tributary: 3 records acknowledged from 3 lines/);
    assert.match(r.stderr, /tributary: terminated \(SIGTERM\) after line 3\n/);
    assert.doesNotMatch(r.stderr, /not acknowledged|exited without waiting/);
    assert.equal(await streamCount(nats.port, "twice"), 3);
  } finally {
    await nats.stop();
  }
});

test("Deno and Bun run the command (their own WebSocket)", async () => {
  const nats = await startNats({ name: "cli-runtimes" });
  try {
    const input = file("runtimes.txt", Array.from({ length: 2000 }, (_, i) => `user-${i % 17}:${i}`).join("\n") + "\n");
    const cli = join(installed, "cli.js");
    const args = (topic) => ["produce", topic, "-s", nats.url, "--provision", "--partitions", "5", "--key-separator", ":", "-f", input];
    const d = await run(["run", "-A", cli, ...args("deno")], { cmd: deno });
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stderr, /tributary: 2000 records acknowledged from 2000 lines/);
    const b = await run([cli, ...args("bun")], { cmd: bun });
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stderr, /tributary: 2000 records acknowledged from 2000 lines/);
    const { partitionFor } = await import(join(installed, "node.js"));
    for (const stream of ["deno", "bun"]) {
      const got = await readAll(nats.port, stream, { expect: 2000 });
      assert.equal(got.length, 2000, stream);
      for (const m of got) assert.equal(m.partition, partitionFor(m.key.toString(), 5));
    }
    // Deno with stdin too, and a usage error there.
    const piped = await run(["run", "-A", cli, "produce", "deno", "-s", nats.url, "--key", "x"], { cmd: deno, input: "one\ntwo\n" });
    assert.equal(piped.code, 0, piped.stderr);
    const bad = await run([cli, "produce", "t", "-s", nats.url, "--nope"], { cmd: bun });
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.split("\n")[0], "tributary produce: unknown option --nope");
  } finally {
    await nats.stop();
  }
});
