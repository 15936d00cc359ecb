// `tributary produce <topic>`: records from stdin or a file, one per line, through the
// package's own producer and sink into NATS JetStream; exit status 0 (every record
// acknowledged), 1 (some were not, named by line), 2 (usage), 130 / 143 / 129 (stopped
// by SIGINT / SIGTERM / SIGHUP).
import { createReadStream, openSync, readFileSync, statSync } from "node:fs";
import { Buffer } from "node:buffer";
import process from "node:process";
import { parse, integer, duration, oneOf, nonEmpty, UsageError } from "./args.js";
import { LineSplitter } from "./lines.js";

/** Longest record (key + value bytes) the command sends; the producer's limit is above
 *  it, for the record's own framing and headers. */
const MAX_RECORD = 1024 * 1024;
/** Records read and not yet settled (acknowledged, given up or refused), in bytes (key,
 *  value and headers, plus RECORD_COST each): above this, reading waits. One bound for the
 *  producer's queues and the log's unacknowledged records, whatever --partitions is. */
const UNACKED_BOUND = 16 * 1024 * 1024;
/** What a record costs besides its bytes (its framing in a batch, the command's own
 *  bookkeeping), so that the shortest lines are bounded in number too. */
const RECORD_COST = 32;
/** The log's retention: this many bytes in all, split evenly over the partitions (a
 *  partition keeps at most LOG_BOUND / partitions bytes of acknowledged records, so the
 *  log does not grow with --partitions; a partition always takes one batch, however
 *  large, and keeps it until it is acknowledged). */
const LOG_BOUND = 16 * 1024 * 1024;
/** sendAll calls (one per chunk read) waiting at once before reading waits too. */
const IN_FLIGHT_CALLS = 2;
const CHUNK = 64 * 1024;

const codecs = ["none", "gzip", "snappy", "lz4"];

export const spec = {
  positional: ["topic"],
  options: {
    file: { short: "f", value: "path" },
    raw: {},
    key: { value: "key" },
    "key-separator": { value: "separator", parse: nonEmpty },
    partitions: { value: "n", parse: integer(1, 65536) },
    partition: { short: "p", value: "p", parse: integer(0, 65535) },
    murmur2: {},
    header: { short: "H", value: "name=value", repeat: true, parse: header },
    linger: { value: "time", parse: duration },
    "batch-size": { value: "bytes", parse: integer(1, 2 ** 31 - 1) },
    compression: { value: "codec", parse: oneOf(codecs) },
    server: { short: "s", value: "url", repeat: true, secret: true, parse: server },
    token: { value: "token", secret: true, parse: nonEmpty },
    user: { value: "user", parse: nonEmpty },
    password: { value: "password", secret: true },
    creds: { value: "file" },
    stream: { value: "name", parse: nonEmpty },
    "subject-prefix": { value: "prefix", parse: nonEmpty },
    provision: {},
    delivery: { value: "semantic", parse: delivery },
    "delivery-semantic": { value: "semantic", parse: delivery },
    timeout: { value: "time", parse: positiveDuration },
    verbose: { short: "v" },
    help: { short: "h" },
  },
};

export const usage = "Usage: tributary produce [OPTIONS] --server <url> <topic>";

