#!/usr/bin/env python3
"""Builds pkg/, the npm package, from the matrix in wasm-pack.toml.

cargo rustc (wasm32, release) -> exports fitted to js/tributary.js -> wasm-opt (npm
binaryen) -> the JS minified, entry modules from js/ -> package.json with `exports` conditions -> size report
(raw / gzip / brotli of what a browser loads) in target/pkg-size.json.
"""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
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
    """Builds one variant (cargo, wasm-opt, the JS over it, entries) into `out`; returns
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
    bg = out / f"{name}_bg.wasm"
    shutil.copy(wasm_in, bg)
    # The JS over the wasm (js/tributary.js: the classes over the C ABI of src/bindings),
    # and its types, written by hand.
    omit = variant.get("omit", [])
    glue = out / f"{name}.js"
    copy_entry(ROOT / "js" / f"{name}.js", glue, omit)
    copy_entry(ROOT / "js" / f"{name}.d.ts", out / f"{name}.d.ts", omit)
    props = m.get("js", {}).get("mangle-props", [])
    exports_for_glue(bg, glue, set(m["wasm-opt"].get("keep-exports", [])), m["wasm-opt"].get("short-names"), set(props))
    run(ROOT / "node_modules/.bin/wasm-opt", *m["wasm-opt"]["flags"], bg, "-o", bg)
    # With the sink, the glue and the sink's wire (js/nats.js) ship as one module
    # (js/sink.js bundled by esbuild, errors.js left to import): one file gzipped, with one
    # set of mangled names, smaller than the two apart (BENCHMARKS.md, "What the sink
    # costs"); every runtime's list of the package's modules stays as it is.
    if has_sink(variant):
        bundle_sink(glue)
    # The glue ships minified (its names and types are in tributary.d.ts). Its private
    # fields get one- or two-letter names (wasm-pack.toml [js]).
    minify(glue, props)
    entries = {}
    for e in m["entry"]:
        copy_entry(ROOT / "js" / e["file"], out / e["file"], omit)
        minify(out / e["file"])
        for c in e["conditions"]:
            entries[c] = e["file"]
    copy_entry(ROOT / "js" / "index.d.ts", out / "index.d.ts", omit)
    # The package's own JS ships minified too (readable sources in js/). errors.js stays
    # its own small module in every variant: TributaryError, one class for every entry and
    # for the modules at the package's root (ingest.js) that import it.
    shutil.copy(ROOT / "js" / "errors.js", out / "errors.js")
    minify(out / "errors.js")
    return entries


def bundle_sink(glue):
    """Replaces the glue with js/sink.js bundled by esbuild: the glue (as written into
    `glue`, its wasm exports fitted) and js/nats.js in one module; ./errors.js stays an
    import (one TributaryError for the whole package)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for f in ("sink.js", "nats.js", "errors.js"):
            shutil.copy(ROOT / "js" / f, tmp / f)
        shutil.copy(glue, tmp / "tributary.js")
        run(ROOT / "node_modules/.bin/esbuild", tmp / "sink.js", "--bundle", "--format=esm",
            "--target=es2022", "--log-level=warning", "--external:./errors.js", f"--outfile={glue}")
    # esbuild writes a bundled `export class X` as `var X = class {` (or `class _X {`): an
    # anonymous class that takes its name from the variable, which the minifier renames
    # (Tributary.name was "t"). Declared as classes again, minify() keeps their names.
    # A class that names itself inside is written `var X = class _X {`, and its body says
    # `_X`: declared `class X`, the body's `X` is the same binding.
    text = glue.read_text()
    found = re.findall(r"^var (\w+) = class( _\1)? \{", text, flags=re.M)
    if not found:
        raise SystemExit("bundle_sink: esbuild's output has no `var X = class` to declare")
    for name, inner in found:
        text = re.sub(rf"^var {name} = class{inner} \{{", f"class {name} {{", text, flags=re.M)
        if inner:
            text = re.sub(rf"(?<![\w$.])_{name}\b", name, text)
    glue.write_text(text)


# What the entries export by name (js/tributary.js, js/nats.js, js/errors.js).
PUBLIC_CLASSES = ("Tributary", "TopicProducer", "Sink", "TributaryError")
PUBLIC_FUNCTIONS = ("partitionFor",)


