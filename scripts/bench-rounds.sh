#!/usr/bin/env bash
# Watch benchmark: `tracemap trace --rounds` against mtr (Debian's mtr-tiny) and, when installed, trippy's `trip`,
# on one namespace network with Linux's default ICMP rate limits (a burst of 6, a token a second per source).
#
# The network: a client, six Linux routers (the third silent: it forwards but sends no Time Exceeded) and a
# destination, 7 hops. Each tool watches the route for ROUNDS rounds, one a second (mtr's default), one tool after
# the other with a pause between them so that every tool finds the routers' buckets full. For each tool it prints
# the worst loss it reports at a hop that answers (every hop but the silent one: any loss there is of the tool's own
# making, as nothing on this network drops packets), its CPU time per round (user + system) and its peak memory.
# Needs root (namespaces, raw sockets); uses only 10.251.x addresses inside its own namespaces.
#
#   sudo scripts/bench-rounds.sh [ROUNDS]      (default 60)
#
# Environment: TRACEMAP (the binary; default target/release/tracemap), PAUSE (seconds between tools, default 8),
# INTERVAL (seconds between rounds, default 1; below the routers' refill a tool that does not pace loses answers),
# TRIPPY=1 installs trippy first when `trip` is missing (`cargo install trippy --locked`, niced: many CPU minutes),
# WORKDIR (the folder whose data/ tracemap reads; default the checkout).
set -euo pipefail

ROUNDS=${1:-60}
PAUSE=${PAUSE:-8}
INTERVAL=${INTERVAL:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TRACEMAP=${TRACEMAP:-$ROOT/target/release/tracemap}
ROUTERS=6
SILENT=3 # 1-based: the third router is silent
PREFIX=tmrounds$$
OUT=$(mktemp -d /tmp/rounds-bench-XXXXXX)

[[ $(id -u) == 0 ]] || { echo "bench-rounds.sh needs root (network namespaces, raw sockets)" >&2; exit 1; }
[[ -x $TRACEMAP ]] || { echo "no tracemap binary at $TRACEMAP (cargo build --release, or set TRACEMAP)" >&2; exit 1; }
# mtr-tiny from Debian, and trippy from crates.io when asked: through setup.sh, which installs only what is missing.
# shellcheck source=setup.sh
source "$ROOT/scripts/setup.sh"
setup_bench_tools
export PATH="$HOME/.cargo/bin:$PATH"
HAVE_TRIP=0
command -v trip >/dev/null && HAVE_TRIP=1
((HAVE_TRIP)) || echo "trip is not installed (TRIPPY=1 installs it): measuring without trippy" >&2

# shellcheck source=bench-chain.sh
source "$ROOT/scripts/bench-chain.sh"
chain_up 251
# Let the links come up and the first ARP exchanges happen, then let the routers' buckets fill again.
sleep 2
ip netns exec "$PREFIX-c" ping -c 1 -W 2 "$DEST" >/dev/null 2>&1 || true
sleep "$PAUSE"

# Each tool's report, reduced to `hop loss_pct` lines (hop from 1) by the parser after it.
declare -A CMD=(
    [tracemap]="$TRACEMAP trace -n --rounds $ROUNDS --interval $INTERVAL --csv $DEST"
    [mtr]="mtr -n --report --report-wide --report-cycles $ROUNDS --interval $INTERVAL $DEST"
    [trip]="trip -m csv --report-cycles $ROUNDS --min-round-duration $(echo "$INTERVAL * 1000 / 1" | bc)ms $DEST"
)
TOOLS=(tracemap mtr)
((HAVE_TRIP)) && TOOLS+=(trip)

losses() {
    local tool=$1 file=$2
    case $tool in
        # ttl,scope,address,hostname,sent,received,loss_pct,...
        tracemap) awk -F, '$2 == "hop" { print $1, $7 }' "$file" ;;
        # "  1.|-- 10.251.0.2   0.0%    60    0.1 ..."
        mtr) awk '$1 ~ /^[0-9]+\.\|--$/ { sub(/%/, "", $3); print $1 + 0, $3 }' "$file" ;;
        # Header names the columns: Hop and Loss%.
        trip) awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "Hop") h = i; if ($i == "Loss%") l = i }; next }
                       h && l { print $h, $l }' "$file" ;;
    esac
}

# Worst loss at a hop that answers: every hop but the silent one, the destination included.
worst_answering_loss() {
    awk -v silent=$SILENT 'BEGIN { worst = 0 } $1 != silent && $2 + 0 > worst { worst = $2 + 0 } END { print worst }'
}

cd "${WORKDIR:-$ROOT}"
echo "interval ${INTERVAL}s"
echo "tool rounds wall_s cpu_s cpu_ms_per_round peak_rss_kb worst_loss_at_answering_hops_pct silent_hop_loss_pct"
for tool in "${TOOLS[@]}"; do
    file=$OUT/$tool.txt
    # shellcheck disable=SC2086 # the command is a word list by design
    /usr/bin/time -f '%e %U %S %M' -o "$OUT/$tool.time" ip netns exec "$PREFIX-c" ${CMD[$tool]} >"$file" 2>"$OUT/$tool.err" \
        || { echo "$tool failed:" >&2; cat "$OUT/$tool.err" >&2; }
    read -r wall user sys rss <"$OUT/$tool.time"
    cpu=$(echo "$user + $sys" | bc -l)
    worst=$(losses "$tool" "$file" | worst_answering_loss)
    silent=$(losses "$tool" "$file" | awk -v silent=$SILENT '$1 == silent { print $2 }')
    printf '%s %s %s %.2f %.2f %s %s %s\n' "$tool" "$ROUNDS" "$wall" "$cpu" "$(echo "$cpu * 1000 / $ROUNDS" | bc -l)" \
        "$rss" "$worst" "${silent:-?}"
    if [[ -n ${VERBOSE:-} ]]; then cat "$file"; fi
    sleep "$PAUSE"
done
