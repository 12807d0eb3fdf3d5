"""Loopback-only stand-in for `tracemap serve`, to look at the page without raw sockets or a real network.

Serves dist/ at / and /t/{id}, answers the API with a canned 8-hop trace (`POST /api/traces` -> `live1`, streamed
over a minimal WebSocket; `/t/done1` is a finished one; targets ending in `.invalid` get an ApiError).
STUB_DELAY sets the seconds between events; STUB_DROP_AFTER=N drops the first socket after N events (reconnect test).

    python3 frontend/dev/stub_server.py dist 8765
"""
import base64, hashlib, json, os, struct, sys, time
from http.server import ThreadingHTTPServer, SimpleHTTPRequestHandler

DIST = sys.argv[1]
PORT = int(sys.argv[2])
DELAY = float(os.environ.get("STUB_DELAY", "0.12"))

HOPS = [
    (1, "192.168.1.1", "gw.home.lan", None, [0.41, 0.38, 0.52]),
    (2, None, None, None, [None, None, None]),
    (3, "192.0.2.30", "ae1.fra.example.net", ("Frankfurt am Main", "Germany", 50.11, 8.68), [9.8, 10.2, 9.9]),
    (4, "192.0.2.40", "fra-core.example.net", ("Frankfurt am Main", "Germany", 50.11, 8.68), [11.1, 11.3, 12.0]),
    (5, "198.51.100.5", "lon1.example.net", ("London", "United Kingdom", 51.51, -0.13), [19.7, 20.1, None]),
    (6, "198.51.100.6", "nyc-core.example.net", ("New York", "United States", 40.71, -74.01), [88.2, 87.9, 88.5]),
    (7, "203.0.113.7", None, ("Chicago", "United States", 41.88, -87.63, 200), [101.3, 100.9, 102.4]),
    (8, "203.0.113.8", "edge.sfo.example.org", ("San Francisco", "United States", 37.77, -122.42), [139.5, 140.2, 139.9]),
]

# AS numbers (documentation range) by TTL, for the AS column and the replay's sentences.
ASNS = {3: (64496, "Example Transit"), 4: (64496, "Example Transit"), 5: (64497, "Atlantic Carrier"),
        6: (64497, "Atlantic Carrier"), 7: (64498, None), 8: (64499, "Example Hosting, Inc.")}

# Tries lost to a router's ICMP rate limit (`*rl`), and MPLS label stacks quoted in replies, by TTL.
RATE_LIMITED = {5: [2]}
MPLS = {3: [{"label": 24001, "tc": 0, "bottom_of_stack": False, "ttl": 1},
            {"label": 16, "tc": 0, "bottom_of_stack": True, "ttl": 1}],
        4: [{"label": 24002, "tc": 0, "bottom_of_stack": True, "ttl": 1}]}

def reply_of(ttl, ip, rtt):
    if rtt is None:
        return None
    r = {"from": ip, "rtt_ms": rtt, "kind": "destination" if ttl == 8 else "time_exceeded"}
    if ttl in MPLS:
        r["mpls"] = MPLS[ttl]
    return r

def asn(ttl):
    a = ASNS.get(ttl)
    return None if a is None else {"number": a[0], "org": a[1], "source": "stub"}

def events():
    yield {"type": "started", "version": 1, "target": "example.org", "address": "203.0.113.8", "protocol": "icmp",
           "max_hops": 30, "tries": 3, "started_at_ms": 1763888400000, "mode": "raw"}
    for ttl, ip, host, geo, rtts in HOPS:
        for i, rtt in enumerate(rtts):
            yield {"type": "probe", "ttl": ttl, "index": i, "reply": reply_of(ttl, ip, rtt),
                   "rate_limited": i in RATE_LIMITED.get(ttl, [])}
        if ip:
            g = None if geo is None else {"city": geo[0], "country": geo[1], "lat": geo[2], "lon": geo[3],
                                          "accuracy_km": geo[4] if len(geo) > 4 else None, "source": "stub"}
            yield {"type": "hop_info", "ttl": ttl, "address": ip, "hostname": host, "geo": g, "asn": asn(ttl),
                   "kind": "private" if ip.startswith("192.168.") else "public"}
    yield {"type": "finished", "destination_reached": True, "duration_ms": 4200}

