#!/usr/bin/env bash
# Builds the release bundle of the page into dist/ (served by `tracemap serve`).
#
# Idempotent and quick when nothing changed: npm packages are installed only when node_modules is missing or older
# than package-lock.json, and Trunk/Cargo rebuild only what changed. Nothing is downloaded by Trunk (--offline): the
# set-up script installs trunk 0.21, wasm-bindgen-cli matching Cargo.lock and the wasm32 target.
#
# Trunk runs wasm-opt -Oz on the module after wasm-bindgen (index.html's data-wasm-opt): the one from npm's binaryen
# package, fetched by scripts/setup.sh into target/tools/binaryen/ and put first on PATH here, so a system binaryen
# is never used (Trunk.toml's [tools] pins its version). Binaryen up to version 109 (Debian 12 ships 108) writes
# every table export with table index 0, so wasm-bindgen's `__wbindgen_externrefs` export ends up naming the funcref
# table and the page dies at load with "WebAssembly.Table.set(): Argument 1 is invalid"; the check at the end of
# this script fails the build if a bundle with that defect is ever produced again.
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
# wasm-opt: fetched once (about 25 MB from the npm registry) when missing.
binaryen_bin="$PWD/target/tools/binaryen/bin"
if [[ ! -x "$binaryen_bin/wasm-opt" ]] && command -v npm >/dev/null; then
    (
        # shellcheck source=setup.sh
        source scripts/setup.sh
        setup_wasm_opt
    )
fi
[[ -x "$binaryen_bin/wasm-opt" ]] || missing+=("wasm-opt (scripts/setup.sh fetches it into target/tools/binaryen)")
command -v zopfli >/dev/null || missing+=("zopfli (apt-get install zopfli; scripts/setup.sh installs it as root)")
export PATH="$binaryen_bin:$PATH"
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

