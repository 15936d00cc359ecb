#!/usr/bin/env node
// `tributary`, the package's command (Node >= 20, Deno, Bun):
//   tributary produce <topic> ...          records from stdin or a file into NATS JetStream
//   tributary partition <key> --partitions <n> [--murmur2]   where a key lands
// `tributary <command> --help` for each.
import process from "node:process";
import { readFileSync } from "node:fs";
import { parse, redact, integer, UsageError } from "./cli/args.js";

const HELP = `tributary: a producer after Fluvio's, into NATS JetStream

Usage: tributary <command> [OPTIONS]

Commands
  produce <topic>     write records, one per line of stdin or a file
  partition <key>     the partition a key lands in (as partitionFor computes it)

tributary help <command> (or tributary <command> --help): its options.
tributary --version: the package's version.
`;

const partitionSpec = {
  positional: ["key"],
  options: {
    partitions: { value: "n", parse: integer(1, 65536) },
    murmur2: {},
    help: { short: "h" },
  },
};
const partitionUsage = "Usage: tributary partition [OPTIONS] --partitions <n> <key>";
const partitionHelp = `The partition a key lands in, as tributary's producer (and Fluvio's) places it.

${partitionUsage}

      --partitions <n>   the topic's partition count (required)
      --murmur2          Kafka's partitioner (murmur2, as the Java client and kafkajs)
  -h, --help             this help

The key is taken as UTF-8 text; "--" before a key that starts with "-".
`;

async function partition(argv) {
  let args;
  try {
    args = parse(partitionSpec, argv);
    if (!args.help && args.options.partitions === undefined) throw new UsageError("missing --partitions <n>");
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`tributary partition: ${e.message}\n${partitionUsage}\n(tributary partition --help: the options)\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(partitionHelp);
    return 0;
  }
  const { Tributary, partitionFor } = await import("./node.js");
  const { key } = args.positional;
  const n = args.options.partitions;
  let p;
  if (args.options.murmur2) {
    // Kafka's placement is the core's murmur2 partitioner: ask a producer that uses it.
    const client = new Tributary({ seed: 0 });
    client.createTopic("partition", { partitions: n });
    p = (await client.topicProducer("partition", { partitioner: "murmur2" }).send(key, "")).partition;
    await client.close();
  } else {
    p = partitionFor(key, n);
  }
  process.stdout.write(`${p}\n`);
  return 0;
}

async function main(argv) {
  const [command, ...rest] = argv;
  if (command === "produce") {
    const { produce, spec } = await import("./cli/produce.js");
    hideSecrets(["tributary", command, ...redact(spec, rest)]);
    return produce(rest);
  }
  if (command === "partition") return partition(rest);
  if (command === "--help" || command === "-h" || command === "help") {
    // `tributary help produce`: the command's own help.
    if (rest.length === 1 && (rest[0] === "produce" || rest[0] === "partition")) return main([rest[0], "--help"]);
    if (rest.length > 0) return topUsage(`unexpected argument '${rest[0]}' (commands: produce, partition)`);
    process.stdout.write(HELP);
    return 0;
  }
  if (command === "--version" || command === "-V") {
    if (rest.length > 0) return topUsage(`unexpected argument '${rest[0]}'`);
    const pkg = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));
    process.stdout.write(`tributary ${pkg.version}\n`);
    return 0;
  }
  return topUsage(command === undefined ? "missing <command>" : `unknown command '${command}'`);
}

/** A usage error of `tributary` itself: the message, the usage; exit status 2. */
function topUsage(message) {
  process.stderr.write(`tributary: ${message}\nUsage: tributary <command> [OPTIONS] (commands: produce, partition; tributary --help)\n`);
  return 2;
}

/**
 * Shows `argv` (secrets masked) as the process title: on Linux the title is written over
 * the arguments, so `ps` and /proc/<pid>/cmdline stop showing a --token or --password
 * given on the command line (TRIBUTARY_TOKEN / TRIBUTARY_PASSWORD never show there).
 * Bun keeps its arguments there (its title setter leaves them).
 */
function hideSecrets(argv) {
  try {
    process.title = argv.join(" ");
  } catch {
    // not settable here
  }
}

/** Exits once stdout and stderr have written everything (a pipe may still hold some). */
function exit(code) {
  const drained = (s) => new Promise((r) => {
    if (!s.writableNeedDrain || s.destroyed) return r();
    s.once("drain", r);
    s.once("close", r);
  });
  Promise.all([drained(process.stdout), drained(process.stderr)]).then(() => process.exit(code));
}

// A reader that went away (`| head`) ends the output, not the command; so does a terminal
// that closed (SIGHUP: the command goes on delivering what it read).
process.stdout.on("error", (e) => {
  if (e.code !== "EPIPE" && e.code !== "EIO") throw e;
});
process.stderr.on("error", (e) => {
  if (e.code !== "EPIPE" && e.code !== "EIO") throw e;
});

main(process.argv.slice(2)).then(exit, (e) => {
  process.stderr.write(`tributary: ${e?.stack ?? e}\n`);
  exit(1);
});
