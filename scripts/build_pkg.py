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


def main():
    m = tomllib.loads((ROOT / "wasm-pack.toml").read_text())
    b = m["build"]
    out = ROOT / b["out-dir"]
    name = b["out-name"]
    crate = "tributary"
    run("cargo", "build", "--quiet", "--lib", "--target", b["target"], "--profile", b["profile"], *b.get("cargo-args", []))
    wasm_in = ROOT / "target" / b["target"] / b["profile"] / f"{crate}.wasm"
    if out.exists():
        shutil.rmtree(out)
    run("wasm-bindgen", wasm_in, "--target", b["bindgen-target"], "--out-dir", out, "--out-name", name)
    bg = out / f"{name}_bg.wasm"
    run(ROOT / "node_modules/.bin/wasm-opt", *m["wasm-opt"]["flags"], bg, "-o", bg)
    entries = {}
    for e in m["entry"]:
        shutil.copy(ROOT / "js" / e["file"], out / e["file"])
        for c in e["conditions"]:
            entries[c] = e["file"]
    shutil.copy(ROOT / "js" / "errors.js", out / "errors.js")
    shutil.copy(ROOT / "js" / "index.d.ts", out / "index.d.ts")
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]
    conditions = {"types": "./index.d.ts"}
    for c, f in entries.items():
        conditions[c] = f"./{f}"
    pkg = {
        "name": "tributary",
        "version": cargo["version"],
        "description": cargo["description"],
        "license": cargo["license"],
        "type": "module",
        "main": f"./{entries['node']}",
        "module": f"./{entries['browser']}",
        "browser": f"./{entries['browser']}",
        "types": "./index.d.ts",
        "exports": {
            ".": conditions,
            "./tributary_bg.wasm": f"./{name}_bg.wasm",
            "./package.json": "./package.json",
        },
        "files": sorted(p.name for p in out.iterdir() if p.name != ".gitignore"),
        "sideEffects": [f"./{f}" for f in sorted(set(entries.values()))],
    }
    (out / "package.json").write_text(json.dumps(pkg, indent=2) + "\n")
    (out / "README.md").write_text((ROOT / "README.md").read_text())
    gi = out / ".gitignore"
    if gi.exists():
        gi.unlink()

    # What a browser loads: the wasm, the glue, the browser entry and errors.js.
    loaded = [bg, out / f"{name}.js", out / entries["browser"], out / "errors.js"]
    report = {"files": {}, "total": {"raw": 0, "gzip": 0, "brotli": 0}}
    for f in loaded:
        data = f.read_bytes()
        row = {"raw": len(data), "gzip": len(gzip.compress(data, 9, mtime=0)), "brotli": brotli_size(data)}
        report["files"][f.name] = row
        for k in row:
            report["total"][k] += row[k]
    report["budget_gzip"] = m["size"]["budget-gzip"]
    (ROOT / "target" / "pkg-size.json").write_text(json.dumps(report, indent=2) + "\n")
    t = report["total"]
    print(f"==> pkg/ built: a browser loads {t['raw']} B raw, {t['gzip']} B gzip, {t['brotli']} B brotli "
          f"(budget {report['budget_gzip']} B gzip)")
    for n, r in report["files"].items():
        print(f"    {n:24} {r['raw']:>8} raw {r['gzip']:>8} gzip {r['brotli']:>8} brotli")
    if "--report" in sys.argv:
        write_report(report)


def write_report(report):
    rows = "| file | raw | gzip -9 | brotli -q 11 |\n|---|---:|---:|---:|\n"
    for n, r in list(report["files"].items()) + [("total", report["total"])]:
        rows += f"| {n} | {r['raw']} | {r['gzip']} | {r['brotli']} |\n"
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


if __name__ == "__main__":
    sys.exit(main())
