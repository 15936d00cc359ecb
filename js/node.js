// Entry for Node, Deno and Bun: the .wasm is read from disk next to this module.
import { readFileSync } from "node:fs";
import { initSync, guard, Tributary, TopicProducer } from "./tributary.js";
import { installSink } from "./tributary.js"; // sink

initSync(readFileSync(new URL("./tributary_bg.wasm", import.meta.url)));
installSink(Tributary, TopicProducer); // sink
guard({ Tributary, TopicProducer });

export { Tributary, TopicProducer, partitionFor } from "./tributary.js";
export { Sink } from "./tributary.js"; // sink
export { TributaryError } from "./errors.js";
