// TributaryError, imported by every module of the package (its own module in every
// variant: one class for every entry and subpath).

/**
 * Every failure of tributary is a TributaryError: an Error with a stable `code`
 * (RECORD_TOO_LARGE, UNKNOWN_TOPIC, OFFSET_EVICTED, QUEUE_FULL, INVALID_ARGUMENT, ...).
 */
export class TributaryError extends Error {
  // Fields, not assignments: defined on the error itself, never through a setter a page
  // put on Object.prototype.
  name = "TributaryError";
  code;
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}
