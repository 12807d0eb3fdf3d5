#!/usr/bin/env bash
# Builds the release bundle of the page into dist/ (served by `tracemap serve`).
#
# Idempotent and quick when nothing changed: npm packages are installed only when node_modules is missing or older
# than package-lock.json, and Trunk/Cargo rebuild only what changed. Nothing is downloaded by Trunk (--offline): the
# set-up script installs trunk 0.21, wasm-bindgen-cli matching Cargo.lock and the wasm32 target.
#
# wasm-opt is deliberately not run (data-wasm-opt="0" in index.html): binaryen up to version 109 (Debian 12 ships 108)
# writes every table export with table index 0, so wasm-bindgen's `__wbindgen_externrefs` export ends up naming the
# funcref table and the page dies at load with "WebAssembly.Table.set(): Argument 1 is invalid". The check at the end
# of this script fails the build if a bundle with that defect is ever produced again.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'build-frontend: %s\n' "$*" >&2; }

# --- tools --------------------------------------------------------------------------------------------------------
lock_bindgen=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
missing=()
command -v node >/dev/null || missing+=("node and npm (apt-get install nodejs npm)")
command -v npm >/dev/null || missing+=("npm (apt-get install npm)")
if ! command -v trunk >/dev/null; then
    missing+=("trunk 0.21 (cargo install --locked trunk --version ^0.21)")
elif ! trunk --version | grep -q '^trunk 0\.21\.'; then
    missing+=("trunk 0.21 (found: $(trunk --version))")
fi
if ! command -v wasm-bindgen >/dev/null; then
    missing+=("wasm-bindgen-cli $lock_bindgen (cargo install --locked wasm-bindgen-cli --version $lock_bindgen)")
elif [[ "$(wasm-bindgen --version)" != "wasm-bindgen $lock_bindgen" ]]; then
    missing+=("wasm-bindgen-cli $lock_bindgen to match Cargo.lock (found: $(wasm-bindgen --version))")
fi
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    missing+=("the wasm32 target (rustup target add wasm32-unknown-unknown)")
fi
if ((${#missing[@]})); then
    say "cannot build the page; missing:"
    printf '  - %s\n' "${missing[@]}" >&2
    exit 1
fi
if ! grep -q "wasm_bindgen = \"$lock_bindgen\"" Trunk.toml; then
    say "Trunk.toml [tools] wasm_bindgen must be \"$lock_bindgen\" (the version in Cargo.lock)"
    exit 1
fi

# --- npm packages (Leaflet, world-atlas) ---------------------------------------------------------------------------
# npm writes node_modules/.package-lock.json on every install; older than package-lock.json means out of date.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    say "installing npm packages"
    npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
fi

# --- the bundle ----------------------------------------------------------------------------------------------------
# Trunk rewrites every file it outputs on each build, and cargo re-embeds the page (recompiling the server) whenever
# something in dist/ is newer than its last build. So Trunk writes into target/trunk-dist and only files whose bytes
# changed are copied into dist/ (files no longer built are removed): an unchanged page leaves dist/ as it was.
say "trunk build --release --offline"
stage=target/trunk-dist
trunk build --release --offline --dist "$stage" "$@"
changed=0
while IFS= read -r -d '' f; do
    mkdir -p "dist/$(dirname "$f")"
    cmp -s "$stage/$f" "dist/$f" || { cp "$stage/$f" "dist/$f"; changed=$((changed + 1)); }
done < <(cd "$stage" && find . -type f -print0)
if [ -d dist ]; then
    while IFS= read -r -d '' f; do
        [ -e "$stage/$f" ] || { rm -f "dist/$f"; changed=$((changed + 1)); }
    done < <(cd dist && find . -type f -print0)
    find dist -mindepth 1 -type d -empty -delete
fi
say "dist/: $changed files changed"

# --- check: every exported externref table must really be an externref table ---------------------------------------
wasm=(dist/*_bg.wasm)
node --input-type=module - "${wasm[0]}" <<'JS'
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const path = process.argv[2];
const bytes = readFileSync(path);
let pos = 8;
const leb = () => { let r = 0, s = 0, b; do { b = bytes[pos++]; r += (b & 0x7f) * 2 ** s; s += 7; } while (b & 0x80); return r; };
const name = () => { const n = leb(); const s = bytes.toString("utf8", pos, pos + n); pos += n; return s; };
const limits = () => { const flags = bytes[pos++]; leb(); if (flags & 1) leb(); };
const tables = []; // element type byte per table index: 0x70 funcref, 0x6f externref
const exports = [];
while (pos < bytes.length) {
  const id = bytes[pos++];
  const size = leb();
  const end = pos + size;
  if (id === 2) { // imports: imported tables come first in the table index space
    for (let n = leb(); n > 0; n--) {
      name(); name();
      const kind = bytes[pos++];
      if (kind === 0) leb();
      else if (kind === 1) { tables.push(bytes[pos++]); limits(); }
      else if (kind === 2) limits();
      else if (kind === 3) pos += 2;
      else throw new Error(`unknown import kind ${kind}`);
    }
  } else if (id === 4) {
    for (let n = leb(); n > 0; n--) { tables.push(bytes[pos++]); limits(); }
  } else if (id === 7) {
    for (let n = leb(); n > 0; n--) { const field = name(); const kind = bytes[pos++]; exports.push({ field, kind, index: leb() }); }
  }
  pos = end;
}
for (const e of exports.filter((e) => e.kind === 1 && e.field.includes("externref"))) {
  if (tables[e.index] !== 0x6f) {
    console.error(`build-frontend: ${path}: export "${e.field}" names table ${e.index}, which is not an externref table.`);
    console.error("build-frontend: the bundle would fail in the browser (was it run through binaryen <= 109's wasm-opt?)");
    process.exit(1);
  }
}
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.error(`build-frontend: ${path}: ${kb(bytes.length)}, ${kb(gzipSync(bytes, { level: 9 }).length)} gzip; tables ok`);
JS
say "done: dist/"
