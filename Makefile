# tributary: `make demo` runs the main job, `make test` runs every test.
# Each target installs what it needs first, idempotently, at pinned versions, and says
# what it is doing. See DEVELOPERS.md.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO_BIN := $(HOME)/.cargo/bin
export PATH := $(CARGO_BIN):$(PATH)

# The wasm-bindgen CLI must equal the wasm-bindgen crate in Cargo.lock.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/{getline; gsub(/"/,"",$$3); print $$3; exit}' Cargo.lock)
STAMP := target/.stamps

.PHONY: help demo test bench setup setup-system setup-rust setup-node setup-audit check-format lint test-rust test-wasm test-audit test-fuzz pkg test-size test-js test-js-suite test-package test-security test-soak soak-hour test-bundle test-types test-readme test-sink test-demo test-cli test-ingest clean

help:
	@echo "make demo   the demo page: click tracking into NATS JetStream, on http://127.0.0.1:8080/"
	@echo "make test   run every test (installs what it needs)"
	@echo "make bench  run the benchmarks and rewrite BENCHMARKS.md (FAST=1 for the fast tier)"

## ---- setup ------------------------------------------------------------------------

setup: setup-system setup-rust setup-node

# Debian's Chromium and ChromeDriver (browser tests) and nats-server: Debian stable's versions.
setup-system:
	@echo "==> [setup] Debian packages: chromium chromium-driver nats-server"
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v nats-server >/dev/null; then \
	  echo "    already installed"; \
	else \
	  echo "    apt-get update && apt-get install (first run: a minute or two)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver nats-server >/dev/null; \
	fi

setup-rust:
	@echo "==> [setup] Rust target wasm32-unknown-unknown"
	@rustup target list --installed | grep -qx wasm32-unknown-unknown \
	  || rustup target add wasm32-unknown-unknown
	@echo "==> [setup] wasm-bindgen-cli $(WASM_BINDGEN_VERSION) (the version pinned in Cargo.lock)"
	@if [ "$$(wasm-bindgen --version 2>/dev/null | awk '{print $$2}')" = "$(WASM_BINDGEN_VERSION)" ]; then \
	  echo "    already installed"; \
	else \
	  echo "    cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) (first run: a few minutes)"; \
	  cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --force --quiet; \
	fi

# cargo-deny, for the offline dependency audit (scripts/audit.sh).
CARGO_DENY_VERSION := 0.20.2
setup-audit:
	@echo "==> [setup] cargo-deny $(CARGO_DENY_VERSION)"
	@if [ "$$(cargo deny --version 2>/dev/null | awk '{print $$2}')" = "$(CARGO_DENY_VERSION)" ]; then \
	  echo "    already installed"; \
	else \
	  echo "    cargo install cargo-deny --version $(CARGO_DENY_VERSION) --locked (first run: a few minutes)"; \
	  cargo install cargo-deny --version $(CARGO_DENY_VERSION) --locked --quiet; \
	fi

setup-node: $(STAMP)/npm
$(STAMP)/npm: package-lock.json package.json
	@echo "==> [setup] npm ci (pinned JS tools and test peers from package-lock.json)"
	@mkdir -p $(STAMP)
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## ---- demo ---------------------------------------------------------------------------

# The demo page (www/): builds the package, starts nats-server on loopback (JetStream, a
# WebSocket listener, a token) and creates the streams, runs the edge example in workerd,
# and serves www/ and pkg/ with a strict Content-Security-Policy (www/serve.mjs) on
# http://127.0.0.1:8080/ (PORT=... for another; a taken port falls back to a free one).
# Ctrl-C stops everything it started. Without nats-server (or NATS=off) the page runs on
# the in-memory log and says so. (The native demo: cargo run --release --example demo.)
demo: pkg
	@echo "==> [demo] the click-tracking page: nats-server $$(nats-server --version 2>/dev/null | awk '{print $$2}' || echo '(not installed: in-memory mode)'), workerd, www/ on loopback"
	@node www/serve.mjs

## ---- tests --------------------------------------------------------------------------

test: setup check-format lint test-audit test-rust test-fuzz test-wasm test-js
	@echo "==> all tests passed"

