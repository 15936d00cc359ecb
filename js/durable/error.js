// @ts-check
// tributary/durable: its errors (see durable.js).

/** A storage failure, with a stable code like the package's own errors. */
export class DurableError extends Error {
  // Fields (defined on the error, never through a setter on Object.prototype).
  name = "DurableError";
  /** @type {string} */
  code;
  /** SINK_UNDELIVERED: the records given up. @type {object[] | undefined} */
  records = undefined;
  /**
   * @param {string} code
   * @param {string} message
   * @param {unknown} [cause]
   */
  constructor(code, message, cause) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
  }
}

/**
 * A storage failure as a DurableError: STORAGE_QUOTA or STORAGE_FAILED.
 * @param {string} op
 * @param {any} e
 */
export function storageError(op, e) {
  const quota = e?.name === "QuotaExceededError" || e?.code === 22;
  return new DurableError(quota ? "STORAGE_QUOTA" : "STORAGE_FAILED",
    `${op}: ${quota ? "storage quota exceeded" : "storage failed"} (${e?.name ?? "Error"}: ${e?.message ?? e})`, e);
}

