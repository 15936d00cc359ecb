// Entry for Cloudflare Workers (workerd) and other edge runtimes that refuse to compile
// wasm bytes: the .wasm is imported as a module.
import wasmModule from "./tributary_bg.wasm";
import { initSync, setErrorClass, Tributary, TopicProducer } from "./tributary.js";
import { TributaryError, installProducer, guard } from "./errors.js";
import { installSink } from "./errors.js"; // sink

const { memory } = initSync({ module: wasmModule });
setErrorClass(TributaryError);
installProducer(Tributary, TopicProducer, memory);
installSink(Tributary, TopicProducer); // sink
guard({ Tributary, TopicProducer });

export { Tributary, TopicProducer, partitionFor } from "./tributary.js";
export { Sink } from "./errors.js"; // sink
export { TributaryError };
