// Loopback helpers shared by the demo server (www/serve.mjs) and the tests: free ports,
// waiting for a listener, the workerd config that runs a worker on loopback, and a worker
// laid out with the package's tributary/ingest.
import net from "node:net";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Whether 127.0.0.1:port accepts a TCP connection. */
export function accepts(port) {
  return new Promise((resolve) => {
    const c = net.connect({ port, host: "127.0.0.1" });
    c.once("connect", () => { c.destroy(); resolve(true); });
    c.once("error", () => resolve(false));
  });
}

/**
 * A workerd config (capnp) serving one worker on 127.0.0.1:port. `modules` is
 * [[name, kind, file?]] with kind "esModule" or "wasm", embedded from `file` (default:
 * the name) in the config's folder; `bindings` is [[name, text]]. The worker's outbound connections go through a
 * network service that allows "local" and "private" addresses: workerd refuses loopback
 * otherwise.
 */
/**
 * Lays out, in `dir`, a worker whose main module is `worker` and whose other modules are
 * the built package's files (`pkg`: its workerd entry and tributary/ingest) under the names
 * an import resolves them to ("tributary", "tributary/ingest", and each module's relative
 * imports against its own name), and writes `dir/config.capnp` for it (`workerdConfig`'s
 * `port` and `bindings`). Files are stored under names of their own: module "tributary"
 * and folder "tributary/" cannot share one.
 */
export function workerdWithIngest(dir, { pkg, worker, port, bindings = [] }) {
  const modules = [
    ["worker.mjs", "esModule", worker],
    ["tributary", "esModule", join(pkg, "workerd.js")],
    ["tributary.js", "esModule", join(pkg, "tributary.js")],
    ["errors.js", "esModule", join(pkg, "errors.js")],
    ["tributary_bg.wasm", "wasm", join(pkg, "tributary_bg.wasm")],
    ["tributary/ingest", "esModule", join(pkg, "ingest.js")],
    ["tributary/ingest-wire.js", "esModule", join(pkg, "ingest-wire.js")],
    ["tributary/errors.js", "esModule", join(pkg, "errors.js")],
  ];
  const file = (name) => `files/${name.replaceAll("/", "__")}`;
  mkdirSync(join(dir, "files"), { recursive: true });
  for (const [name, , from] of modules) copyFileSync(from, join(dir, file(name)));
  writeFileSync(join(dir, "config.capnp"), workerdConfig({
    port, bindings, modules: modules.map(([name, kind]) => [name, kind, file(name)]),
  }));
}

export function workerdConfig({ port, modules, bindings = [], compatibilityDate = "2025-09-01" }) {
  const list = (items) => items.map((line) => `    ${line},`).join("\n");
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "loopback", network = (allow = ["local", "private"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [
${list(modules.map(([name, kind, file = name]) => `(name = "${name}", ${kind} = embed "${file}")`))}
  ],
  bindings = [
${list(bindings.map(([name, text]) => `(name = "${name}", text = "${text}")`))}
  ],
  compatibilityDate = "${compatibilityDate}",
  globalOutbound = "loopback",
);
`;
}
