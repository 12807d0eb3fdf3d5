#!/usr/bin/env bash
# Builds everything (installing what is missing) and starts the tracemap server; prints the URL to open.
# Extra arguments go to `tracemap serve` (e.g. --listen 127.0.0.1:9000).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/setup.sh
source "$ROOT/scripts/setup.sh"
cd "$ROOT"

setup_start
# The page's Rust needs neither Trunk nor wasm-bindgen: on a first run it compiles beside their installs, and Trunk's
# own `cargo build` (same target, package, binary and profile: index.html's data-cargo-profile-release) then finds
# it done.
say "compiling the web page's Rust (wasm32, profile wasm-release)"
page=0
cargo build --profile wasm-release --locked --target wasm32-unknown-unknown --manifest-path frontend/Cargo.toml \
    --bin tracemap-frontend || page=$?
wait_background
[ "$page" = 0 ] || die "compiling the web page failed (see the messages above)"
say "building the web page (release)"
"$ROOT/scripts/build-frontend.sh"
say "building the server (release)"
cargo build --release --locked -p tracemap

BIN="$ROOT/target/release/tracemap"
# Raw sockets need root or CAP_NET_RAW. As root, nothing to do; otherwise the binary needs the capability.
if [ "$(id -u)" != 0 ] && ! getcap "$BIN" 2>/dev/null | grep -q cap_net_raw; then
    say "tracemap needs CAP_NET_RAW to send probes: sudo setcap cap_net_raw+ep $BIN (or run this script as root)"
fi
say "starting tracemap (Ctrl-C stops it)"
exec "$BIN" serve --db "$ROOT/data/tracemap.sqlite" "$@"