export const help = `Write records to a topic: one per line of stdin or --file, into NATS JetStream.

${usage}

Input
  -f, --file <path>          read this file (default: stdin)
      --raw                  the whole input is one record (at most 1 MiB; an empty
                             input sends none)
      --key <key>            the key of every record
      --key-separator <sep>  split each line at the first <sep>: key before, value after
  -H, --header <name=value>  a header on every record (repeatable)
Placement
      --partitions <n>       the topic's partition count (default 1)
  -p, --partition <p>        put every record in partition <p>
      --murmur2              place keys with Kafka's murmur2 (default: Fluvio's)
Producer
      --linger <time>        how long a batch waits for more records (e.g. 20ms; default 0)
      --batch-size <bytes>   bytes at which a batch closes (default 16384)
      --compression <codec>  none, gzip, snappy or lz4: the batches in the command's
                             own log (JetStream gets one message per record)
Sink (NATS JetStream over WebSocket)
  -s, --server <url>         ws:// or wss:// URL of a nats-server WebSocket listener
                             (repeatable: tried in turn)
      --token <token>        token auth (or the TRIBUTARY_TOKEN environment variable,
                             unless --user or --creds is given; empty: unset)
      --user <user>          user/password auth, with --password (or TRIBUTARY_PASSWORD)
      --creds <file>         a NATS .creds file (user JWT and nkey seed)
      --stream <name>        the JetStream stream (default: the topic)
      --subject-prefix <p>   subjects are <p>.<partition> (default: the topic)
      --provision            create the stream if it does not exist (subjects
                             <prefix>.*, no limits, a 2-minute de-duplication window)
      --delivery <semantic>  at-least-once (default) or at-most-once
      --timeout <time>       give up when nothing is acknowledged for this long while
                             records wait (default 30s)
Output
  -v, --verbose              print <partition>@<offset> line <n> for each acknowledged record
  -h, --help                 this help

Lines end with \\n (a \\r before it is dropped); empty lines are skipped; a line without
the key separator is not sent (it is named, and the exit status is 1); a line that is
not UTF-8 is sent as its bytes. Reading waits while 16 MiB of records read are not yet
acknowledged (memory stays bounded, whatever --partitions is). Short options combine
(-vf <path>). Exit status: 0 every record acknowledged, 1 some not (named by line
number), 2 usage error, 130 / 143 / 129 after Ctrl-C / SIGTERM / SIGHUP (the first stops
reading and waits for the records read so far, up to --timeout; a second exits at once).
`;

function header(text) {
  const eq = text.indexOf("=");
  if (eq <= 0) throw new Error("expected name=value");
  return [text.slice(0, eq), text.slice(eq + 1)];
}

/** A duration of at least 1 ms (the value as given is quoted when it is refused). */
function positiveDuration(text) {
  const ms = duration(text);
  if (ms === 0) throw new Error("must be at least 1ms");
  return ms;
}

function delivery(text) {
  return oneOf(["at-least-once", "at-most-once"], { at_least_once: "at-least-once", at_most_once: "at-most-once" })(text);
}

function server(text) {
  let u;
  try {
    u = new URL(text);
  } catch {
    throw new Error("not a URL (ws://host:port or wss://host:port)");
  }
  if (u.protocol !== "ws:" && u.protocol !== "wss:") throw new Error("not a ws:// or wss:// URL");
  if (u.username || u.password) throw new Error("credentials in the URL are refused: use --user/--password or --token");
  return text;
}

/** Line numbers, all counted; the lowest kept as ranges, at most about `keep` of them (a
 *  report shows the first few), so that memory does not grow with the input: a file
 *  where every other line lacks the separator held one range per line. */
