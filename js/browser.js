// Entry for browsers and bundlers: the .wasm is fetched from next to this module
// (bundlers that understand `new URL(..., import.meta.url)`, like Vite, emit it as an
// asset; with esbuild, copy tributary_bg.wasm next to the bundle).
import init, { setErrorClass, TopicProducer } from "./tributary.js";
import { TributaryError, installPackedSendAll } from "./errors.js";

await init({ module_or_path: new URL("./tributary_bg.wasm", import.meta.url) });
setErrorClass(TributaryError);
installPackedSendAll(TopicProducer);

export { Tributary, TopicProducer, Sink, partitionFor } from "./tributary.js";
export { TributaryError };
