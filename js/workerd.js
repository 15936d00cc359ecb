// Entry for Cloudflare Workers (workerd) and other edge runtimes that refuse to compile
// wasm bytes: the .wasm is imported as a module.
import wasmModule from "./tributary_bg.wasm";
import { initSync, setErrorClass, TopicProducer } from "./tributary.js";
import { TributaryError, installPackedSendAll } from "./errors.js";

initSync({ module: wasmModule });
setErrorClass(TributaryError);
installPackedSendAll(TopicProducer);

export { Tributary, TopicProducer, Sink, partitionFor } from "./tributary.js";
export { TributaryError };
