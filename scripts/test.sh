#!/usr/bin/env bash
# Runs every check tracemap has: formatting, lints (native and wasm32), the release web build, unit tests, and
# the tests that need root: traces through Linux network namespaces and a headless Chromium driving the page.
# Installs what is missing first (see scripts/setup.sh), so it works on a fresh machine.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/setup.sh
source "$ROOT/scripts/setup.sh"
cd "$ROOT"

[ "$(id -u)" = 0 ] || die "the tests build network namespaces and open raw sockets: run as root (sudo $0)"
setup_all --test

say "formatting"
cargo fmt --all --check
# The fuzz targets (their own workspace) are formatted like the rest; they are not built here: a sanitizer build of
# them takes 14 minutes cold on 2 cores and needs nightly (see fuzz/README.md, scripts/fuzz.sh).
cargo fmt --manifest-path fuzz/Cargo.toml --check
say "lints (native)"
cargo clippy --locked --workspace --exclude tracemap-frontend --all-targets -- -D warnings
say "lints (wasm32)"
cargo clippy --locked -p tracemap-frontend --target wasm32-unknown-unknown --all-targets -- -D warnings
say "building the web page (release)"
"$ROOT/scripts/build-frontend.sh"
mkdir -p "$ROOT/test-artifacts"
say "tests (unit, network namespaces, browser)"
TRACEMAP_WEB_DIR="$ROOT/dist" TRACEMAP_ARTIFACTS="$ROOT/test-artifacts" \
    cargo test --locked --workspace --no-fail-fast -- --include-ignored
