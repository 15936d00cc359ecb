#!/usr/bin/env python3
"""Builds pkg/, the npm package, from the matrix in wasm-pack.toml.

cargo build (wasm32, release) -> wasm-bindgen (glue) -> wasm-opt (npm binaryen) ->
entry modules from js/ -> package.json with `exports` conditions -> size report
(raw / gzip / brotli of what a browser loads) in target/pkg-size.json.
"""
import gzip
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*cmd):
    print("    $", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT)


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
    run("cargo", "build", "--quiet", "--lib", "--target", b["target"], "--profile", b["profile"],
        *variant.get("cargo-args", []))
    wasm_in = ROOT / "target" / b["target"] / b["profile"] / "tributary.wasm"
    run("wasm-bindgen", wasm_in, "--target", b["bindgen-target"], "--out-dir", out, "--out-name", name)
    bg = out / f"{name}_bg.wasm"
    run(ROOT / "node_modules/.bin/wasm-opt", *m["wasm-opt"]["flags"], bg, "-o", bg)
    entries = {}
    for e in m["entry"]:
        shutil.copy(ROOT / "js" / e["file"], out / e["file"])
        for c in e["conditions"]:
            entries[c] = e["file"]
    for f in ("errors.js", "index.d.ts"):
        shutil.copy(ROOT / "js" / f, out / f)
    gi = out / ".gitignore"
    if gi.exists():
        gi.unlink()
    return entries


def size_report(m, files):
    report = {"files": {}, "total": {"raw": 0, "gzip": 0, "brotli": 0}}
    for f in files:
        data = f.read_bytes()
        row = {"raw": len(data), "gzip": len(gzip.compress(data, 9, mtime=0)), "brotli": brotli_size(data)}
        report["files"][f.name] = row
        for k in row:
            report["total"][k] += row[k]
    report["budget_gzip"] = m["size"]["budget-gzip"]
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
        "exports": exports,
        "files": sorted(p.name for p in out.iterdir()),
        "sideEffects": sorted({f"{'.' if v['name'] == '.' else './' + v['name']}/{f}"
                               for v in m["variant"] for f in main_entries.values()}),
    }
    (out / "package.json").write_text(json.dumps(pkg, indent=2) + "\n")
    (out / "README.md").write_text((ROOT / "README.md").read_text())

    report = size_report(m, loaded["."])
    report["full"] = size_report(m, loaded["full"])
    (ROOT / "target" / "pkg-size.json").write_text(json.dumps(report, indent=2) + "\n")
    t = report["total"]
    print(f"==> pkg/ built: a browser loads {t['raw']} B raw, {t['gzip']} B gzip, {t['brotli']} B brotli "
          f"(budget {report['budget_gzip']} B gzip)")
    for n, r in report["files"].items():
        print(f"    {n:24} {r['raw']:>8} raw {r['gzip']:>8} gzip {r['brotli']:>8} brotli")
    f = report["full"]["total"]
    print(f"    tributary/full: {f['raw']} B raw, {f['gzip']} B gzip, {f['brotli']} B brotli")
    if "--report" in sys.argv:
        write_report(report)


def write_report(report):
    rows = "| file | raw | gzip -9 | brotli -q 11 |\n|---|---:|---:|---:|\n"
    for n, r in list(report["files"].items()) + [("total", report["total"])]:
        rows += f"| {n} | {r['raw']} | {r['gzip']} | {r['brotli']} |\n"
    f = report["full"]["total"]
    rows += f"| `tributary/full` total (with gzip, snappy, lz4) | {f['raw']} | {f['gzip']} | {f['brotli']} |\n"
    t = report["total"]
    verdict = "within" if t["gzip"] <= report["budget_gzip"] else "OVER"
    section = (
        "<!-- size:begin -->\n## Size of what a browser loads (npm package, default build)\n\n"
        "Command: `make bench` (`python3 scripts/build_pkg.py --report`): wasm after wasm-opt -Oz, "
        "the wasm-bindgen glue, the browser entry and errors.js.\n\n"
        f"{rows}\nBudget: {report['budget_gzip']} B gzip: {verdict} budget.\n<!-- size:end -->"
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
    """`make test`'s deterministic size check: the default build's gzip bytes (gzip -9,
    mtime 0, of fixed inputs) against the budget in wasm-pack.toml."""
    report = json.loads((ROOT / "target" / "pkg-size.json").read_text())
    t, budget = report["total"]["gzip"], report["budget_gzip"]
    if t > budget:
        print(f"FAIL: a browser loads {t} B gzip, over the {budget} B budget (wasm-pack.toml [size])")
        return 1
    print(f"ok: a browser loads {t} B gzip, within the {budget} B budget ({budget - t} B to spare)")
    return 0


if __name__ == "__main__":
    sys.exit(check_budget() if "--check-budget" in sys.argv else main())
