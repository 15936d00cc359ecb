// What the sink variants ship as tributary.js: the glue (tributary.js) and the NATS wire
// (nats.js) bundled into one module, errors.js left to import, so every runtime's list of
// the package's modules stays as it is (scripts/build_pkg.py, bundle_sink).
export { initSync, guard, Tributary, TopicProducer, partitionFor } from "./tributary.js";
export { installSink, Sink } from "./nats.js";
