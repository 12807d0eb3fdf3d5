#!/usr/bin/env bash
# Start-up cost: how long `tracemap trace` takes from exec to its first probe, with every data file present
# (GeoIP, ASN, places under data/) and with -g, traced by strace (-ttt timestamps of execve and the first
# sendto/sendmsg). The probe goes to 127.0.0.1 only. strace itself slows system calls a little, so the figures are
# upper bounds. Needs root (raw sockets) and strace.
#
#   sudo scripts/bench-startup.sh [RUNS]   (default 10; TRACEMAP: the binary, default target/release/tracemap;
#                                          WORKDIR: the folder holding data/, default the checkout)
set -euo pipefail

RUNS=${1:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TRACEMAP=${TRACEMAP:-$ROOT/target/release/tracemap}
[[ $(id -u) == 0 ]] || { echo "bench-startup.sh needs root (raw sockets)" >&2; exit 1; }
[[ -x $TRACEMAP ]] || { echo "no tracemap binary at $TRACEMAP (cargo build --release, or set TRACEMAP)" >&2; exit 1; }
command -v strace >/dev/null || { echo "strace is not installed" >&2; exit 1; }
OUT=$(mktemp -d /tmp/startup-bench-XXXXXX)
trap 'rm -rf "$OUT"' EXIT
# WORKDIR: where data/ is (default: the checkout).
cd "${WORKDIR:-$ROOT}"

first_probe_ms() {
    strace -f -ttt -e trace=execve,sendto,sendmsg -o "$OUT/trace" "$@" >/dev/null 2>&1 || true
    awk '/execve\(/ && !start { start = $2 } /(sendto|sendmsg)\(/ && start { printf "%.1f\n", ($2 - start) * 1000; exit }' \
        "$OUT/trace"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for label in "all data" "-g"; do
    args=(trace -n -m 1 -t 0.5)
    [[ $label == -g ]] && args+=(-g)
    : >"$OUT/runs"
    for _ in $(seq 1 "$RUNS"); do first_probe_ms "$TRACEMAP" "${args[@]}" 127.0.0.1 >>"$OUT/runs"; done
    : >"$OUT/wall"
    for _ in $(seq 1 "$RUNS"); do
        start=$(date +%s.%N)
        "$TRACEMAP" "${args[@]}" 127.0.0.1 >/dev/null 2>&1 || true
        echo "($(date +%s.%N) - $start) * 1000" | bc -l >>"$OUT/wall"
    done
    rss=$( { /usr/bin/time -f '%M' "$TRACEMAP" "${args[@]}" 127.0.0.1 >/dev/null; } 2>&1 | tail -1)
    printf '%-9s exec to first probe: median %s ms (min %s, max %s)   whole run: median %.1f ms   max RSS %s KiB\n' \
        "$label" "$(median <"$OUT/runs")" "$(sort -g "$OUT/runs" | head -1)" "$(sort -g "$OUT/runs" | tail -1)" \
        "$(median <"$OUT/wall")" "$rss"
done
