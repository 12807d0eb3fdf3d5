#!/usr/bin/env bash
# Watch through the server: one watch of ROUNDS rounds at one a second (`POST /api/traces` with `rounds`), followed
# by one viewer on its live WebSocket, as the page does, on the namespace network of bench-rounds.sh (six Linux
# routers, the third silent, and a destination: 7 hops). Prints the server's resident memory before, at its peak
# and after the watch (sampled every 5 s from /proc), and the database's size before and after (a watch is kept in
# memory while it runs and stored once, when it ends), with the stored watch's events and report sizes.
# Needs root (namespaces, raw sockets); uses only 10.252.x addresses inside its own namespaces.
#
#   sudo scripts/bench-watch.sh [ROUNDS]      (default 300: five minutes)
#
# Environment: TRACEMAP (the binary; default target/release/tracemap), PORT (default 19050).
set -euo pipefail

ROUNDS=${1:-300}
PORT=${PORT:-19050}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TRACEMAP=${TRACEMAP:-$ROOT/target/release/tracemap}
ROUTERS=6
SILENT=3
PREFIX=tmwatch$$
OUT=$(mktemp -d /tmp/watch-bench-XXXXXX)

[[ $(id -u) == 0 ]] || { echo "bench-watch.sh needs root (network namespaces, raw sockets)" >&2; exit 1; }
[[ -x $TRACEMAP ]] || { echo "no tracemap binary at $TRACEMAP (cargo build --release, or set TRACEMAP)" >&2; exit 1; }
# shellcheck source=bench-chain.sh
source "$ROOT/scripts/bench-chain.sh"
chain_up 252
chmod 755 "$OUT"

ip netns exec "$PREFIX-c" "$TRACEMAP" serve --listen "127.0.0.1:$PORT" --db "$OUT/t.sqlite" \
    --max-rounds "$ROUNDS" --max-watch-seconds $((ROUNDS * 2)) 2>"$OUT/server.log" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; chain_down' EXIT

ip netns exec "$PREFIX-c" python3 - "$PORT" "$DEST" "$ROUNDS" "$SERVER" "$OUT/t.sqlite" <<'PY'
import base64, json, os, socket, sqlite3, sys, time, urllib.request

port, dest, rounds, pid, db = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
base = f"http://127.0.0.1:{port}"

def rss_kib():
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

def db_bytes():
    return sum(os.path.getsize(db + suffix) for suffix in ("", "-wal", "-shm") if os.path.exists(db + suffix))

for _ in range(200):
    try:
        urllib.request.urlopen(base + "/healthz").read()
        break
    except OSError:
        time.sleep(0.1)
before_rss, before_db = rss_kib(), db_bytes()
body = json.dumps({"target": dest, "rounds": rounds, "interval": 1, "dns": False}).encode()
request = urllib.request.Request(base + "/api/traces", body, {"Content-Type": "application/json"})
trace = json.load(urllib.request.urlopen(request))["id"]

# The viewer: a WebSocket handshake by hand (the standard library has no client), then frames until `finished`.
sock = socket.create_connection(("127.0.0.1", int(port)))
key = base64.b64encode(os.urandom(16)).decode()
sock.sendall((f"GET /api/traces/{trace}/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
              f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
buffer = b""
while b"\r\n\r\n" not in buffer:
    buffer += sock.recv(4096)
buffer = buffer.split(b"\r\n\r\n", 1)[1]

def read(n):
    global buffer
    while len(buffer) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError
        buffer += chunk
    data, buffer = buffer[:n], buffer[n:]
    return data

started, peak, frames, last_sample, seen_rounds = time.time(), before_rss, 0, 0.0, 0
sock.settimeout(1.0)
while True:
    if time.time() - last_sample >= 5:
        peak, last_sample = max(peak, rss_kib()), time.time()
    try:
        head = read(2)
    except socket.timeout:
        continue
    except EOFError:
        break
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(read(2), "big")
    elif length == 127:
        length = int.from_bytes(read(8), "big")
    payload = read(length)
    if head[0] & 0x0F == 8:
        break
    frames += 1
    event = json.loads(payload)
    if event["type"] == "round":
        seen_rounds = event["round"]
    if event["type"] in ("finished", "failed"):
        break
took = time.time() - started
peak = max(peak, rss_kib())
for _ in range(100):
    report = json.load(urllib.request.urlopen(f"{base}/api/traces/{trace}"))
    if report["status"] != "running":
        break
    time.sleep(0.1)
time.sleep(1)
after_rss, after_db = rss_kib(), db_bytes()
with sqlite3.connect(db) as conn:
    events_len, report_len = conn.execute(
        "SELECT length(events), length(report) FROM traces WHERE id = ?", (trace,)).fetchone()
print(f"watch: {seen_rounds} rounds in {took:.0f} s, {frames} events to the viewer, status {report['status']}, "
      f"{len(report['hops'])} hops")
print(f"server RSS (KiB): before {before_rss}, peak {peak}, after {after_rss}")
print(f"database (bytes, file + WAL): before {before_db}, after {after_db}, growth {after_db - before_db}")
print(f"stored row: events {events_len} B ({events_len / max(seen_rounds, 1):.0f} B a round), report {report_len} B")
PY
