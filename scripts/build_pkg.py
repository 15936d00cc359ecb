#!/usr/bin/env python3
"""Builds pkg/, the npm package, from the matrix in wasm-pack.toml.

cargo rustc (wasm32, release) -> wasm-bindgen (glue) -> wasm-opt (npm binaryen) ->
entry modules from js/ -> package.json with `exports` conditions -> size report
(raw / gzip / brotli of what a browser loads) in target/pkg-size.json.
"""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*cmd, env=None):
    print("    $", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT,
                   env={**os.environ, **env} if env else None)


def brotli_size(data: bytes):
    try:
        import brotli  # type: ignore
    except ImportError:
        out = subprocess.run(
            ["node", "-e", "const z=require('zlib');let b=[];process.stdin.on('data',d=>b.push(d)).on('end',()=>{const o=z.brotliCompressSync(Buffer.concat(b),{params:{[z.constants.BROTLI_PARAM_QUALITY]:11}});process.stdout.write(String(o.length))})"],
            input=data, capture_output=True, check=True)
        return int(out.stdout)
    return len(brotli.compress(data, quality=11))


def build_variant(m, variant, out):
    """Builds one variant (cargo, wasm-bindgen, wasm-opt, entries) into `out`; returns
    {condition: entry file}."""
    b = m["build"]
    name = b["out-name"]
    # `cargo rustc` gives the crate-only flags to this crate alone; RUSTC_BOOTSTRAP naming
    # the crate lets the stable compiler take its -Z flags without letting any dependency
    # (or a build script's probe) see a nightly compiler.
    crate_flags = b.get("crate-rustflags", [])
    run("cargo", "rustc", "--quiet", "--lib", "--target", b["target"], "--profile", b["profile"],
        *variant.get("cargo-args", []), "--", *crate_flags,
        env={"RUSTC_BOOTSTRAP": "tributary"} if crate_flags else None)
    wasm_in = ROOT / "target" / b["target"] / b["profile"] / "tributary.wasm"
    run("wasm-bindgen", wasm_in, "--target", b["bindgen-target"], "--out-dir", out, "--out-name", name)
    bg = out / f"{name}_bg.wasm"
    run(ROOT / "node_modules/.bin/wasm-opt", *m["wasm-opt"]["flags"], bg, "-o", bg)
    glue = out / f"{name}.js"
    if m["wasm-opt"].get("short-names"):
        shorten_names(bg, glue, out / f"{name}_bg.wasm.d.ts", set(m["wasm-opt"].get("keep-exports", [])))
    entry_init(glue)
    # The glue ships minified (its names and types are in tributary.d.ts), without what
    # no entry uses.
    run(ROOT / "node_modules/.bin/esbuild", glue, "--minify", "--tree-shaking=true", "--format=esm",
        "--target=es2022", "--log-level=warning", "--allow-overwrite", f"--outfile={glue}")
    entries = {}
    for e in m["entry"]:
        copy_entry(ROOT / "js" / e["file"], out / e["file"], variant.get("omit", []))
        run(ROOT / "node_modules/.bin/esbuild", out / e["file"], "--minify", "--format=esm", "--target=es2022",
            "--log-level=warning", "--allow-overwrite", f"--outfile={out / e['file']}")
        for c in e["conditions"]:
            entries[c] = e["file"]
    copy_entry(ROOT / "js" / "index.d.ts", out / "index.d.ts", variant.get("omit", []))
    # The package's own JS ships minified too (readable sources in js/).
    # With the sink, errors.js also carries the sink's wire (js/nats.js, bundled by
    # js/sink.js): the same module list for every runtime.
    src = ROOT / "js" / ("sink.js" if has_sink(variant) else "errors.js")
    # The sink state's internal fields get one- or two-letter names (wasm-pack.toml [js]).
    props = m.get("js", {}).get("mangle-props", [])
    mangle = [f"--mangle-props=^({'|'.join(props)})$"] if props and has_sink(variant) else []
    run(ROOT / "node_modules/.bin/esbuild", src, "--bundle", "--minify", "--format=esm",
        "--target=es2022", "--log-level=warning", *mangle, f"--outfile={out / 'errors.js'}")
    gi = out / ".gitignore"
    if gi.exists():
        gi.unlink()
    return entries


