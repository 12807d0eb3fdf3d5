#!/usr/bin/env bash
# Probe engine benchmark: tracemap against Debian's traceroute and mtr on the same namespace network, interleaved.
#
# The network is the one the issue describes: a client, six Linux routers (the third one silent: it forwards but
# sends no Time Exceeded) and a destination, 7 hops. Two scenarios:
#   normal  the destination answers;
#   tail    the destination drops every probe (a silent tail: every TTL beyond it stays silent).
# Each round runs every tool once, in a rotating order, with a pause between runs so that the routers' ICMP rate
# limiters (a token a second, burst 6) start full for every tool. Prints one line per run and a table of medians,
# with each tool's ratio to traceroute of the same protocol, and counts the `*` each tool showed at hops that
# answer (false stars). Needs root (namespaces, raw sockets); uses only 10.250.x addresses inside its namespaces.
#
#   sudo scripts/bench-probe.sh [ROUNDS_NORMAL] [ROUNDS_TAIL]     (defaults 7 and 3)
#
# Environment: TRACEMAP (the binary; default target/release/tracemap), PAUSE (seconds between runs, default 6),
# WORKDIR (the folder whose data/ tracemap-data reads; default the checkout).
set -euo pipefail

ROUNDS_NORMAL=${1:-7}
ROUNDS_TAIL=${2:-3}
PAUSE=${PAUSE:-6}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TRACEMAP=${TRACEMAP:-$ROOT/target/release/tracemap}
ROUTERS=6
SILENT=3 # 1-based: the third router is silent
PREFIX=tmbench$$
OUT=$(mktemp -d /tmp/probe-bench-XXXXXX)

[[ $(id -u) == 0 ]] || { echo "bench-probe.sh needs root (network namespaces, raw sockets)" >&2; exit 1; }
[[ -x $TRACEMAP ]] || { echo "no tracemap binary at $TRACEMAP (cargo build --release, or set TRACEMAP)" >&2; exit 1; }
command -v traceroute >/dev/null || { echo "traceroute is not installed" >&2; exit 1; }
HAVE_MTR=1
command -v mtr >/dev/null || { echo "mtr is not installed: measuring without it" >&2; HAVE_MTR=0; }

# shellcheck source=bench-chain.sh
source "$ROOT/scripts/bench-chain.sh"
chain_up 250
# Let the links come up (the kernel reports carrier up to a second late) and the first ARP exchanges happen.
sleep 2
ip netns exec "$PREFIX-c" "$TRACEMAP" trace -n -g -t 1 "$DEST" >/dev/null 2>&1 || true
sleep "$PAUSE"

# tool name -> command (run in the client namespace); output goes to a file for the star count. `tracemap-data`
# is what a user runs after ./scripts/run.sh: from the checkout, with every data file (GeoIP, ASN, places) loaded.
declare -A CMD=(
    [tracemap-data]="$TRACEMAP trace -n -p icmp $DEST"
    [tracemap-icmp]="$TRACEMAP trace -n -g -p icmp $DEST"
    [tracemap-udp]="$TRACEMAP trace -n -g -p udp $DEST"
    [traceroute-icmp]="traceroute -n -I $DEST"
    [traceroute-udp]="traceroute -n $DEST"
    [mtr-icmp]="mtr --report --report-cycles 1 --no-dns $DEST"
)
TOOLS=(tracemap-data tracemap-icmp traceroute-icmp tracemap-udp traceroute-udp)
((HAVE_MTR)) && TOOLS+=(mtr-icmp)
# Every run starts from the checkout, so tracemap-data finds data/ as a user's would.
cd "${WORKDIR:-$ROOT}"

# Counts `*` on the lines of hops that answer: every hop but the silent router and, in the tail scenario, the
# destination and everything after it. mtr marks an unanswered hop with `???` and 100% loss instead.
false_stars() {
    local file=$1 scenario=$2
    awk -v silent=$SILENT -v last=$ROUTERS -v tail="$scenario" '
        $1 ~ /^[0-9]+$/ { hop = $1 }
        $1 ~ /^[0-9]+\.\|--$/ { hop = $1 + 0; if ($2 == "???" && hop != silent && (tail != "tail" || hop <= last)) stars++; next }
        hop && hop != silent && (tail != "tail" || hop <= last) { for (i = 1; i <= NF; i++) if ($i == "*") stars++ }
        END { print stars + 0 }' "$file"
}

run_round() {
    local scenario=$1 round=$2 n=${#TOOLS[@]}
    for ((i = 0; i < n; i++)); do
        local tool=${TOOLS[$(((i + round) % n))]}
        local file=$OUT/$scenario-$tool-$round.txt
        local start end
        start=$(date +%s.%N)
        # shellcheck disable=SC2086 # the command is a word list by design
        ip netns exec "$PREFIX-c" ${CMD[$tool]} >"$file" 2>&1 || true
        end=$(date +%s.%N)
        local secs
        secs=$(echo "$end - $start" | bc -l)
        printf '%s %s %s %.4f %s\n' "$scenario" "$round" "$tool" "$secs" "$(false_stars "$file" "$scenario")" \
            | tee -a "$OUT/runs"
        sleep "$PAUSE"
    done
}

echo "scenario round tool seconds false_stars"
for round in $(seq 1 "$ROUNDS_NORMAL"); do run_round normal "$round"; done
ip netns exec "$PREFIX-s" iptables -A INPUT -s 10.250.0.1 -j DROP
sleep "$PAUSE"
for round in $(seq 1 "$ROUNDS_TAIL"); do run_round tail "$round"; done

echo
echo "Medians (seconds), ratio to traceroute with the same protocol, false stars in all runs:"
for scenario in normal tail; do
    for tool in "${TOOLS[@]}"; do
        med=$(awk -v s=$scenario -v t=$tool '$1 == s && $3 == t { print $4 }' "$OUT/runs" | sort -g \
            | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
        stars=$(awk -v s=$scenario -v t=$tool '$1 == s && $3 == t { n += $5 } END { print n + 0 }' "$OUT/runs")
        proto=${tool#*-}
        [[ $proto == data ]] && proto=icmp
        ref=$(awk -v s=$scenario -v t="traceroute-$proto" '$1 == s && $3 == t { print $4 }' "$OUT/runs" | sort -g \
            | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
        printf '%-7s %-16s median %8.4f s  ratio %7.3f  false stars %s\n' "$scenario" "$tool" "$med" \
            "$(echo "$med / $ref" | bc -l)" "$stars"
    done
done
