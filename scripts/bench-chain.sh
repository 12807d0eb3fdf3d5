# Sourced by the benchmark scripts (bench-probe.sh, bench-rounds.sh, bench-watch.sh): builds their namespace
# network, a client ($PREFIX-c), ROUTERS Linux routers ($PREFIX-r1...) in a line and a destination ($PREFIX-s),
# on 10.$NET.$i.0/24 links, with router SILENT (1-based) dropping its own Time Exceeded. Sets NODES and DEST; an
# EXIT trap removes the namespaces and $OUT.
#   chain_up NET          (NET: the second octet, so that two benchmarks never share addresses)
chain_up() {
    local net=$1 ns near far i j k n links
    NODES=("$PREFIX-c")
    for k in $(seq 1 "$ROUTERS"); do NODES+=("$PREFIX-r$k"); done
    NODES+=("$PREFIX-s")
    links=$((${#NODES[@]} - 1))
    DEST=10.$net.$ROUTERS.2
    trap chain_down EXIT
    for ns in "${NODES[@]}"; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
    done
    for i in $(seq 0 $((links - 1))); do
        near=${NODES[$i]} far=${NODES[$((i + 1))]}
        ip link add east netns "$near" type veth peer name west netns "$far"
        ip -n "$near" addr add "10.$net.$i.1/24" dev east
        ip -n "$far" addr add "10.$net.$i.2/24" dev west
        ip -n "$near" link set east up
        ip -n "$far" link set west up
    done
    for n in $(seq 0 "$links"); do
        ns=${NODES[$n]}
        for j in $(seq 0 $((links - 1))); do
            if ((j + 1 < n)); then
                ip -n "$ns" route add "10.$net.$j.0/24" via "10.$net.$((n - 1)).1" dev west
            elif ((j > n)); then
                ip -n "$ns" route add "10.$net.$j.0/24" via "10.$net.$n.2" dev east
            fi
        done
    done
    for k in $(seq 1 "$ROUTERS"); do
        ip netns exec "$PREFIX-r$k" sysctl -qw net.ipv4.ip_forward=1
    done
    ip netns exec "$PREFIX-r$SILENT" iptables -A OUTPUT -p icmp --icmp-type time-exceeded -j DROP
}

chain_down() {
    local ns
    for ns in "${NODES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$OUT"
}