def report(status):
    hops = []
    for ttl, ip, host, geo, rtts in HOPS:
        probes = [reply_of(ttl, ip, r) for r in rtts]
        g = None if geo is None else {"city": geo[0], "country": geo[1], "lat": geo[2], "lon": geo[3],
                                      "accuracy_km": geo[4] if len(geo) > 4 else None}
        hops.append({"ttl": ttl, "probes": probes, "address": ip, "hostname": host, "geo": g, "asn": asn(ttl),
                     "rate_limited": RATE_LIMITED.get(ttl, [])})
    return {"id": "done1", "status": status, "target": "example.org", "address": "203.0.113.8", "protocol": "icmp",
            "mode": "udp_error_queue",
            "max_hops": 30, "tries": 3, "hops": hops, "destination_reached": True, "duration_ms": 4200}

CONNECTIONS = 0

class Handler(SimpleHTTPRequestHandler):
    def __init__(self, *a, **kw):
        super().__init__(*a, directory=DIST, **kw)

    def log_message(self, fmt, *args):
        sys.stderr.write("stub: " + fmt % args + "\n")

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        if self.path != "/api/traces":
            return self.send_json(404, {"error": {"code": "not_found", "message": "no such route"}})
        req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if req.get("target", "").startswith("busy."):
            body = json.dumps({"error": {"code": "rate_limited", "message": "Too many traces from your address."}}).encode()
            self.send_response(429)
            self.send_header("Content-Type", "application/json")
            self.send_header("Retry-After", "17")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return self.wfile.write(body)
        if req.get("target", "").endswith(".invalid"):
            return self.send_json(422, {"error": {"code": "unresolvable_target",
                                                  "message": f"{req['target']} does not resolve to an address."}})
        self.send_json(201, {"id": "live1"})

    def do_GET(self):
        p = self.path.split("?")[0]
        if p.startswith("/api/traces/") and p.endswith("/live"):
            return self.websocket()
        if p == "/api/config":
            return self.send_json(200, {"version": "stub", "location": {"city": "Zurich", "country": "Switzerland",
                                         "lat": 47.37, "lon": 8.54}, "tiles": None, "geoip": ["DBIP-City-Lite"]})
        if p == "/api/traces":
            return self.send_json(200, {"traces": [
                {"id": "done1", "target": "example.org", "address": "203.0.113.8", "protocol": "icmp",
                 "status": "finished", "destination_reached": True, "hops": 8, "created_ms": 1763888400000,
                 "duration_ms": 4200},
                {"id": "live1", "target": "example.net", "address": "198.51.100.9", "protocol": "udp",
                 "status": "finished", "destination_reached": False, "hops": 30, "created_ms": 1763884800000,
                 "duration_ms": 31000}]})
        if p == "/api/traces/done1":
            return self.send_json(200, report("finished"))
        if p == "/api/traces/live1":
            r = report("running"); r["id"] = "live1"; r["hops"] = []; r["destination_reached"] = False
            return self.send_json(200, r)
        if p.startswith("/api/"):
            return self.send_json(404, {"error": {"code": "not_found", "message": "No trace with that id."}})
        if p.startswith("/t/") or p == "/":
            self.path = "/index.html"
        return super().do_GET()

    def websocket(self):
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept.decode())
        self.end_headers()
        global CONNECTIONS
        CONNECTIONS += 1
        drop_after = int(os.environ.get("STUB_DROP_AFTER", "0")) if CONNECTIONS == 1 else 0
        for n, ev in enumerate(events()):
            if drop_after and n == drop_after:
                self.wfile.write(bytes([0x88, 2]) + struct.pack(">H", 1001))
                self.wfile.flush()
                self.close_connection = True
                return
            data = json.dumps(ev).encode()
            n = len(data)
            head = bytes([0x81, n]) if n < 126 else bytes([0x81, 126]) + struct.pack(">H", n)
            self.wfile.write(head + data)
            self.wfile.flush()
            time.sleep(DELAY)
        self.wfile.write(bytes([0x88, 2]) + struct.pack(">H", 1000))
        self.wfile.flush()
        self.close_connection = True

ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
