// Shared by every JS benchmark, in Node and in the browser page: seeded records, the
// alternating runner, and the statistics. Plain ES module, no imports.

/** xorshift64 over BigInt-free 32-bit halves: the same sequence in every runtime. */
export function rng(seed = 0x5eed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s;
  };
}

/**
 * `n` records, seeded: 16-byte ASCII keys (`user-` + 11 digits, 100,000 distinct) and
 * 100-byte values of random lowercase letters, as the core benchmark makes them.
 * Returns `{ keys, values, keyStrings }`: keys and values as Uint8Array (each its own
 * buffer, as a caller would hold them), keys also as strings.
 */
export function makeRecords(n, seed = 0x5eed) {
  const next = rng(seed);
  const keys = new Array(n);
  const keyStrings = new Array(n);
  const values = new Array(n);
  const enc = new TextEncoder();
  for (let i = 0; i < n; i++) {
    const k = `user-${String(next() % 100_000).padStart(11, "0")}`;
    keyStrings[i] = k;
    keys[i] = enc.encode(k);
    const v = new Uint8Array(100);
    for (let j = 0; j < 100; j++) v[j] = 97 + (next() % 26);
    values[i] = v;
  }
  return { keys, values, keyStrings };
}

/** Median, min and max of a list of numbers. */
export function summary(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  return { median, min: s[0], max: s[n - 1], runs: s.length };
}

/**
 * Runs each contender once to warm up (not counted), then `reps` rounds in which every
 * contender runs once, the order rotating each round (A B, B A, ...). Each contender is
 * an async function returning a number (higher is better) or an object with `value`.
 * Resolves with { name: summary & { samples, extra } } (`extra`: the median of each other
 * numeric field the runs returned).
 */
export async function alternate(reps, contenders, { warmup = 1, onRun } = {}) {
  const names = Object.keys(contenders);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  const extras = Object.fromEntries(names.map((n) => [n, []]));
  for (let w = 0; w < warmup; w++) for (const n of names) await contenders[n]();
  for (let r = 0; r < reps; r++) {
    const order = r % 2 ? [...names].reverse() : names;
    for (const n of order) {
      const out = await contenders[n]();
      const value = typeof out === "number" ? out : out.value;
      if (typeof out === "object") extras[n].push(out);
      samples[n].push(value);
      onRun?.(n, value);
    }
  }
  // Extra figures a run reports (counts, shares): the median of each numeric one.
  const extra = (list) => {
    const o = {};
    for (const k of Object.keys(list[0] ?? {})) {
      if (k === "value") continue;
      o[k] = typeof list[0][k] === "number" ? summary(list.map((x) => x[k])).median : list.at(-1)[k];
    }
    return o;
  };
  return Object.fromEntries(names.map((n) => [n, { ...summary(samples[n]), samples: samples[n], extra: extra(extras[n]) }]));
}

/** A macrotask turn (MessageChannel: no timer clamping in browsers). */
export function nextTask() {
  if (typeof setImmediate === "function") return new Promise((r) => setImmediate(r));
  return new Promise((r) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => { ch.port1.close(); r(); };
    ch.port2.postMessage(0);
  });
}
