#!/usr/bin/env bash
# The dependency audit (`make test-audit`), offline: cargo-deny checks every crate in
# Cargo.lock and fuzz/Cargo.lock against the RustSec advisories committed in
# audit/advisory-db (a snapshot: see its README), and the shipped crates' licenses and
# sources against deny.toml. A control plants an advisory against a crate we use and
# checks that the audit then fails, so a database that silently failed to load cannot pass.
# The npm package itself has no dependencies (pkg/package.json), so there is nothing of
# npm's to audit in what users install.
set -euo pipefail
cd "$(dirname "$0")/.."

# cargo-deny reads its database as a git repository named after the hash of its URL
# (the default RustSec URL, kept in deny.toml) under db-path; a fresh repository each run
# is never stale.
DBS=target/advisory-dbs
DB=$DBS/advisory-db-3157b0e258782691
make_db() {
  rm -rf "$DB" && mkdir -p "$DBS" && cp -r audit/advisory-db "$DB"
  git -C "$DB" init -q && git -C "$DB" add -A
  git -C "$DB" -c user.name=snapshot -c user.email=snapshot@invalid commit -qm snapshot
}

echo "    advisory snapshot (audit/advisory-db, 2026-11-27): $(find audit/advisory-db/crates -name 'RUSTSEC-*.md' | wc -l) advisories on the crates we lock"
# --offline also makes cargo metadata offline: the crates must be in cargo's cache.
cargo fetch --locked --quiet
cargo fetch --locked --quiet --manifest-path fuzz/Cargo.toml
make_db
cargo deny --offline --log-level error check
cargo deny --offline --log-level error --manifest-path fuzz/Cargo.toml --config deny.toml check advisories

# Control: an advisory with no patched version against proptest (a dev-dependency)
# must fail the check.
mkdir -p "$DB/crates/proptest"
cat > "$DB/crates/proptest/RUSTSEC-2099-0001.md" <<'EOF'
```toml
[advisory]
id = "RUSTSEC-2099-0001"
package = "proptest"
date = "2026-11-27"
title = "control: a planted advisory"
description = "Planted by scripts/audit.sh to show the audit fails on a match."

[versions]
patched = []
```

# control: a planted advisory

Planted by scripts/audit.sh to show the audit fails on a match.
EOF
git -C "$DB" add -A && git -C "$DB" -c user.name=snapshot -c user.email=snapshot@invalid commit -qm control
if cargo deny --offline --log-level error check advisories >/dev/null 2>&1; then
  echo "control failed: a planted advisory against proptest did not fail the audit" >&2
  exit 1
fi
echo "    control: a planted advisory fails the audit, as it must"
make_db
echo "    advisories, licenses, bans and sources ok"