class Lines {
  constructor(keep = 1000) {
    this.ranges = [];
    this.count = 0;
    this.keep = keep;
    this.above = Infinity; // once trimmed: lines above this one are counted, not kept
  }
  add(n) {
    this.count++;
    if (n > this.above) return;
    const last = this.ranges.at(-1);
    if (last && n === last[1] + 1) last[1] = n;
    else this.ranges.push([n, n]);
    if (this.ranges.length > 2 * this.keep) {
      this.ranges = this._merged().slice(0, this.keep);
      this.above = this.ranges.at(-1)[1];
    }
  }
  /** The ranges kept, sorted, overlapping and adjacent ones joined. */
  _merged() {
    const sorted = this.ranges.slice().sort((a, b) => a[0] - b[0]);
    const merged = [];
    for (const r of sorted) {
      const last = merged.at(-1);
      if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    return merged;
  }
  /** "lines 3-7, 12" (the first `max` ranges, in order; then how many more lines). */
  format(max = 20) {
    const merged = this._merged();
    const first = merged.slice(0, max);
    const shown = first.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`));
    const rest = this.count - first.reduce((n, [a, b]) => n + b - a + 1, 0);
    const more = rest > 0 ? `, and ${rest} more` : "";
    return `${this.count === 1 ? "line" : "lines"} ${shown.join(", ")}${more}`;
  }
}

/** Per partition: the line numbers (and sizes, as UNACKED_BOUND counts them) of records
 *  appended and not yet settled, from offset `base`. */
class Track {
  constructor() {
    this.lines = [];
    this.sizes = [];
    this.head = 0;
    this.base = 0;
    this.acked = 0;
    this.givenUp = [];
  }
  get size() {
    return this.lines.length - this.head;
  }
}

const rate = (n, ms) => Math.round(n / Math.max(ms / 1000, 0.001)).toLocaleString("en-US");

/** Says what was wrong, then the usage; the exit status of a usage error. */
function usageError(stderr, message) {
  stderr.write(`tributary produce: ${message}\n${usage}\n(tributary produce --help: the options)\n`);
  return 2;
}

/** Runs the command; resolves with the exit status. */
export async function produce(argv, { stdout = process.stdout, stderr = process.stderr, stdin = process.stdin, env = process.env } = {}) {
  const say = (text) => stderr.write(`tributary: ${text}\n`);
  let o;
  try {
    o = setup(argv, env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return usageError(stderr, e.message);
  }
  if (o.help) {
    stdout.write(help);
    return 0;
  }

  const pkg = await import(o.compression && o.compression !== "none" ? "../full/node.js" : "../node.js");
  const WebSocket = globalThis.WebSocket ?? (await import("./websocket.js")).WebSocket;
  const { Tributary, TributaryError } = pkg;

  const partitions = o.partitions;
  const client = new Tributary();
  const producerConfig = { maxRequestSize: MAX_RECORD + 64 * 1024 };
  if (o.linger !== undefined) producerConfig.linger = o.linger;
  if (o.batchSize !== undefined) producerConfig.batchSize = o.batchSize;
  if (o.compression !== undefined) producerConfig.compression = o.compression;
  if (o.murmur2) producerConfig.partitioner = "murmur2";
  let producer;
  try {
    client.createTopic(o.topic, {
      partitions,
      retention: { maxBytes: Math.max(1, Math.floor(LOG_BOUND / partitions)), unacked: "keep" },
    });
    producer = client.topicProducer(o.topic, producerConfig);
  } catch (e) {
    await client.close();
    if (!(e instanceof TributaryError)) throw e;
    // A topic name or a setting the package refuses.
    return usageError(stderr, e.message);
  }

  // Made as partitions are used: 65,536 of them cost nothing until records go there.
  const tracks = new Map();
  const track = (p) => {
    let st = tracks.get(p);
    if (!st) tracks.set(p, (st = new Track()));
    return st;
  };
  const notAcked = new Lines();
  const notSent = new Lines();
  const noSeparator = new Lines();
  const tooLong = new Lines();
  const inFlight = new Map(); // sendAll call -> its line numbers
  // Bytes of records read and not yet settled (UNACKED_BOUND); a settlement wakes the
  // reader waiting for room.
  let unsettled = 0;
  let wake = null;
  const settled = (bytes) => {
    unsettled -= bytes;
    if (wake) {
      wake();
      wake = null;
    }
  };
  const started = Date.now();
  let acked = 0;
  let lines = 0;
  let lastProgress = Date.now();
  let lastError = null;
  // Giving up (the sink failed, nothing acknowledged for --timeout): stop waiting.
  let abortReason = null;
  let abort;
  const aborted = new Promise((resolve) => { abort = resolve; });
  const giveUp = (reason) => {
    if (abortReason === null) abortReason = reason;
    abort();
  };
  // Ctrl-C, SIGTERM, SIGHUP: stop reading (and wait for what was read). `interrupted`:
  // the first signal's name.
  let interrupted = null;
  let interrupt;
  const interruption = new Promise((resolve) => { interrupt = resolve; });

  const drain = (st, partition) => {
    let out = "";
    let bytes = 0;
    while (st.head < st.lines.length && st.base < st.acked) {
      bytes += st.sizes[st.head];
      const line = st.lines[st.head++];
      const offset = st.base++;
      while (st.givenUp.length && st.givenUp[0].toOffset <= offset) st.givenUp.shift();
      if (st.givenUp.length && st.givenUp[0].fromOffset <= offset) {
        notAcked.add(line);
      } else {
        acked++;
        if (o.verbose) out += `${partition}@${offset} line ${line}\n`;
      }
    }
    // Settled entries go once they are half the arrays (each entry is copied at most once
    // per settlement, on average): a partition holds no more of them than it has waiting,
    // so that their memory does not grow with the partition count either.
    if (st.head * 2 > st.lines.length) {
      st.lines = st.lines.slice(st.head);
      st.sizes = st.sizes.slice(st.head);
      st.head = 0;
    }
    if (bytes) settled(bytes);
    if (out) stdout.write(out);
  };

  const sinkOptions = {
    servers: o.servers,
    WebSocket,
    name: "tributary-cli",
    onAck: (progress) => {
      lastProgress = Date.now();
      for (const p of progress) {
        if (p.partition >= partitions) continue;
        const st = track(p.partition);
        if (p.givenUp) st.givenUp.push(...p.givenUp);
        st.acked = Math.max(st.acked, p.ackedOffset);
        drain(st, p.partition);
      }
    },
    onStateChange: (state, error) => {
      // What the sink reports as it closes (SINK_CLOSED, what it did not deliver) is not
      // why: the error that stopped delivery stays the one named.
      if (error && !(state === "closed" && lastError)) lastError = error;
      if (o.verbose) say(`sink ${state}${error ? `: ${error.code}: ${error.message}` : ""}`);
      if (state === "connected") lastProgress = Date.now();
      if (state === "failed") giveUp("the sink stopped");
    },
  };
  for (const k of ["stream", "subjectPrefix", "token", "user", "pass", "creds", "delivery"]) {
    if (o[k] !== undefined) sinkOptions[k] = o[k];
  }
  if (o.provision) {
    // The sink provisions a stream with the topic's retention as its limits, and this
    // topic's retention is the command's memory bound, not the stream's: the stream is
    // made by a sink of its own, for a topic without retention.
    let failed;
    try {
      failed = await provision(Tributary, o, sinkOptions);
    } catch (e) {
      await client.close();
      if (e instanceof TributaryError && e.code === "INVALID_CONFIG") return usageError(stderr, e.message);
      throw e;
    }
    if (failed) {
      await client.close();
      say(`error: cannot create the stream: ${describe(failed)}`);
      say("nothing was read or sent");
      return 1;
    }
  }
  let sink;
  try {
    sink = client.connect(o.topic, sinkOptions);
  } catch (e) {
    await client.close();
    if (e instanceof TributaryError && e.code === "INVALID_CONFIG") {
      return usageError(stderr, e.message);
    }
    throw e;
  }

  let input = null;
  let exitNow = null;
  let firstAt = 0;
  const onSignal = (signal) => {
    if (!interrupted) {
      interrupted = signal;
      firstAt = Date.now();
      const again = signal === "SIGINT" ? "Ctrl-C again" : "a second signal";
      say(`${SIGNALS[signal].what}: no more input is read; waiting for the records read so far (${again} to exit now)`);
      input?.destroy();
      interrupt();
    } else if (signal !== interrupted || Date.now() - firstAt >= 100) {
      // The same signal within 100 ms is the same stop: timeout(1) sends its SIGTERM to
      // the command and then to its process group, which holds the command too.
      exitNow?.();
    }
  };
  const listening = [];
  for (const signal of Object.keys(SIGNALS)) {
    try {
      process.on(signal, onSignal);
      listening.push(signal);
    } catch {
      // not a signal this platform has
    }
  }

  // The progress line, on a terminal only.
  let progressTimer = null;
  if (stderr.isTTY) {
    progressTimer = setInterval(() => {
      const ms = Date.now() - started;
      stderr.write(`\r\x1b[Kread ${lines} lines, ${acked} acknowledged, ${rate(acked, ms)} records/s`);
    }, 250);
    progressTimer.unref?.();
  }
  // Nothing acknowledged for --timeout while records wait: give up.
  const pending = () => inFlight.size > 0 || [...tracks.values()].some((t) => t.size > 0);
  const watchdog = setInterval(() => {
    if (pending() && Date.now() - lastProgress > o.timeout) giveUp(`nothing acknowledged for ${o.timeout / 1000} s`);
  }, Math.min(250, o.timeout));
  watchdog.unref?.();

  const submit = ({ entries, lines: nums }) => {
    if (entries.length === 0) return;
    const sizes = entries.map((e) => RECORD_COST + headerBytes + byteLength(e[0]) + byteLength(e[1]));
    const total = sizes.reduce((a, b) => a + b, 0);
    unsettled += total;
    const call = producer.sendAll(entries).then(
      (metas) => {
        inFlight.delete(call);
        const touched = new Set();
        for (let i = 0; i < metas.length; i++) {
          const { partition, offset } = metas[i];
          const st = track(partition);
          if (st.size === 0) st.base = offset;
          st.lines.push(nums[i]);
          st.sizes.push(sizes[i]);
          touched.add(partition);
        }
        for (const p of touched) {
          const st = tracks.get(p);
          if (st.base < st.acked) drain(st, p);
        }
      },
      (e) => {
        inFlight.delete(call);
        for (const n of nums) notSent.add(n);
        settled(total);
        if (!lastError) lastError = e;
      },
    );
    inFlight.set(call, nums);
  };

  const extra = {};
  if (o.partition !== undefined) extra.partition = o.partition;
  if (o.headers) extra.headers = o.headers;
  const hasExtra = Object.keys(extra).length > 0;
  let headerBytes = 0;
  for (const [k, v] of Object.entries(o.headers ?? {})) headerBytes += byteLength(k) + byteLength(v);
  const splitter = new LineSplitter({
    separator: o.keySeparator ?? null,
    key: o.key ?? null,
    maxBytes: MAX_RECORD,
    onSkip: (n, why) => (why === "too-long" ? tooLong : noSeparator).add(n),
  });
  const withExtra = (batch) => {
    if (hasExtra) for (const e of batch.entries) e.push(extra);
    return batch;
  };
  const stopped = () => interrupted || abortReason !== null;

  let readError = null;
  let flushing = false;
  let rawTooLarge = false;
  const reading = (async () => {
    input = o.fd !== undefined ? createReadStream(null, { fd: o.fd, highWaterMark: CHUNK }) : stdin;
    try {
      if (o.raw) {
        const parts = [];
        let size = 0;
        for await (const chunk of input) {
          if (stopped()) return;
          size += chunk.length;
          if (size > MAX_RECORD) {
            rawTooLarge = true;
            return;
          }
          parts.push(chunk);
        }
        const value = new Uint8Array(size);
        let at = 0;
        for (const p of parts) {
          value.set(p, at);
          at += p.length;
        }
        if (size === 0) return; // an empty input: no record (not one empty record)
        lines = 1;
        submit({ entries: [hasExtra ? [o.key ?? null, value, extra] : [o.key ?? null, value]], lines: [1] });
        return;
      }
      for await (const chunk of input) {
        if (stopped()) return;
        submit(withExtra(splitter.push(chunk)));
        lines = splitter.lineNo;
        // Room: few sendAll calls waiting, and few bytes not yet settled (whatever the
        // partition count). Batches lingering are closed when the bytes wait for them.
        while ((inFlight.size >= IN_FLIGHT_CALLS || unsettled > UNACKED_BOUND) && !stopped()) {
          if (inFlight.size < IN_FLIGHT_CALLS && o.linger && !flushing) {
            flushing = true;
            producer.flush().catch(() => {}).finally(() => { flushing = false; });
          }
          await Promise.race([...inFlight.keys(), new Promise((r) => { wake = r; }), aborted, interruption]);
        }
      }
      if (stopped()) return;
      submit(withExtra(splitter.end()));
      lines = splitter.lineNo;
    } catch (e) {
      if (!stopped()) readError = e;
    } finally {
      if (input !== stdin) input.destroy();
    }
  })();

  // Read everything (or until stopped), then wait for it to be acknowledged.
  const run = (async () => {
    await Promise.race([reading, aborted]);
    if (abortReason !== null) return;
    try {
      await Promise.race([Promise.all([...inFlight.keys()]).then(() => client.flush()), aborted]);
    } catch (e) {
      lastError = e;
      return;
    }
    if (abortReason !== null) return;
    // Flushed: every record appended was acknowledged (callbacks may trail by a turn).
    await new Promise((r) => setTimeout(r, 0));
    if (o.delivery === "at-most-once") {
      for (const st of tracks.values()) {
        acked += st.size;
        st.head = st.lines.length;
      }
    }
  })();
  const now = await Promise.race([run.then(() => false), new Promise((resolve) => { exitNow = () => resolve(true); })]);

  clearInterval(watchdog);
  if (progressTimer) {
    clearInterval(progressTimer);
    stderr.write("\r\x1b[K");
  }
  if (!now) {
    // Closing rejects the sends still waiting for room; they were not sent.
    await sink.close().catch(() => {});
    await client.close();
    await Promise.allSettled([...inFlight.keys()]);
  }
  for (const signal of listening) process.off(signal, onSignal);
  for (const nums of inFlight.values()) for (const n of nums) notSent.add(n);
  // Whatever is still waiting was not acknowledged: added in line order, as Lines keeps
  // the lowest (partition by partition, the first partition's lines filled what it keeps).
  const waiting = [];
  for (const st of tracks.values()) {
    for (let i = st.head; i < st.lines.length; i++) waiting.push(st.lines[i]);
    st.head = st.lines.length;
  }
  for (const n of Float64Array.from(waiting).sort()) notAcked.add(n);
  const ms = Date.now() - started;
  const verb = o.delivery === "at-most-once" ? "sent (at most once: not acknowledged)" : "acknowledged";
  say(`${plural(acked, "record")} ${verb} from ${plural(lines, "line")} in ${(ms / 1000).toFixed(1)} s (${rate(acked, ms)} records/s)` +
    (splitter.empty ? `; ${plural(splitter.empty, "empty line")} skipped` : ""));
  if (noSeparator.count) say(`not sent: ${plural(noSeparator.count, "line")} without the key separator '${o.keySeparator}': ${noSeparator.format()}`);
  if (tooLong.count) say(`not sent: ${plural(tooLong.count, "line")} longer than ${MAX_RECORD} bytes: ${tooLong.format()}`);
  if (rawTooLarge) say(`not sent: the input is larger than ${MAX_RECORD} bytes, the largest record`);
  if (notSent.count) say(`not sent: ${plural(notSent.count, "record")}: ${notSent.format()}`);
  if (notAcked.count) say(`not acknowledged: ${plural(notAcked.count, "record")}: ${notAcked.format()}`);
  if (readError) say(`cannot read the input: ${readError.message}`);
  if (abortReason) say(`stopped: ${abortReason}`);
  if (lastError && (notAcked.count || notSent.count || abortReason)) {
    say(`error: ${describe(lastError)}`);
    if (lastError.cause) say(`cause: ${describe(lastError.cause)}`);
  }
  if (interrupted) say(`${SIGNALS[interrupted].what} after line ${lines}${now ? ": exited without waiting" : ""}`);
  const failed = noSeparator.count + tooLong.count + notSent.count + notAcked.count > 0 || rawTooLarge || readError || abortReason;
  return interrupted ? SIGNALS[interrupted].status : failed ? 1 : 0;
}

/** Creates the stream (if absent) with a sink of a client of its own; resolves with the
 *  error that stopped it, or null once it is connected (the stream exists then). */
async function provision(Tributary, o, sinkOptions) {
  const client = new Tributary();
  client.createTopic(o.topic, { partitions: o.partitions });
  let settle;
  const settled = new Promise((resolve) => { settle = resolve; });
  let last = null;
  const timer = setTimeout(() => settle(last ?? new Error(`not connected in ${o.timeout / 1000} s`)), o.timeout);
  const { onAck: _, onStateChange: __, ...common } = sinkOptions;
  const sink = client.connect(o.topic, {
    ...common,
    provision: true,
    onStateChange: (state, error) => {
      if (error) last = error;
      if (state === "connected") settle(null);
      if (state === "failed") settle(error ?? last);
    },
  });
  const failed = await settled;
  clearTimeout(timer);
  await sink.close().catch(() => {});
  await client.close();
  return failed;
}

/** The signals that stop reading (the first) or the command (the second): what the
 *  report calls each, and the exit status (128 + its number, as a shell reports it). */
const SIGNALS = {
  SIGINT: { what: "interrupted", status: 130 },
  SIGTERM: { what: "terminated (SIGTERM)", status: 143 },
  SIGHUP: { what: "hung up (SIGHUP)", status: 129 },
};

/** The UTF-8 bytes of a key or value (a string, bytes, or null). */
const byteLength = (v) => (v === null || v === undefined ? 0 : typeof v === "string" ? Buffer.byteLength(v, "utf8") : v.byteLength);

const plural = (n, what) => `${n} ${what}${n === 1 ? "" : "s"}`;
const describe = (e) => `${e.code ? `${e.code}: ` : ""}${e.message ?? String(e)}`;

/** The options, checked; throws UsageError. */
function setup(argv, env) {
  const { help: wantsHelp, options: x, positional } = parse(spec, argv);
  if (wantsHelp) return { help: true };
  // TRIBUTARY_TOKEN is --token's default: not when the command line names another way in.
  const otherAuth = x.user !== undefined || x.creds !== undefined;
  // An empty TRIBUTARY_TOKEN (`TRIBUTARY_TOKEN= tributary ...`) is no token: as if unset.
  const envToken = !otherAuth && Object.hasOwn(env, "TRIBUTARY_TOKEN") && env.TRIBUTARY_TOKEN !== "" ? env.TRIBUTARY_TOKEN : undefined;
  const o = {
    topic: positional.topic,
    file: x.file,
    raw: x.raw === true,
    key: x.key,
    keySeparator: x["key-separator"],
    partitions: x.partitions ?? 1,
    partition: x.partition,
    murmur2: x.murmur2 === true,
    headers: x.header ? Object.fromEntries(x.header) : undefined,
    linger: x.linger,
    batchSize: x["batch-size"],
    compression: x.compression,
    servers: x.server,
    token: x.token ?? envToken,
    user: x.user,
    pass: x.password ?? (x.user !== undefined && Object.hasOwn(env, "TRIBUTARY_PASSWORD") ? env.TRIBUTARY_PASSWORD : undefined),
    stream: x.stream,
    subjectPrefix: x["subject-prefix"],
    provision: x.provision === true ? true : undefined,
    delivery: x.delivery ?? x["delivery-semantic"],
    timeout: x.timeout ?? 30_000,
    verbose: x.verbose === true,
  };
  if (o.key !== undefined && o.keySeparator !== undefined) throw new UsageError("--key and --key-separator exclude each other");
  if (o.raw && o.keySeparator !== undefined) throw new UsageError("--raw and --key-separator exclude each other");
  if (o.keySeparator !== undefined && /[\r\n]/.test(o.keySeparator)) throw new UsageError("--key-separator cannot hold a line break");
  if (o.partition !== undefined && o.partition >= o.partitions) {
    throw new UsageError(`--partition ${o.partition} is not below --partitions ${o.partitions}`);
  }
  if (x.delivery !== undefined && x["delivery-semantic"] !== undefined) throw new UsageError("--delivery given twice (as --delivery-semantic)");
  if (!o.servers) throw new UsageError("no server: give --server ws://host:port (a nats-server WebSocket listener)");
  if (o.user !== undefined && o.pass === undefined) throw new UsageError("--user needs --password (or TRIBUTARY_PASSWORD)");
  if (o.pass !== undefined && o.user === undefined) throw new UsageError("--password needs --user");
  if (x.creds !== undefined) {
    try {
      o.creds = readFileSync(x.creds, "utf8");
    } catch (e) {
      throw new UsageError(`cannot read --creds file '${x.creds}': ${e.code ?? e.message}`);
    }
  }
  if (o.file !== undefined) {
    let st;
    try {
      st = statSync(o.file);
    } catch (e) {
      throw new UsageError(`cannot read --file '${o.file}': ${e.code === "ENOENT" ? "no such file" : e.code ?? e.message}`);
    }
    if (st.isDirectory()) throw new UsageError(`cannot read --file '${o.file}': it is a directory`);
    // Opened once, here, and read from this descriptor: a FIFO opened and closed to check
    // it, then opened again, lost what its writer had written and waited for a writer
    // that never came.
    try {
      o.fd = openSync(o.file, "r");
    } catch (e) {
      throw new UsageError(`cannot read --file '${o.file}': ${e.code === "EACCES" ? "permission denied" : e.code ?? e.message}`);
    }
  }
  return o;
}
