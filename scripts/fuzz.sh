#!/usr/bin/env bash
# Runs one fuzz target of fuzz/ (see fuzz/README.md) for a while, with its seeds and a scratch corpus, and prints
# libFuzzer's summary (executions, coverage). Installs the nightly toolchain and cargo-fuzz first when missing.
#   scripts/fuzz.sh TARGET [SECONDS]      default 300 seconds
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/setup.sh
source "$ROOT/scripts/setup.sh"

target="${1:?usage: scripts/fuzz.sh TARGET [SECONDS]}"
seconds="${2:-300}"
need_command rustup "install Rust with rustup"
if ! rustup toolchain list | grep -q '^nightly'; then
    say "installing the nightly toolchain (cargo-fuzz needs it for the sanitizers)"
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    say "installing cargo-fuzz (takes a few minutes once)"
    cargo install --locked cargo-fuzz
fi
corpus="${TMPDIR:-/tmp}/tracemap-corpus-$target"
mkdir -p "$corpus"
seeds=()
[ -d "$ROOT/fuzz/seeds/$target" ] && seeds=("$ROOT/fuzz/seeds/$target")
cd "$ROOT/fuzz"
say "fuzzing $target for $seconds s"
cargo +nightly fuzz run "$target" "$corpus" "${seeds[@]}" -- -max_total_time="$seconds" -print_final_stats=1
