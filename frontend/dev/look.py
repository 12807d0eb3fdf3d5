"""Drives headless Chromium against frontend/dev/stub_server.py through chromedriver's WebDriver HTTP API (no
selenium needed): starts a trace from the form, waits for it to finish, shows an API error, opens a permalink at phone
width, and saves screenshots (PREFIX-*.png, default /tmp/front-shot-*) to look at.

    python3 frontend/dev/look.py http://127.0.0.1:8765 [PREFIX]
"""
import base64, json, subprocess, sys, time, urllib.request

PORT = 9515
BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8765"
PREFIX = sys.argv[2] if len(sys.argv) > 2 else "/tmp/front-shot"

def call(method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())["value"]

driver = subprocess.Popen(["chromedriver", f"--port={PORT}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    time.sleep(1)
    args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--hide-scrollbars", "--window-size=1280,800"]
    s = call("POST", "/session", {"capabilities": {"alwaysMatch": {
        "browserName": "chrome", "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args},
        "goog:loggingPrefs": {"browser": "ALL"}}}})["sessionId"]
    S = f"/session/{s}"
    js = lambda script: call("POST", f"{S}/execute/sync", {"script": script, "args": []})
    def shot(name):
        data = call("GET", f"{S}/screenshot")
        open(name, "wb").write(base64.b64decode(data))
        print("saved", name)
    def wait(script, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            v = js(script)
            if v:
                return v
            time.sleep(0.05)
        raise SystemExit(f"timed out waiting for: {script}")
    def counts():
        return js("""return {rows: document.querySelectorAll('#hops tr.hop-row').length,
            markers: document.querySelectorAll('#map .hop-marker').length,
            line: document.querySelectorAll('#map path.route-line').length,
            status: document.getElementById('status').textContent,
            error: (document.getElementById('error')||{}).textContent || null,
            url: location.pathname}""")

    # 1. Start a trace from the form: type, press Enter.
    call("POST", f"{S}/url", {"url": BASE + "/"})
    wait("return window.wasmBindings !== undefined && document.getElementById('target') !== null")
    el = call("POST", f"{S}/element", {"using": "css selector", "value": "#target"})
    el = list(el.values())[0]
    t0 = time.time()
    call("POST", f"{S}/element/{el}/value", {"text": "example.org\ue007"})
    wait("return document.querySelectorAll('#hops tr.hop-row').length >= 4")
    print("mid-trace", counts())
    shot(PREFIX + "-live-mid.png")
    wait("return document.getElementById('status').dataset.state === 'finished'", 20)
    print("finished after %.1fs" % (time.time() - t0), counts())
    shot(PREFIX + "-live-done.png")
    # Selecting a row highlights its marker; a marker click selects its row.
    js("document.querySelector('#hops tr.hop-row[data-ttl=\"6\"]').click()")
    print("row 6 selected -> highlighted marker:",
          js("return [...document.querySelectorAll('#map .hop-marker.highlighted')].map(m => m.dataset.ttls)"))
    js("document.querySelector('#map .hop-marker[data-ttl=\"3\"]').click()")
    print("marker 3-4 clicked -> highlighted rows:",
          js("return [...document.querySelectorAll('#hops tr.highlighted')].map(r => r.dataset.ttl)"))
    time.sleep(0.3)
    shot(PREFIX + "-selected.png")
    # 2. Error from the server, shown as is.
    call("POST", f"{S}/element/{el}/clear", {})
    call("POST", f"{S}/element/{el}/value", {"text": "nope.invalid\ue007"})
    wait("return document.getElementById('error') !== null"); time.sleep(1.0)
    print("error", counts())
    shot(PREFIX + "-error.png")
    # Rate limited: the wait time is shown.
    call("POST", f"{S}/element/{el}/clear", {})
    call("POST", f"{S}/element/{el}/value", {"text": "busy.example\ue007"})
    wait("return (document.getElementById('error')||{}).textContent.includes('17 s')")
    print("rate limited:", js("return document.getElementById('error').textContent"))
    # Options: an out-of-range value is refused inline.
    js("document.getElementById('options-toggle').click()")
    mh = list(call("POST", f"{S}/element", {"using": "css selector", "value": "#max-hops"}).values())[0]
    call("POST", f"{S}/element/{mh}/value", {"text": "99"})
    print("max hops problem:", js("return document.getElementById('max-hops-problem').textContent"))
    shot(PREFIX + "-options.png")
    call("POST", f"{S}/element/{mh}/clear", {})
    # 3. Inline validation.
    call("POST", f"{S}/element/{el}/clear", {})
    call("POST", f"{S}/element/{el}/value", {"text": "http://x/\ue007"})
    print("problem:", js("return document.getElementById('target-problem').textContent"))
    # 4. Permalink in a fresh page, phone width.
    call("POST", f"{S}/window/rect", {"width": 390, "height": 844})
    call("POST", f"{S}/url", {"url": BASE + "/t/done1"})
    wait("return document.querySelectorAll('#map .hop-marker').length === 5")
    time.sleep(0.6)
    print("permalink", counts())
    shot(PREFIX + "-phone.png")
    call("DELETE", S)
finally:
    driver.terminate()