# --- shorter import names --------------------------------------------------------------------------------------------
# wasm-bindgen names each of the module's ~220 imports after its function plus a 16-digit hash
# (`__wbg_value_df0a0e29a4d182fe`), once in the module's import section and once in the glue's import object: random
# hex that compresses badly (6.4 kB of a first visit). Each such name becomes a short one (`_a`, `_b`, ...) in both
# files, and index.html's integrity hashes follow. Exact: a name must occur exactly once in the glue, or the build
# fails; a build already shortened has no such names left and is left alone. Done in the stage, before dist/.
wasm=("$stage"/*_bg.wasm)
glue=("${wasm[0]%_bg.wasm}.js")
node --input-type=module - "${wasm[0]}" "${glue[0]}" "$stage/index.html" <<'JS'
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";

const [wasmPath, gluePath, htmlPath] = process.argv.slice(2);
const bytes = readFileSync(wasmPath);
let pos = 8;
const leb = () => { let r = 0, s = 0, b; do { b = bytes[pos++]; r += (b & 0x7f) * 2 ** s; s += 7; } while (b & 0x80); return r; };
const uleb = (n) => { const out = []; do { let b = n % 128; n = Math.floor(n / 128); if (n) b |= 0x80; out.push(b); } while (n); return Buffer.from(out); };
const name = (s) => { const b = Buffer.from(s, "utf8"); return Buffer.concat([uleb(b.length), b]); };
const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const short = (i) => { let s = ""; do { s = letters[i % 52] + s; i = Math.floor(i / 52) - 1; } while (i >= 0); return `_${s}`; };
const renamed = new Map();
const parts = [bytes.subarray(0, 8)];
while (pos < bytes.length) {
  const start = pos;
  const id = bytes[pos++];
  const end = leb() + pos;
  if (id !== 2) { parts.push(bytes.subarray(start, end)); pos = end; continue; }
  const imports = [];
  for (let n = leb(); n > 0; n--) {
    let l = leb(); const module = bytes.toString("utf8", pos, pos + l); pos += l;
    l = leb(); let field = bytes.toString("utf8", pos, pos + l); pos += l;
    const description = pos;
    const kind = bytes[pos++];
    if (kind === 0) leb();
    else if (kind === 1) { pos++; const flags = bytes[pos++]; leb(); if (flags & 1) leb(); }
    else if (kind === 2) { const flags = bytes[pos++]; leb(); if (flags & 1) leb(); }
    else if (kind === 3) pos += 2;
    else throw new Error(`${wasmPath}: unknown import kind ${kind}`);
    if (kind === 0 && /^__wb[a-z]*_\w+_[0-9a-f]{16}$/.test(field)) {
      if (!renamed.has(field)) renamed.set(field, short(renamed.size));
      field = renamed.get(field);
    }
    imports.push(name(module), name(field), bytes.subarray(description, pos));
  }
  const section = Buffer.concat([uleb(imports.length / 3), ...imports]);
  parts.push(Buffer.from([2]), uleb(section.length), section);
  pos = end;
}
if (renamed.size > 0) {
  const oldGlue = readFileSync(gluePath);
  let glue = oldGlue.toString("utf8");
  for (const [from, to] of renamed) {
    const pattern = new RegExp(`\\b${from}\\b`, "g");
    const count = (glue.match(pattern) || []).length;
    if (count !== 1) throw new Error(`build-frontend: ${from} occurs ${count} times in ${gluePath}, expected once`);
    glue = glue.replace(pattern, to);
  }
  const module = Buffer.concat(parts);
  const sri = (data) => `sha384-${createHash("sha384").update(data).digest("base64")}`;
  let html = readFileSync(htmlPath, "utf8");
  for (const [before, after] of [[bytes, module], [oldGlue, Buffer.from(glue)]]) {
    if (html.split(sri(before)).length !== 2) throw new Error(`build-frontend: ${htmlPath} does not name ${sri(before)} once`);
    html = html.replace(sri(before), sri(after));
  }
  writeFileSync(wasmPath, module);
  writeFileSync(gluePath, glue);
  writeFileSync(htmlPath, html);
  console.error(`build-frontend: ${renamed.size} import names shortened`);
}
JS

# --- check: every exported externref table must really be an externref table (see the top) --------------------------
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
# --- compressed copies ----------------------------------------------------------------------------------------------
# `tracemap serve` sends X.br or X.gz in place of X to a browser that accepts it (backend/src/http/assets.rs): brotli
# at its best quality and gzip once here, instead of a quicker, larger gzip on every request. The gzip copies are
# written by zopfli (Debian's package): plain gzip that any browser reads, 4 % smaller than `gzip -9` on this page
# (BENCHMARKS.md, "WASM bundle size"). The gzip total is the figure the page's weight budget is stated in; the
# `gzip -9` total is printed too, as the earlier figures were measured that way.
node --input-type=module - "$stage" <<'JS'
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { brotliCompressSync, constants } from "node:zlib";

const dir = process.argv[2];
const sum = { plain: 0, gz: 0, br: 0, gzip9: 0 };
for (const name of readdirSync(dir)) {
  const path = `${dir}/${name}`;
  if (!statSync(path).isFile() || !/\.(wasm|js|css|json|html|svg)$/.test(name)) continue;
  const data = readFileSync(path);
  // zopfli: deterministic (no name, no time in the header), about 3 s for the module.
  const gz = execFileSync("zopfli", ["-c", path], { maxBuffer: 1 << 28 });
  sum.gzip9 += Math.min(data.length, execFileSync("gzip", ["-9nc", path], { maxBuffer: 1 << 28 }).length);
  const br = brotliCompressSync(data, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length },
  });
  sum.plain += data.length;
  for (const [suffix, packed] of [["gz", gz], ["br", br]]) {
    const kept = packed.length < data.length ? packed : data;
    if (kept === packed) writeFileSync(`${path}.${suffix}`, packed);
    sum[suffix] += kept.length;
  }
}
const kb = (n) => `${(n / 1000).toFixed(1)} kB`;
console.error(
  `build-frontend: the page's text files: ${kb(sum.plain)}, ${kb(sum.gz)} gzip (zopfli; ${kb(sum.gzip9)} with gzip -9), ` +
    `${kb(sum.br)} brotli 11`,
);
JS
# --- into dist/ ----------------------------------------------------------------------------------------------------
# The steps above give the same bytes for the same build (gzip -n, brotli and the renaming are deterministic), so an
# unchanged page still changes nothing in dist/.
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

say "done: dist/"
