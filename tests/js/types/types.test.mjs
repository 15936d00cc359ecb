// The package's types, checked as a strict TypeScript user's would be: `tsc --noEmit`
// (the root's pinned typescript) over README.md's JS and TS files, usage.mts (calls and
// return types that must hold) and misuse.mts (calls that must not compile), against the
// package installed into this folder from pkg/ (`make test-types` installs it), with
// module NodeNext (tsconfig.json) and Bundler (tsconfig.bundler.json).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { scriptFiles } from "../readme/blocks.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const tsc = fileURLToPath(new URL("../../../node_modules/.bin/tsc", import.meta.url));
const generated = join(here, "generated");

function compile(project) {
  const r = spawnSync(tsc, ["--noEmit", "--pretty", "false", "-p", join(here, project)], { cwd: here, encoding: "utf8" });
  const diagnostics = [...r.stdout.matchAll(/^(.+?)\((\d+),\d+\): error (TS\d+): (.*)$/gm)].map(([, file, line, code, message]) => ({ file, line: Number(line), code, message }));
  assert.ok(r.status === 0 || diagnostics.length > 0, `tsc failed without diagnostics: ${r.stdout}${r.stderr}`);
  return { ok: r.status === 0, output: r.stdout, diagnostics };
}

before(() => {
  assert.ok(existsSync(join(here, "node_modules/tributary/index.d.ts")), "run `make test-types`: it installs pkg/ into tests/js/types first");
  rmSync(generated, { recursive: true, force: true });
  mkdirSync(join(generated, "readme"), { recursive: true });
  const files = scriptFiles();
  assert.ok(files.length >= 3, "README.md has the tagged JS/TS examples");
  for (const b of files) {
    const name = b.attrs.file.replaceAll("/", "_");
    assert.ok(!existsSync(join(generated, "readme", name)), `two README files named ${name}`);
    writeFileSync(join(generated, "readme", name), `// README.md line ${b.line}\n${b.body}`);
  }
  // misuse.mts with its directives blanked out (line numbers unchanged).
  const bare = readFileSync(join(here, "misuse.mts"), "utf8").replace(/^\/\/ @ts-expect-error .*$/gm, "//");
  writeFileSync(join(generated, "misuse-bare.mts"), bare);
});

for (const project of ["tsconfig.json", "tsconfig.bundler.json"]) {
  test(`tsc --noEmit -p ${project}: README examples, usage.mts and misuse.mts`, () => {
    const { ok, output } = compile(project);
    assert.ok(ok, `tsc found errors:\n${output}`);
  });
}

test("tsc -p tsconfig.durable.json: tributary/durable's modules (`// @ts-check`) against durable.d.ts and index.d.ts", () => {
  const { ok, output } = compile("tsconfig.durable.json");
  assert.ok(ok, `tsc found errors:\n${output}`);
});

test("every misuse in misuse.mts fails for the reason its comment names, and nothing else fails", () => {
  const source = readFileSync(join(here, "misuse.mts"), "utf8").split("\n");
  const want = source.flatMap((l, i) => {
    const m = /^\/\/ @ts-expect-error (TS\d+) /.exec(l);
    return m ? [`line ${i + 2}: ${m[1]}`] : [];
  });
  assert.ok(want.length >= 10, "misuse.mts names its expected errors");
  const { diagnostics } = compile("tsconfig.misuse-bare.json");
  const got = diagnostics.map((d) => `${d.file.endsWith("misuse-bare.mts") ? `line ${d.line}` : d.file}: ${d.code}`);
  assert.deepEqual(got, want, diagnostics.map((d) => `${d.file}(${d.line}): ${d.code} ${d.message}`).join("\n"));
});
