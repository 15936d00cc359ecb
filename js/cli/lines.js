// `tributary produce`'s input: bytes in, records out, one per line, with line numbers.
//
// - A line ends at "\n"; one "\r" before it is dropped (CRLF). The last line needs no "\n".
// - An empty line (after that) is skipped and counted, not sent.
// - With a key separator, a line is split at its first occurrence: the key before (empty
//   when the line starts with it: an empty key, not "no key"), the value after (empty
//   when the line ends with it). A line without the separator is not sent: it is
//   reported by number (`onSkip`), and the command exits 1.
// - A byte order mark (U+FEFF) is data, kept wherever it is (also at the start).
// - A line that is not valid UTF-8 is sent as its bytes, unchanged (key and value
//   split on the separator's UTF-8 bytes); valid lines are sent as strings.
// - A line (key and value) longer than `maxBytes` is not sent: it is reported by number,
//   and only `maxBytes` of it are ever held.
import { Buffer } from "node:buffer";

const NL = 10;
const CR = 13;

export class LineSplitter {
  /**
   * @param {object} o
   * @param {string | null} o.separator split key from value at its first occurrence
   * @param {string | null} o.key the key of every record (when there is no separator)
   * @param {number} o.maxBytes longest line sent
   * @param {(line: number, reason: "no-separator" | "too-long") => void} o.onSkip
   */
  constructor({ separator = null, key = null, maxBytes, onSkip }) {
    this.separator = separator;
    this.sepBytes = separator === null ? null : Buffer.from(separator, "utf8");
    this.key = key;
    this.maxBytes = maxBytes;
    this.onSkip = onSkip;
    this.decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }); // a BOM is data: kept
    this.carry = null; // bytes of an unfinished line
    this.skipping = false; // inside a line already reported too long
    this.lineNo = 0;
    this.empty = 0;
    this.entries = [];
    this.lines = [];
  }

  /** Takes a chunk; returns the records of the lines it completed, and their numbers. */
  push(chunk) {
    let bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.carry) {
      bytes = Buffer.concat([this.carry, bytes]);
      this.carry = null;
    }
    let start = 0;
    if (this.skipping) {
      const nl = bytes.indexOf(NL);
      if (nl < 0) return this._take();
      this.skipping = false;
      start = nl + 1;
    }
    const last = bytes.lastIndexOf(NL);
    if (last >= start) {
      this._body(bytes.subarray(start, last + 1));
      start = last + 1;
    }
    if (start < bytes.length) this._partial(bytes.subarray(start));
    return this._take();
  }

  /** The end of the input: its last line, if it had no "\n". */
  end() {
    if (this.carry) {
      const rest = this.carry;
      this.carry = null;
      this._bytesLine(rest);
    }
    return this._take();
  }

  _take() {
    const out = { entries: this.entries, lines: this.lines };
    this.entries = [];
    this.lines = [];
    return out;
  }

  /** An unfinished line: kept, unless it is already too long. */
  _partial(rest) {
    if (rest.length > this.maxBytes + 1) {
      this.lineNo++;
      this.onSkip(this.lineNo, "too-long");
      this.skipping = true;
    } else {
      this.carry = Buffer.from(rest); // a copy: the chunk it came from is not kept
    }
  }

  /** `bytes` as text, or null when they are not UTF-8 (the decoder is fatal). */
  _text(bytes) {
    try {
      return this.decoder.decode(bytes);
    } catch {
      return null;
    }
  }

  /** Complete lines, each ending with "\n". */
  _body(body) {
    // null when some line is not UTF-8: then line by line, as bytes where need be.
    const text = this._text(body);
    if (text !== null) {
      let at = 0;
      const end = text.length;
      while (at < end) {
        const nl = text.indexOf("\n", at);
        this._textLine(text, at, nl);
        at = nl + 1;
      }
      return;
    }
    let at = 0;
    while (at < body.length) {
      const nl = body.indexOf(NL, at);
      this._bytesLine(body.subarray(at, nl));
      at = nl + 1;
    }
  }

  _textLine(text, from, to) {
    this.lineNo++;
    if (to > from && text.charCodeAt(to - 1) === CR) to--;
    if (to === from) {
      this.empty++;
      return;
    }
    const line = text.slice(from, to);
    // UTF-8 is at most 3 bytes per UTF-16 unit: count exactly only when it may be over.
    if (line.length * 3 > this.maxBytes && Buffer.byteLength(line, "utf8") > this.maxBytes) {
      this.onSkip(this.lineNo, "too-long");
      return;
    }
    if (this.separator === null) {
      this.entries.push([this.key, line]);
    } else {
      const i = line.indexOf(this.separator);
      if (i < 0) {
        this.onSkip(this.lineNo, "no-separator");
        return;
      }
      this.entries.push([line.slice(0, i), line.slice(i + this.separator.length)]);
    }
    this.lines.push(this.lineNo);
  }

  /** A line without its "\n", as bytes: sent as text if it is UTF-8, else as bytes. */
  _bytesLine(bytes) {
    const text = this._text(bytes);
    if (text !== null) {
      this._textLine(text, 0, text.length);
      return;
    }
    this.lineNo++;
    let line = bytes;
    if (line.length && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    if (line.length > this.maxBytes) {
      this.onSkip(this.lineNo, "too-long");
      return;
    }
    if (this.sepBytes === null) {
      this.entries.push([this.key, Uint8Array.from(line)]);
    } else {
      const i = line.indexOf(this.sepBytes);
      if (i < 0) {
        this.onSkip(this.lineNo, "no-separator");
        return;
      }
      this.entries.push([Uint8Array.from(line.subarray(0, i)), Uint8Array.from(line.subarray(i + this.sepBytes.length))]);
    }
    this.lines.push(this.lineNo);
  }
}