def leb(data, i):
    """Reads an unsigned LEB128 at data[i]; returns (value, next index)."""
    v = shift = 0
    while True:
        b = data[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return v, i


def to_leb(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def wasm_name(data, i):
    n, i = leb(data, i)
    return data[i:i + n].decode(), i + n


def enc_name(s):
    b = s.encode()
    return to_leb(len(b)) + b


def short_names():
    """a, b, ..., Z, then two letters (skipping the words JS reserves)."""
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    yield from letters
    for a in letters:
        for b in letters:
            if a + b not in ("do", "if", "in"):
                yield a + b


def shorten_names(wasm, glue, dts, keep):
    """Renames the wasm's imports (module and field) and exports to one or two letters,
    and the wasm-bindgen glue (and the `_bg.wasm.d.ts` beside it) to match: wasm-bindgen
    names its imports `__wbg_<name>_<hash>` and its exports after Rust paths, bytes that
    the wasm and the glue both carry. Exports named in `keep` stay (tests read
    `memory`). Fails the build if the glue does not have every name where expected."""
    data = bytearray(wasm.read_bytes())
    if data[:8] != b"\0asm\x01\0\0\0":
        raise SystemExit("shorten_names: not a wasm module")
    out = bytearray(data[:8])
    imports, exports = {}, {}
    modules = set()
    i = 8
    while i < len(data):
        sid = data[i]
        size, body = leb(data, i + 1)
        end = body + size
        if sid == 2:  # imports: (module, field, desc)
            count, j = leb(data, body)
            names = short_names()
            sec = bytearray(to_leb(count))
            for _ in range(count):
                module, j = wasm_name(data, j)
                field, j = wasm_name(data, j)
                desc_start = j
                if data[j] != 0:  # wasm-bindgen imports functions only
                    raise SystemExit(f"shorten_names: import {field} is not a function")
                j = leb(data, j + 1)[1]  # its type index
                modules.add(module)
                imports[field] = imports.get(field) or next(names)
                sec += enc_name("a") + enc_name(imports[field]) + data[desc_start:j]
            if j != end or len(modules) != 1:
                raise SystemExit("shorten_names: one import module expected")
        elif sid == 7:  # exports: (name, kind, index)
            count, j = leb(data, body)
            names = short_names()
            sec = bytearray(to_leb(count))
            for _ in range(count):
                field, j = wasm_name(data, j)
                idx_end = leb(data, j + 1)[1]  # kind byte, index
                if field not in keep:
                    exports[field] = next(names)
                sec += enc_name(exports.get(field, field)) + data[j:idx_end]
                j = idx_end
            if j != end:
                raise SystemExit("shorten_names: export section misread")
        else:
            sec = data[body:end]
        out += bytes([sid]) + to_leb(len(sec)) + sec
        i = end
    wasm.write_bytes(bytes(out))

    text = glue.read_text()
    (module,) = modules
    text, n = re.subn(rf'"{re.escape(module)}": import0\b', '"a": import0', text)
    if n != 1:
        raise SystemExit(f"shorten_names: glue: import module {module!r} not found")
    for old, new in imports.items():
        text, n = re.subn(rf"(?m)^(\s+){re.escape(old)}: function\b", rf"\g<1>{new}: function", text)
        if n != 1:
            raise SystemExit(f"shorten_names: glue: import {old} not found")
    for old, new in exports.items():
        text = re.sub(rf"\bwasm\.{re.escape(old)}\b", f"wasm.{new}", text)
    # Every export the glue reads is now one of the wasm's names (the renamed or kept ones).
    names = set(exports.values()) | keep
    stale = {n for n in re.findall(r"\bwasm\.([A-Za-z_$][\w$]*)", text) if n not in names}
    if stale:
        raise SystemExit(f"shorten_names: glue: exports not renamed: {stale}")
    glue.write_text(text)
    # The glue's types: each export in tributary_bg.wasm.d.ts, and `InitOutput` (what
    # initSync returns) in tributary.d.ts.
    for path, prefix in ((dts, "export const "), (glue.with_suffix(".d.ts"), "    readonly ")):
        t = path.read_text()
        for old, new in exports.items():
            t = re.sub(rf"(?m)^{prefix}{re.escape(old)}:", f"{prefix}{new}:", t)
        path.write_text(t)


def entry_init(glue):
    """The glue exports `initSync` (node.js, workerd.js) and, for browser.js, which fetches
    and instantiates the wasm itself, the two steps around instantiation; the glue's own
    async `init` (its default export: fetch, MIME fallback, deprecation warnings) is left
    for esbuild's tree shaking to drop, and its declaration leaves tributary.d.ts."""
    text, n = re.subn(r"(?m)^export \{ initSync, __wbg_init as default \};$",
                      "export { initSync, __wbg_get_imports, __wbg_finalize_init };", glue.read_text())
    if n != 1 or "function __wbg_get_imports()" not in text or "function __wbg_finalize_init(instance, module)" not in text:
        raise SystemExit("entry_init: the glue's init exports are not where expected")
    glue.write_text(text)
    dts = glue.with_suffix(".d.ts")
    t, n = re.subn(r"\n/\*\*\n \* If `module_or_path`(?:.|\n)*?\*/\nexport default function __wbg_init \(.*\n", "\n", dts.read_text())
    if n != 1:
        raise SystemExit("entry_init: the glue's default init is not declared where expected")
    dts.write_text(t)


def has_sink(variant):
    return "Sink" not in variant.get("omit", [])


def copy_entry(src, dst, omit):
    """Copies an entry module, dropping the names the variant lacks from its exports (and,
    without the sink, the lines marked `// sink`)."""
    text = src.read_text()
    if "Sink" in omit:
        text = "".join(l for l in text.splitlines(True) if not l.rstrip().endswith("// sink"))
        text = re.sub(r"(?s)// sink:begin\n.*?// sink:end\n", "", text)
    for name in omit:
        text = re.sub(rf"(?m)^  {name},\n", "", text)  # multi-line type export lists
        text = re.sub(rf"\b{name}, ", "", text)        # `export { A, Sink, B }`
    dst.write_text(text)


def entry_name(variant):
    return "tributary" if variant == "." else f"tributary/{variant}"


def size_report(files):
    report = {"files": {}, "total": {"raw": 0, "gzip": 0, "brotli": 0}}
    for f in files:
        data = f.read_bytes()
        row = {"raw": len(data), "gzip": len(gzip.compress(data, 9, mtime=0)), "brotli": brotli_size(data)}
        report["files"][f.name] = row
        for k in row:
            report["total"][k] += row[k]
    return report


def main():
    m = tomllib.loads((ROOT / "wasm-pack.toml").read_text())
    b = m["build"]
    out = ROOT / b["out-dir"]
    name = b["out-name"]
    if out.exists():
        shutil.rmtree(out)
    exports = {}
    loaded = {}
    for variant in m["variant"]:
        vdir = out / variant["name"]
        vdir.mkdir(parents=True, exist_ok=True)
        entries = build_variant(m, variant, vdir)
        prefix = "." if variant["name"] == "." else f"./{variant['name']}"
        conditions = {"types": f"{prefix}/index.d.ts"}
        for c, f in entries.items():
            conditions[c] = f"{prefix}/{f}"
        exports[prefix] = conditions
        exports[f"{prefix}/tributary_bg.wasm"] = f"{prefix}/{name}_bg.wasm"
        # What a browser loads: the wasm, the glue, the browser entry and errors.js.
        loaded[variant["name"]] = [vdir / f"{name}_bg.wasm", vdir / f"{name}.js",
                                   vdir / entries["browser"], vdir / "errors.js"]
        if variant["name"] == ".":
            main_entries = entries
    for module in m.get("module", []):
        shutil.copy(ROOT / "js" / module["file"], out / module["file"])
        if "dir" in module:  # the modules it imports, shipped beside it
            shutil.copytree(ROOT / "js" / module["dir"], out / module["dir"], dirs_exist_ok=True)
        if "export" in module:
            shutil.copy(ROOT / "js" / module["types"], out / module["types"])
            exports[module["export"]] = {"types": f"./{module['types']}", "default": f"./{module['file']}"}
    bin_ = m.get("bin")
    if bin_:
        shutil.copy(ROOT / "js" / bin_["file"], out / bin_["file"])
        (out / bin_["file"]).chmod(0o755)
        shutil.copytree(ROOT / "js" / bin_["dir"], out / bin_["dir"])
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]
    exports["./package.json"] = "./package.json"
    pkg = {
        "name": "tributary",
        "version": cargo["version"],
        "description": cargo["description"],
        "license": cargo["license"],
        "type": "module",
        "main": f"./{main_entries['node']}",
        "module": f"./{main_entries['browser']}",
        "browser": f"./{main_entries['browser']}",
        "types": "./index.d.ts",
        **({"bin": {bin_["name"]: f"./{bin_['file']}"}} if bin_ else {}),
        "exports": exports,
        "files": sorted(p.name for p in out.iterdir()),
        "sideEffects": sorted({f"{'.' if v['name'] == '.' else './' + v['name']}/{f}"
                               for v in m["variant"] for f in main_entries.values()}),
    }
    (out / "package.json").write_text(json.dumps(pkg, indent=2) + "\n")
    (out / "README.md").write_text((ROOT / "README.md").read_text())

    budgets = m["size"]["budget-gzip"]
    report = {}
    for v in m["variant"]:
        r = size_report(loaded[v["name"]])
        r["budget_gzip"] = budgets.get(v["name"])
        report[v["name"]] = r
    (ROOT / "target" / "pkg-size.json").write_text(json.dumps(report, indent=2) + "\n")
    print("==> pkg/ built: what a browser loads, per entry")
    for name, r in report.items():
        t = r["total"]
        budget = f" (budget {r['budget_gzip']} B gzip)" if r["budget_gzip"] else ""
        print(f"    {entry_name(name):18} {t['raw']:>8} raw {t['gzip']:>8} gzip {t['brotli']:>8} brotli{budget}")
    if "--report" in sys.argv:
        write_report(report)


def write_report(report):
    rows = "| entry | file | raw | gzip -9 | brotli -q 11 | budget (gzip) |\n|---|---|---:|---:|---:|---|\n"
    for name, r in report.items():
        for n, f in r["files"].items():
            rows += f"| `{entry_name(name)}` | {n} | {f['raw']} | {f['gzip']} | {f['brotli']} | |\n"
        t = r["total"]
        b = r["budget_gzip"]
        verdict = "" if not b else (f"{b}: within" if t["gzip"] <= b else f"{b}: OVER")
        rows += f"| **`{entry_name(name)}`** | **total** | **{t['raw']}** | **{t['gzip']}** | **{t['brotli']}** | {verdict} |\n"
    section = (
        "<!-- size:begin -->\n## Size of what a browser loads (npm package)\n\n"
        "Command: `make bench` (`python3 scripts/build_pkg.py --report`): per entry, the wasm after "
        "wasm-opt (wasm-pack.toml flags) with short import/export names, the minified "
        "wasm-bindgen glue, the browser entry and errors.js. `make test` checks "
        "the budgets (wasm-pack.toml `[size]`).\n\n"
        f"{rows}\n<!-- size:end -->"
    )
    path = ROOT / "BENCHMARKS.md"
    doc = path.read_text()
    a, b = doc.find("<!-- size:begin -->"), doc.find("<!-- size:end -->")
    if a >= 0 and b >= 0:
        doc = doc[:a] + section + doc[b + len("<!-- size:end -->"):]
    else:
        doc = doc.rstrip() + "\n\n" + section + "\n"
    path.write_text(doc)


def check_budget():
    """`make test`'s deterministic size check: each budgeted entry's gzip bytes (gzip -9,
    mtime 0, of fixed inputs) against its budget in wasm-pack.toml."""
    report = json.loads((ROOT / "target" / "pkg-size.json").read_text())
    failed = 0
    for name, r in report.items():
        t, budget = r["total"]["gzip"], r["budget_gzip"]
        if not budget:
            print(f"    {entry_name(name)}: {t} B gzip (no budget)")
        elif t > budget:
            print(f"FAIL: {entry_name(name)}: a browser loads {t} B gzip, over its {budget} B budget")
            failed = 1
        else:
            print(f"ok: {entry_name(name)}: a browser loads {t} B gzip, within its {budget} B budget")
    return failed


if __name__ == "__main__":
    sys.exit(check_budget() if "--check-budget" in sys.argv else main())