check-format:
	@echo "==> [test] cargo fmt --check (the crate, and the fuzz crate in fuzz/)"
	@cargo fmt --all -- --check
	@cargo fmt --manifest-path fuzz/Cargo.toml -- --check

lint:
	@echo "==> [test] cargo clippy --all-targets -D warnings (native)"
	@cargo clippy --quiet --all-targets -- -D warnings
	@echo "==> [test] cargo clippy --all-targets -D warnings (wasm32-unknown-unknown)"
	@cargo clippy --quiet --all-targets --target wasm32-unknown-unknown -- -D warnings
	@echo "==> [test] cargo clippy -D warnings (wasm32, no_std: the npm package's builds with and without the sink)"
	@cargo clippy --quiet --lib --target wasm32-unknown-unknown --no-default-features --features sink -- -D warnings
	@cargo clippy --quiet --lib --target wasm32-unknown-unknown --no-default-features -- -D warnings

test-rust: setup-node
	@echo "==> [test] cargo test (native: unit, property, conformance with fluvio-protocol, kafkajs murmur2, doc)"
	@cargo test --quiet
	@echo "==> [test] cargo test --no-default-features --lib (the codec-less core the npm package ships)"
	@cargo test --quiet --no-default-features --lib

WASM_TEST := CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test --target wasm32-unknown-unknown --lib --test wasm

test-wasm: setup-rust setup-system
	@echo "==> [test] wasm32 tests (tests/wasm.rs: the partition table, CRC-32C, a client round trip) under Node (wasm-bindgen-test-runner)"
	@$(WASM_TEST)
	@echo "==> [test] the same wasm32 tests in headless Chromium (chromedriver, tests/wasm/webdriver.json)"
	@WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER=/usr/bin/chromedriver \
	  WASM_BINDGEN_TEST_WEBDRIVER_JSON=tests/wasm/webdriver.json $(WASM_TEST)

# cargo-fuzz (scripts/fuzz.sh): the record-batch decoder and the JS-facing config,
# FUZZ_SECONDS (60) each from the committed corpus in
# fuzz/corpus (copied to fuzz/scratch: the tree stays clean); a crash fails the run and
# prints its input and how to reproduce it. Installs cargo-fuzz 0.13.2; nightly Rust, or
# stable with RUSTC_BOOTSTRAP=1 where there is no nightly. About 5.5 minutes.
test-fuzz:
	@echo "==> [test] cargo-fuzz: batch_decode, config ($${FUZZ_SECONDS:-60} s each, committed corpus)"
	@bash scripts/fuzz.sh

test-audit: setup-audit
	@echo "==> [test] dependency audit, offline: cargo-deny against the committed RustSec snapshot (audit/advisory-db), licenses, sources"
	@bash scripts/audit.sh

## ---- the npm package ------------------------------------------------------------------

pkg: setup
	@echo "==> [pkg] building pkg/ (the npm package) from the matrix in wasm-pack.toml"
	@python3 scripts/build_pkg.py

test-size: pkg
	@echo "==> [test] size budget of what a browser loads (deterministic: gzip -9 of the built files)"
	@python3 scripts/build_pkg.py --check-budget

test-js: pkg test-size test-js-suite test-package test-sink test-security test-soak test-bundle test-types test-readme test-demo test-cli test-ingest

# Suites that read JetStream back with the `nats` client run with --test-force-exit: a
# reader connection that answered after its bound could keep timers of that client alive
# after the last test (a hung CI run). That the package itself leaves no timer or socket
# behind, so that a process exits by itself, is the soak's check (test-soak).
test-js-suite: pkg
	@echo "==> [test] JS conformance suite against the built package, installed into a test app (Node $$(node --version))"
	@cd tests/js/app && npm install --no-audit --no-fund --loglevel=error --no-package-lock
	@cd tests/js/app && node --test node.test.mjs full.test.mjs badinput.test.mjs properties.test.mjs misuse.test.mjs abi.test.mjs boundary.test.mjs staging.test.mjs
	@echo "==> [test] the same suite in Deno (npm package deno)"
	@cd tests/js/app && ../../../node_modules/.bin/deno run --allow-read runtime.test.mjs
	@echo "==> [test] the same suite in Bun (npm package bun)"
	@cd tests/js/app && ../../../node_modules/.bin/bun runtime.test.mjs
	@echo "==> [test] the same suite in headless Chromium (plain <script type=module>, playwright-core + /usr/bin/chromium)"
	@node tests/js/browser/browser.test.mjs
	@echo "==> [test] the same suite in Cloudflare's workerd (npm package workerd; the .wasm imported as a module), in a worker served on loopback"
	@node tests/js/workerd/workerd.test.mjs

