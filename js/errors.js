// TributaryError, imported by every module of the package (with the sink, js/sink.js
// bundles this module and the NATS wire into the variant's errors.js).

/**
 * Every failure of tributary is a TributaryError: an Error with a stable `code`
 * (RECORD_TOO_LARGE, UNKNOWN_TOPIC, OFFSET_EVICTED, QUEUE_FULL, INVALID_ARGUMENT, ...).
 */
export class TributaryError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "TributaryError";
    this.code = code;
  }
}
