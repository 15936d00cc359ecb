#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ (see fuzz/src/lib.rs) for a bounded time each and
# fails on any crash, printing the input and how to reproduce it.
#
#   scripts/fuzz.sh                          every target, FUZZ_SECONDS (60) each
#   FUZZ_SECONDS=300 scripts/fuzz.sh config  one target, five minutes
#
# Each target starts from its committed corpus (fuzz/corpus/<target>/), copied to a
# scratch folder (fuzz/scratch/<target>/, ignored by git) so that what libFuzzer adds
# never dirties the tree. Crash inputs land in fuzz/artifacts/<target>/ (ignored too).
# The targets are built once, together, before the first run. Needs cargo-fuzz (installed
# here at the pinned version when missing) and a nightly toolchain (`+nightly`); without
# one, the stable toolchain is used with RUSTC_BOOTSTRAP=1.
#
# A crash found: fix it, add the input to fuzz/src/seeds.rs (`regressions`) and a test to
# tests/fuzz_regressions.rs, and regenerate the corpus:
#   cargo run --manifest-path fuzz/Cargo.toml --example gen_corpus
set -euo pipefail

cd "$(dirname "$0")/.."
CARGO_FUZZ_VERSION=0.13.2
SECONDS_EACH=${FUZZ_SECONDS:-60}
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(batch_decode config)
fi
export PATH="$HOME/.cargo/bin:$PATH"

if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "$CARGO_FUZZ_VERSION" ]; then
  echo "==> [fuzz] cargo install cargo-fuzz --version $CARGO_FUZZ_VERSION --locked"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --quiet
fi
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  FUZZ=(cargo +nightly fuzz)
else
  echo "==> [fuzz] no nightly toolchain: stable with RUSTC_BOOTSTRAP=1"
  export RUSTC_BOOTSTRAP=1
  FUZZ=(cargo fuzz)
fi

echo "==> [fuzz] build: ${TARGETS[*]}"
start=$(date +%s)
mkdir -p fuzz/scratch
for t in "${TARGETS[@]}"; do
  if ! "${FUZZ[@]}" build "$t" >"fuzz/scratch/build-$t.log" 2>&1; then
    tail -40 "fuzz/scratch/build-$t.log"
    echo "==> [fuzz] the build of $t failed"
    exit 1
  fi
done
echo "    built in $(( $(date +%s) - start )) s"

failed=()
for t in "${TARGETS[@]}"; do
  scratch="fuzz/scratch/$t"
  log="fuzz/scratch/$t.log"
  rm -rf "$scratch" && mkdir -p "$scratch" "fuzz/artifacts/$t"
  cp fuzz/corpus/"$t"/* "$scratch"/
  seeds=$(ls "$scratch" | wc -l)
  echo "==> [fuzz] $t: ${SECONDS_EACH} s from $seeds seeds"
  if "${FUZZ[@]}" run "$t" "$scratch" -- \
      -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=20 \
      -print_final_stats=1 >"$log" 2>&1; then
    execs=$(awk '/stat::number_of_executed_units/ {print $NF}' "$log")
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
    echo "    ok: ${execs:-?} runs, $cov, corpus $seeds -> $(ls "$scratch" | wc -l) inputs"
  else
    failed+=("$t")
    artifact=$(grep -Eo 'Test unit written to [^ ]+' "$log" | tail -1 | awk '{print $5}')
    echo "    FAILED: $t (full log: $log)"
    grep -E 'panicked at|assertion|ERROR: libFuzzer|SUMMARY' -A3 "$log" | head -30 | sed 's/^/    | /'
    if [ -n "$artifact" ]; then
      echo "    input:      $artifact"
      echo "    reproduce:  ${FUZZ[*]} run $t $artifact"
      echo "    as a value: ${FUZZ[*]} fmt $t $artifact"
    fi
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "==> [fuzz] crashes in: ${failed[*]}"
  exit 1
fi
echo "==> [fuzz] no crash in ${TARGETS[*]} (${SECONDS_EACH} s each)"
