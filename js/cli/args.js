// The command line's options: parsed against a table per command, each bad argument a
// UsageError (exit status 2) with a one-line message. A secret option's value (`secret`)
// never appears in a message, nor in the process title (`redact`).

export class UsageError extends Error {}

/**
 * Parses `argv` against `spec` ({ positional: [names], options: { name: { short, value,
 * repeat, secret, parse } } }); returns { positional: {...}, options: {...} }, options by
 * their long name (repeatable ones as arrays; flags true).
 */
export function parse(spec, argv) {
  const options = Object.create(null);
  const positional = [];
  for (const t of scan(spec, argv)) {
    if (t.unknown) throw new UsageError(`unknown option ${t.unknown}`);
    if (t.positional !== undefined) {
      positional.push(t.positional);
      continue;
    }
    const { name, o, value } = t;
    if (!o.value) {
      if (value !== undefined) throw new UsageError(`option --${name} takes no value`);
      options[name] = true;
      continue;
    }
    if (value === undefined) throw new UsageError(`option --${name} needs a value (${o.value})`);
    let parsed = value;
    if (o.parse) {
      try {
        parsed = o.parse(value);
      } catch (e) {
        const shown = o.secret ? "" : ` '${value}'`;
        throw new UsageError(`option --${name}: bad value${shown}: ${e.message}`);
      }
    }
    if (o.repeat) (options[name] ??= []).push(parsed);
    else if (Object.hasOwn(options, name)) throw new UsageError(`option --${name} given twice`);
    else options[name] = parsed;
  }
  if (options.help) return { help: true, options, positional: {} };
  const names = spec.positional;
  if (positional.length < names.length) throw new UsageError(`missing <${names[positional.length]}>`);
  if (positional.length > names.length) throw new UsageError(`unexpected argument '${positional[names.length]}'`);
  return { options, positional: Object.fromEntries(names.map((n, i) => [n, positional[i]])) };
}

/**
 * `argv` with the value of every secret option replaced by "***", read as `parse` reads
 * it (for the process title, which `ps` shows to every user of the machine).
 */
export function redact(spec, argv) {
  const out = argv.slice();
  for (const t of scan(spec, argv)) {
    if (!t.o?.secret || t.value === undefined) continue;
    out[t.at] = `${argv[t.at].slice(0, argv[t.at].length - t.value.length)}***`;
  }
  return out;
}

/**
 * The arguments, one at a time, as { positional }, { unknown: "--name" | "-x" } or an
 * option { name, o (its spec), value (undefined: none), at (the index of the argument
 * holding the value) }. An option that takes a value takes the next argument when it
 * has none of its own (`--name=value`, `-xvalue`); short options combine (`-vh`, `-vf
 * path`, `-vfpath`: the first that takes a value takes the rest); after "--" all are
 * positional.
 */
function* scan(spec, argv) {
  const byShort = new Map();
  for (const [name, o] of Object.entries(spec.options)) if (o.short) byShort.set(o.short, name);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      for (const p of argv.slice(i + 1)) yield { positional: p };
      return;
    }
    let name;
    let value;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      if (eq >= 0) value = arg.slice(eq + 1);
      if (!Object.hasOwn(spec.options, name)) {
        yield { unknown: `--${name}` };
        continue;
      }
    } else if (arg.length > 1 && arg.startsWith("-")) {
      const at = i;
      for (let j = 1; j < arg.length; j++) {
        if (!byShort.has(arg[j])) {
          yield { unknown: `-${arg[j]}` };
          break;
        }
        const short = byShort.get(arg[j]);
        const o = spec.options[short];
        if (!o.value) {
          yield { name: short, o, value: undefined, at };
          continue;
        }
        if (j + 1 < arg.length) yield { name: short, o, value: arg.slice(j + 1), at };
        else if (i + 1 < argv.length) yield { name: short, o, value: argv[++i], at: i };
        else yield { name: short, o, value: undefined, at };
        break;
      }
      continue;
    } else {
      yield { positional: arg };
      continue;
    }
    const o = spec.options[name];
    let at = i;
    if (o.value && value === undefined && i + 1 < argv.length) {
      at = ++i;
      value = argv[at];
    }
    yield { name, o, value, at };
  }
}

/** A whole number in [min, max]. */
export const integer = (min, max) => (text) => {
  if (!/^\d+$/.test(text)) throw new Error("not a whole number");
  const n = Number(text);
  if (n < min || n > max) throw new Error(`must be ${min} to ${max}`);
  return n;
};

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration: "150ms", "20s", "2m", "1h" or a number of milliseconds; in ms. */
export function duration(text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (!m) throw new Error("not a duration (e.g. 150ms, 20s, 2m)");
  const ms = Math.round(Number(m[1]) * UNITS[m[2] ?? "ms"]);
  if (ms > 2_147_483_647) throw new Error("too long");
  return ms;
}

/** One of `choices`; `aliases` maps other spellings to them. */
export const oneOf = (choices, aliases = {}) => (text) => {
  const v = Object.hasOwn(aliases, text) ? aliases[text] : text;
  if (!choices.includes(v)) throw new Error(`must be one of ${choices.join(", ")}`);
  return v;
};

/** Not empty. */
export function nonEmpty(text) {
  if (text === "") throw new Error("empty");
  return text;
}
