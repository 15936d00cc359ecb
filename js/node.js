// Entry for Node, Deno and Bun: the .wasm is read from disk next to this module.
import { readFileSync } from "node:fs";
import { initSync, setErrorClass, TopicProducer } from "./tributary.js";
import { TributaryError, installPackedSendAll } from "./errors.js";

initSync({ module: readFileSync(new URL("./tributary_bg.wasm", import.meta.url)) });
setErrorClass(TributaryError);
installPackedSendAll(TopicProducer);

export { Tributary, TopicProducer, Sink, partitionFor } from "./tributary.js";
export { TributaryError };
