// Deno: `deno run --allow-net --allow-read deno.mjs <ws url> <topic> <count>` from a folder
// whose node_modules holds the installed package; prints the result as one JSON line.
import * as tributary from "tributary";
import { produce } from "./produce.mjs";

const [url, topic, count] = Deno.args;
const result = await produce(tributary, { url, topic, count: Number(count) });
console.log(JSON.stringify({ runtime: `deno ${Deno.version.deno}`, ...result }));
