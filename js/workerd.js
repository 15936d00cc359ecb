// Entry for Cloudflare Workers (workerd) and other edge runtimes that refuse to compile
// wasm bytes: the .wasm is imported as a module.
import wasmModule from "./tributary_bg.wasm";
import { initSync, setErrorClass } from "./tributary.js";
import { TributaryError } from "./errors.js";

initSync({ module: wasmModule });
setErrorClass(TributaryError);

export { Tributary, TopicProducer, Sink, partitionFor } from "./tributary.js";
export { TributaryError };
