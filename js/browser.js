// Entry for browsers and bundlers: the .wasm is fetched from next to this module
// (bundlers that understand `new URL(..., import.meta.url)`, like Vite, emit it as an
// asset; with esbuild, copy tributary_bg.wasm next to the bundle).
import init, { setErrorClass, Tributary, TopicProducer } from "./tributary.js";
import { TributaryError, installPackedSendAll, guard } from "./errors.js";
import { installSink } from "./errors.js"; // sink

await init({ module_or_path: new URL("./tributary_bg.wasm", import.meta.url) });
setErrorClass(TributaryError);
installPackedSendAll(TopicProducer);
installSink(Tributary, TopicProducer); // sink
guard({ Tributary, TopicProducer });

export { Tributary, TopicProducer, partitionFor } from "./tributary.js";
export { Sink } from "./errors.js"; // sink
export { TributaryError };
