// The part of node:assert/strict the suite uses, for browsers (which have no node:assert).
const fail = (message) => {
  throw new Error(message);
};
const same = (a, b) => {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (ArrayBuffer.isView(a)) return a.length === b.length && a.every((x, i) => x === b[i]);
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => same(a[k], b[k]));
};
export default {
  equal: (a, b, m) => Object.is(a, b) || fail(m ?? `${a} !== ${b}`),
  ok: (v, m) => v || fail(m ?? `not ok: ${v}`),
  deepEqual: (a, b, m) => same(a, b) || fail(m ?? `${JSON.stringify(a)} != ${JSON.stringify(b)}`),
};
