// README.md's tested code blocks. A fenced block takes part when its info string carries
// attributes after the language (GitHub shows only the language):
//
//   ```js file=app.mjs for=app,browser     a file of those examples, written out verbatim
//   ```sh test=install                     run first in every example's folder
//   ```sh test=app                         an example's commands (readme.test.mjs says how
//                                           each kind of example runs them)
//   ```sh requests=workerd                 commands run against a served example
//   ```text output=app,browser             what those examples print
//
// Every js/mjs/ts/mts `file=` block is also type-checked by tests/js/types/.
import { readFileSync } from "node:fs";

export const readmePath = new URL("../../../README.md", import.meta.url);

/** The fenced blocks of `markdown`: `{ lang, attrs, body, line }`; list attributes split on ",". */
export function parseBlocks(markdown) {
  const blocks = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})(.*)$/.exec(lines[i]);
    if (!open) continue;
    const [lang = "", ...words] = open[2].trim().split(/\s+/);
    const end = lines.findIndex((l, j) => j > i && l.startsWith(open[1]) && l.trim() === open[1]);
    if (end < 0) throw new Error(`README.md:${i + 1}: unclosed code block`);
    const attrs = {};
    for (const w of words) {
      const m = /^([a-z]+)=(.+)$/.exec(w);
      if (!m) throw new Error(`README.md:${i + 1}: attribute ${JSON.stringify(w)} is not name=value`);
      attrs[m[1]] = m[1] === "file" ? m[2] : m[2].split(",");
    }
    blocks.push({ lang, attrs, body: lines.slice(i + 1, end).join("\n") + "\n", line: i + 1 });
    i = end;
  }
  return blocks;
}

export function readmeBlocks() {
  return parseBlocks(readFileSync(readmePath, "utf8"));
}

/** The README's JS and TS files (every `file=` block in one of those languages). */
export function scriptFiles(blocks = readmeBlocks()) {
  return blocks.filter((b) => b.attrs.file && /\.(m?js|m?ts)$/.test(b.attrs.file));
}
