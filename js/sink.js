// What the sink variants ship as errors.js: errors.js and the NATS wire (nats.js) bundled
// into one module, so every runtime's list of the package's modules stays as it is.
export * from "./errors.js";
export { installSink, Sink } from "./nats.js";
