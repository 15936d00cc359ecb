// Entry for browsers and bundlers: the .wasm is fetched from next to this module
// (bundlers that understand `new URL(..., import.meta.url)`, like Vite, emit it as an
// asset; with esbuild, copy tributary_bg.wasm next to the bundle).
// The fetch and instantiation are here rather than in the glue's `init` (build_pkg.py
// leaves that out: its fallbacks and deprecation paths were ~500 B gzip).
import { __wbg_get_imports, __wbg_finalize_init, setErrorClass, Tributary, TopicProducer } from "./tributary.js";
import { TributaryError, installProducer, guard } from "./errors.js";
import { installSink } from "./errors.js"; // sink

const url = new URL("./tributary_bg.wasm", import.meta.url);
const response = await fetch(url);
if (!response.ok) throw new Error(`fetching ${url} failed: ${response.status}`);
const { instance, module } = await WebAssembly.instantiate(await response.arrayBuffer(), __wbg_get_imports());
const { memory } = __wbg_finalize_init(instance, module);
setErrorClass(TributaryError);
installProducer(Tributary, TopicProducer, memory);
installSink(Tributary, TopicProducer); // sink
guard({ Tributary, TopicProducer });

export { Tributary, TopicProducer, partitionFor } from "./tributary.js";
export { Sink } from "./errors.js"; // sink
export { TributaryError };