test-package: pkg test-js-suite
	@echo "==> [test] the published files: no eval / new Function / string timers; every entry runs in Node with code generation from strings disallowed and in Chromium under a CSP without 'unsafe-eval'"
	@node --test tests/js/package/package.test.mjs

test-sink: pkg test-js-suite
	@echo "==> [test] the sink from Node 20 (ws): 100,000 records, >= 20 connection cuts, a 3-node cluster losing a node, a stalled server, auth, permissions (nats-server $$(nats-server --version | cut -d' ' -f2 | tr -d v) on loopback)"
	@cd tests/js/app && node --test --test-force-exit --test-concurrency=1 sink.test.mjs
	@echo "==> [test] the sink against hostile servers (fake NATS servers over WebSocket, one per defect of issue 13), what flush and close wait for, and its NATS parser's properties (fast-check)"
	@node --test --test-concurrency=1 tests/js/sink/badserver.test.mjs tests/js/sink/flush.test.mjs tests/js/sink/parser.test.mjs
	@echo "==> [test] the sink from headless Chromium, Deno and workerd (10,000 records each, their own WebSocket)"
	@node --test --test-force-exit tests/js/sink/runtimes.test.mjs

# The sink's security and failure paths against nats-server on loopback (tests/js/security):
# wss:// with a throwaway CA (Node's ws and Deno), credentials never shown, a .creds user
# in operator mode, records given up (too large, maxRetries) and what reports them.
test-security: pkg test-js-suite
	@echo "==> [test] the sink's security and give-up paths: wss:// with a self-signed CA (Node, Deno), no credential in errors, logs or stats, .creds in operator mode, records given up"
	@node --test --test-force-exit --test-concurrency=1 tests/js/security/*.test.mjs

# The soak (tests/js/soak/soak.mjs): 10^7 records through retention-bounded topics and
# 10,000 clients created and closed, in Node, with wasm memory, the externref table, RSS
# and the JS heap sampled after full GCs (the curve: target/soak/report.md); then the
# regression tests of what it found. About 40 s.
test-soak: pkg test-js-suite
	@echo "==> [test] soak: 10^7 records through retention-bounded topics, 10,000 clients created and closed; memory flat after warm-up, no timer or socket left"
	@node --test tests/js/soak/soak.mjs

# The one-hour soak, for a release (not part of make test): the same phases by time.
soak-hour: pkg test-js-suite
	@SOAK_SECONDS=3600 node --test tests/js/soak/soak.mjs

test-demo: pkg
	@echo "==> [test] the demo page as make demo serves it, in headless Chromium (playwright-core, /usr/bin/chromium): CSP, 500 clicks with a reload and an offline spell, closed tabs, two tabs, starting offline, localStorage quota; JetStream read back with the nats client"
	@node --test --test-force-exit --test-concurrency=1 tests/js/demo/demo.test.mjs
	@echo "==> [test] the outbox's promise (issue 12): bursts of 1,000 clicks then a reload or a tab close at 7 moments, a click cut between its listeners, Reload and a link, a replay interrupted at 6 moments, the offline switch; each click once in JetStream"
	@node --test --test-force-exit --test-concurrency=1 tests/js/demo/outbox.test.mjs
	@echo "==> [test] tributary/durable's journal in Node with an injectable store: no id on the wire before its row commits; pages crashed or left at many instants, replays crashed too; options read as own properties, methods on other objects refused"
	@node --test --test-concurrency=1 --test-force-exit tests/js/durable/outbox.node.test.mjs tests/js/durable/journal.test.mjs tests/js/durable/misuse.test.mjs
	@echo "==> [test] the edge example (a worker in workerd producing into JetStream) and make demo's script stopping what it started"
	@node --test --test-force-exit --test-concurrency=1 tests/js/demo/edge.test.mjs
	@echo "==> [test] the way out (issue 15): 500 clicks with the page's WebSocket cut part of the time, the tab closed and never reopened (by beacon through the edge worker's ingest), the same reopened, a reload saying what went by beacon, the HTTP transport alone without NATS credentials; each click once"
	@node --test --test-force-exit --test-concurrency=1 tests/js/demo/beacon.test.mjs

# tributary/ingest (tests/js/ingest): the handler from the built package served by Node's
# http, Deno, Bun and workerd beside nats-server; records stored once with the page's ids,
# every bad request a 4xx with its code and nothing in the stream (read back with `nats`).
test-ingest: pkg
	@echo "==> [test] tributary/ingest in Node's http, Deno, Bun and workerd against nats-server: replays stored once, every bad request refused with its code, nothing of it in the stream"
	@node --test --test-force-exit --test-concurrency=1 tests/js/ingest/ingest.test.mjs tests/js/ingest/transport.test.mjs tests/js/ingest/workerd.test.mjs

# A user's app installs pkg/ as a copy (--install-links: what the registry would give, not
# a symlink into the repository), afresh each run so it never tests a stale package.
INSTALL_PKG := rm -rf node_modules && npm install --install-links --no-package-lock --no-audit --no-fund --loglevel=error

test-bundle: pkg
	@echo "==> [test] an app bundled for the browser by Vite $$(node -p 'require("vite/package.json").version') (build and dev server) and esbuild $$(node -p 'require("esbuild/package.json").version'), run in headless Chromium"
	@cd tests/js/bundle && $(INSTALL_PKG)
	@node --test tests/js/bundle/bundle.test.mjs

test-types: pkg
	@echo "==> [test] tsc $$(node_modules/.bin/tsc --version | cut -d' ' -f2) --noEmit --strict over README.md's JS/TS examples, and calls the types must accept and reject"
	@cd tests/js/types && $(INSTALL_PKG)
	@node --test tests/js/types/types.test.mjs

test-readme: pkg
	@echo "==> [test] README.md's npm examples, run as written: Node, Deno, Bun, a plain page, Vite, esbuild (headless Chromium), workerd"
	@node --test tests/js/readme/readme.test.mjs

# The command (`tributary produce`, `tributary partition`) as users run it: node_modules/.bin/tributary
# of the package installed into tests/js/cli/app (a copy), against nats-server on loopback.
test-cli: pkg
	@echo "==> [test] the tributary command: its WebSocket client against ws, the line reader, usage errors, key-separator edge cases, refused credentials, a server down (4 and 4,096 partitions), Ctrl-C, SIGTERM and SIGHUP, Deno and Bun; 1,000,000 lines into JetStream with bounded memory"
	@cd tests/js/cli/app && $(INSTALL_PKG)
	@node --test --test-force-exit --test-concurrency=1 tests/js/cli/websocket.test.mjs tests/js/cli/lines.test.mjs tests/js/cli/produce.test.mjs tests/js/cli/million.test.mjs

## ---- benchmarks ---------------------------------------------------------------------

# Core (native) figures, then pkg/ built with its size report, then the JS benchmarks
# against their peers in the same run (benches/js/run.mjs: encode, send in Node and
# Chromium, acknowledged delivery, size, memory, scaling; nats-server on loopback), which
# write BENCHMARKS.md's `js` section and benches/js/*.svg. FAST=1: the fast tier (< 2 min).
bench: setup
	@echo "==> [bench] core benchmarks$(if $(FAST), (fast tier),) -> BENCHMARKS.md"
	@FAST=$(FAST) cargo bench --quiet --bench core
	@echo "==> [bench] size of the npm package -> BENCHMARKS.md"
	@python3 scripts/build_pkg.py --report
	@echo "==> [bench] JS benchmarks against their peers$(if $(FAST), (fast tier),) -> BENCHMARKS.md, benches/js/*.svg"
	@FAST=$(FAST) node benches/js/run.mjs
	@echo "==> [bench] tributary/durable: what the write-ahead outbox costs (headless Chromium) -> BENCHMARKS.md"
	@node benches/durable/outbox.mjs

clean:
	cargo clean
	rm -rf node_modules pkg
