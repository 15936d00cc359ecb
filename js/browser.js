// Entry for browsers and bundlers: the .wasm is fetched from next to this module
// (bundlers that understand `new URL(..., import.meta.url)`, like Vite, emit it as an
// asset; with esbuild, copy tributary_bg.wasm next to the bundle). The wasm imports
// nothing: it is instantiated asynchronously here (browsers refuse to compile large
// modules synchronously on the main thread).
import { initSync, guard, Tributary, TopicProducer } from "./tributary.js";
import { installSink } from "./tributary.js"; // sink

const url = new URL("./tributary_bg.wasm", import.meta.url);
const response = await fetch(url);
if (!response.ok) throw new Error(`fetching ${url} failed: ${response.status}`);
initSync((await WebAssembly.instantiate(await response.arrayBuffer(), {})).instance);
installSink(Tributary, TopicProducer); // sink
guard({ Tributary, TopicProducer });

export { Tributary, TopicProducer, partitionFor } from "./tributary.js";
export { Sink } from "./tributary.js"; // sink
export { TributaryError } from "./errors.js";
