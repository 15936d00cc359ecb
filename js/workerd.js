// Entry for Cloudflare Workers (workerd) and other edge runtimes that refuse to compile
// wasm bytes: the .wasm is imported as a module.
import wasmModule from "./tributary_bg.wasm";
import { initSync, guard, Tributary, TopicProducer } from "./tributary.js";
import { installSink } from "./tributary.js"; // sink

initSync(wasmModule);
installSink(Tributary, TopicProducer); // sink
guard({ Tributary, TopicProducer });

export { Tributary, TopicProducer, partitionFor } from "./tributary.js";
export { Sink } from "./tributary.js"; // sink
export { TributaryError } from "./errors.js";