def minify(path, props=()):
    """Minifies an ES module in place with terser, smaller by gzip than esbuild's --minify
    (BENCHMARKS.md, "The local JS, this round"): its compressor's safe options (3 passes,
    function declarations hoisted, no inlining of single-use functions into IIFEs: gzip
    finds the repeats), local names mangled, ASCII output, and the properties named in
    `props` renamed (never a quoted name, nor one the module uses unmangled; DOM-like
    names too: the list names only the package's own fields)."""
    mangle = ["--mangle-props", f"regex=/^({'|'.join(props)})$/,keep_quoted=true,builtins=true"] if props else []
    # The exported classes and functions keep their names (`Tributary.name`, stack traces).
    keep = f"keep_classnames=/^({'|'.join(PUBLIC_CLASSES)})$/,keep_fnames=/^({'|'.join(PUBLIC_FUNCTIONS)})$/"
    run(ROOT / "node_modules/.bin/terser", path, "--module", "--ecma", "2022",
        "--compress", f"passes=3,hoist_funs=true,inline=false,{keep}", "--mangle", keep, *mangle,
        "--format", "ascii_only=true", "--output", path)


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


def exports_for_glue(wasm, glue, keep, short, avoid):
    """Fits the wasm's exports to the glue: an export the glue does not read (`wasm.X`) is
    dropped (the linker's `__data_end`, `__heap_base`; wasm-opt then removes what only
    they reached), and with `short` the others are renamed to one or two letters, in
    both files (Rust's export names are bytes the wasm and the glue both carry). Exports
    named in `keep` stay as they are (tests read `memory`); no short name is one of
    `avoid` (the properties esbuild mangles afterwards). Fails the build if the wasm
    imports anything (the bindings take time and seeds as arguments) or the glue reads
    an export the wasm lacks."""
    data = bytearray(wasm.read_bytes())
    if data[:8] != b"\0asm\x01\0\0\0":
        raise SystemExit("exports_for_glue: not a wasm module")
    text = glue.read_text()
    used = set(re.findall(r"\bwasm\.([A-Za-z_$][\w$]*)", text))
    out = bytearray(data[:8])
    renamed, found = {}, set()
    names = (n for n in short_names() if n not in avoid)
    i = 8
    while i < len(data):
        sid = data[i]
        size, body = leb(data, i + 1)
        end = body + size
        if sid == 2:
            raise SystemExit("exports_for_glue: the wasm imports something; the bindings must import nothing")
        if sid == 7:  # exports: (name, kind, index)
            count, j = leb(data, body)
            entries = []
            for _ in range(count):
                field, j = wasm_name(data, j)
                idx_end = leb(data, j + 1)[1]  # kind byte, index
                found.add(field)
                if field in keep or field in used:
                    new = next(names) if short and field not in keep else field
                    renamed[field] = new
                    entries.append(enc_name(new) + data[j:idx_end])
                j = idx_end
            if j != end:
                raise SystemExit("exports_for_glue: export section misread")
            sec = bytearray(to_leb(len(entries))) + b"".join(entries)
        else:
            sec = data[body:end]
        out += bytes([sid]) + to_leb(len(sec)) + sec
        i = end
    missing = used - found
    if missing:
        raise SystemExit(f"exports_for_glue: the glue reads exports the wasm lacks: {sorted(missing)}")
    wasm.write_bytes(bytes(out))
    text = re.sub(r"\bwasm\.([A-Za-z_$][\w$]*)", lambda m: f"wasm.{renamed[m.group(1)]}", text)
    glue.write_text(text)


def has_sink(variant):
    return "Sink" not in variant.get("omit", [])


def copy_entry(src, dst, omit):
    """Copies an entry module (or types), dropping the names the variant lacks from its
    exports (and, without the sink, the lines marked `// sink` and the blocks between
    `// sink:begin` and `// sink:end`, whose markers the sink variants drop)."""
    text = src.read_text()
    if "Sink" not in omit:  # the markers go; what they mark stays
        text = re.sub(r"(?m)^[ \t]*// sink:(begin|end)\n", "", text)
    if "Sink" in omit:
        text = "".join(l for l in text.splitlines(True) if not l.rstrip().endswith("// sink"))
        text = re.sub(r"(?ms)^[ \t]*// sink:begin\n.*?// sink:end\n", "", text)
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
        "wasm-opt (wasm-pack.toml flags) with short export names, the minified "
        "JS over it (tributary.js), the browser entry and errors.js. `make test` checks "
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
