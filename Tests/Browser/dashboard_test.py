#!/usr/bin/env python3
"""Browser tests of the dashboard (issue 7 §11): headless Chromium driven by selenium.

Builds databases with the sniff binary, starts `sniff serve` (and `sniff -i lo --serve`
for the live case), loads the dashboard and checks: the table equals the API, the chart
canvas is drawn, the filter narrows rows and is reflected in the URL, the xlsx download
arrives and parses, the XSS capture shows as text with no dialog, live rows arrive; a
file served with -r FILE --serve charts in its own (capture) time, live in the last 5 min.
Screenshots go to a folder printed at the start. Ends with "N passed, N failed".

usage: dashboard_test.py --sniff PATH [--capture FILE] [--keep-screenshot docs/dashboard.png]
"""
import argparse, json, os, shutil, socket, subprocess, sys, tempfile, time, traceback, urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

# The live capture's UDP port: a free one per run, so that runs at the same time on one
# machine (lo is shared) do not count each other's packets.
def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


LIVE_PORT = free_udp_port()
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
results = []


def check(name, ok, detail=""):
    results.append((name, bool(ok)))
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)), flush=True)


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def wait_http(url, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=2).read(); return True
        except Exception:
            time.sleep(0.2)
    return False


def api(base, path):
    return json.loads(urllib.request.urlopen(base + path, timeout=30).read())


class Server:
    def __init__(self, args, log):
        self.log = open(log, "w")
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
        self.p.send_signal(2)
        try: self.p.wait(15)
        except subprocess.TimeoutExpired: self.p.kill()
        self.log.close()


def make_driver(download_dir):
    o = webdriver.ChromeOptions()
    for b in ["/usr/bin/chromium", "/usr/bin/chromium-browser"]:
        if os.path.exists(b): o.binary_location = b
    o.add_argument("--headless=new"); o.add_argument("--no-sandbox"); o.add_argument("--disable-dev-shm-usage")
    o.add_argument("--window-size=1280,800")
    o.add_experimental_option("prefs", {"download.default_directory": download_dir, "download.prompt_for_download": False})
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    d = webdriver.Chrome(service=Service(driver_path), options=o)
    d.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": download_dir})
    return d


def wait_loaded(d, timeout=30):
    WebDriverWait(d, timeout).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") in ("true", "error"))
    return d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded")


def no_alert(d):
    try:
        a = d.switch_to.alert
        text = a.text; a.dismiss(); return False, text
    except NoAlertPresentException:
        return True, ""


def table_rows(d, n):
    # One script call: live rows re-render the table, so element handles go stale.
    return d.execute_script("""
        return Array.from(document.querySelectorAll('#packets tbody tr[data-index]')).slice(0, arguments[0])
            .map(tr => Array.from(tr.cells).map(td => td.textContent));""", n)


def overflowing(d):
    """The elements that widen the page: past the window's right edge with no ancestor
    that scrolls or clips them (what to fix when a phone check finds a sideways scroll)."""
    return d.execute_script("""
        const out = [];
        for (const e of document.querySelectorAll('body *')) {
          const r = e.getBoundingClientRect();
          if (r.width === 0 || r.right <= document.documentElement.clientWidth + 1) continue;
          let clipped = false;
          for (let p = e.parentElement; p && p !== document.body; p = p.parentElement)
            if (getComputedStyle(p).overflowX !== 'visible') { clipped = true; break; }
          if (!clipped) out.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ' + Math.round(r.right));
        }
        return out.slice(0, 8);""")


def canvas_pixels(d, cid):
    return d.execute_script("""
        const c = document.getElementById(arguments[0]); const x = c.getContext('2d');
        const data = x.getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
        return n;""", cid)


LABELS = {"tcp": "TCP", "udp": "UDP", "icmp": "ICMP", "icmpv6": "ICMPv6", "arp": "ARP", "gre": "GRE", "other": "other", "none": "none"}


def label(p):
    """The dashboard's one spelling of a protocol."""
    return LABELS.get(str(p).lower(), p) if p else ""


def fmt_time(ts):
    # The table's format: UTC, microseconds.
    import datetime
    d = datetime.datetime.fromtimestamp(int(ts), datetime.timezone.utc)
    us = round((ts % 1) * 1e6)
    return d.strftime("%Y-%m-%d %H:%M:%S") + "." + str(us).zfill(6)


def test_database(d, base, shots, downloads):
    d.get(base + "/")
    check("dashboard loads over a stored capture", wait_loaded(d) == "true")
    ok, text = no_alert(d); check("no dialog", ok, text)
    page = api(base, "/api/packets?limit=500")
    want = [[fmt_time(p["ts"]), p.get("src") or p.get("eth_src", ""), str(p.get("sport", "")), p.get("dst") or p.get("eth_dst", ""),
             str(p.get("dport", "")), label(p.get("transport", "")), p.get("app", ""), str(p["len"])] for p in page["rows"][:12]]
    got = [r[:8] for r in table_rows(d, 12)]
    check("packets table equals /api/packets (first 12 rows)", got == want, f"\n table {got[:2]}\n api   {want[:2]}")
    summary = api(base, "/api/protocol_summary")
    cells = [[c.text for c in r.find_elements(By.TAG_NAME, "td")] for r in d.find_elements(By.CSS_SELECTOR, "#summary tbody tr")]
    want_s = [["transport", label(e["name"]), str(e["packets"])] for e in summary["transports"]] + [["app", e["name"], str(e["packets"])] for e in summary["apps"]]
    check("protocol summary table equals the API", [c[:3] for c in cells] == want_s, f"{cells[:3]} vs {want_s[:3]}")
    time.sleep(0.5)
    check("traffic chart canvas is drawn", canvas_pixels(d, "chart") > 500, canvas_pixels(d, "chart"))
    caps = api(base, "/api/captures")["rows"]
    check_capture_time(d, "database", min(c["first_packet"] for c in caps), max(c["last_packet"] for c in caps))
    check("summary bar chart is drawn", canvas_pixels(d, "summary-chart") > 100)
    tl = json.loads(d.find_element(By.ID, "chart").get_attribute("data-tick-labels") or "[]")
    check("chart: y tick labels distinct for small rates too", len(tl) >= 2 and len(set(tl)) == len(tl), tl)
    d.save_screenshot(os.path.join(shots, "dashboard-1280x800.png"))

    # Filter: UDP only.
    total = len(api(base, "/api/packets?limit=1000")["rows"])
    udp = api(base, "/api/packets?limit=1000&transport=udp")["rows"]
    Select(d.find_element(By.ID, "f-transport")).select_by_value("udp")
    d.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    WebDriverWait(d, 20).until(lambda d: "transport=udp" in d.current_url)
    time.sleep(1)
    rows = table_rows(d, 50)
    check("filter is reflected in the URL", "transport=udp" in d.current_url, d.current_url)
    check("filter narrows the rows", len(udp) < total and all(r[5].lower() == "udp" for r in rows) and len(rows) == min(50, len(udp)),
          f"{len(rows)} rows, udp {len(udp)} of {total}")
    d.save_screenshot(os.path.join(shots, "dashboard-filtered.png"))

    # Download xlsx for the current filter.
    for f in os.listdir(downloads): os.remove(os.path.join(downloads, f))
    d.find_element(By.ID, "d-xlsx").click()
    path = os.path.join(downloads, "sniff-packets.xlsx")
    end = time.time() + 30
    while time.time() < end and not (os.path.exists(path) and not any(x.endswith(".crdownload") for x in os.listdir(downloads))):
        time.sleep(0.2)
    ok = os.path.exists(path)
    check("xlsx download arrives", ok, os.listdir(downloads))
    if ok:
        import openpyxl
        wb = openpyxl.load_workbook(path)
        ws = wb.active
        data = list(ws.iter_rows(values_only=True))
        n_udp = len(urllib.request.urlopen(base + "/api/export?format=ndjson&transport=udp").read().splitlines())
        check("xlsx parses with the filter's rows", data[0][0] == "time" and len(data) - 1 == n_udp and all(r[5].lower() == "udp" for r in data[1:]),
              f"{len(data) - 1} rows vs {n_udp}")

    # Click a row: details.
    d.find_element(By.CSS_SELECTOR, "#packets tbody tr[data-index='0']").click()
    check("clicking a row shows all its fields", d.find_element(By.ID, "detail").is_displayed() and
          len(d.find_elements(By.CSS_SELECTOR, "#detail-body tr")) >= 8)
    d.find_element(By.ID, "detail-close").click()
    check("details close; focus returns to the packets table", wait_for(d, lambda: d.find_element(By.ID, "detail").get_attribute("open") is None, 3)
          and d.switch_to.active_element.get_attribute("id") == "p-scroll", d.switch_to.active_element.get_attribute("id"))

    # Keyboard: arrow down selects the next row.
    scroller = d.find_element(By.ID, "p-scroll"); scroller.click()
    from selenium.webdriver.common.keys import Keys
    scroller.send_keys(Keys.ARROW_DOWN); scroller.send_keys(Keys.ARROW_DOWN)
    sel = d.find_elements(By.CSS_SELECTOR, "#packets tbody tr.sel")
    check("keyboard moves the selection", len(sel) == 1)

    # Phone width.
    d.set_window_size(390, 844); time.sleep(0.5)
    width = d.execute_script("return document.documentElement.scrollWidth")
    d.save_screenshot(os.path.join(shots, "dashboard-phone.png"))
    check("phone width: no page-wide horizontal scroll", width <= 400, (width, overflowing(d)))
    d.set_window_size(1280, 800)


def chart_axis(d):
    """What the traffic chart shows: its data attributes, axis labels and caption."""
    return d.execute_script(
        "const c = document.getElementById('chart');"
        "return {mode: c.dataset.mode || '', from: c.dataset.from || '', to: c.dataset.to || '', step: c.dataset.step || '',"
        " labels: JSON.parse(c.dataset.labels || '[]'), text: document.getElementById('chart-axis').textContent,"
        " range: document.getElementById('chart-range').value};")


def check_capture_time(d, name, first, last):
    """The chart opens on [first, last] (epoch seconds) in capture time, labels inside it."""
    import datetime
    try:
        WebDriverWait(d, 15).until(lambda d: chart_axis(d)["mode"] == "capture" and chart_axis(d)["from"] != "")
    except TimeoutException:
        pass
    a = chart_axis(d)
    check(name + ": chart opens on stored packets in capture time", a["range"] == "history" and a["mode"] == "capture", a)
    if a["from"] == "":
        check(name + ": chart has buckets", False, a); return a
    step, lo, hi = float(a["step"]), float(a["from"]), float(a["to"])
    check(name + ": chart spans the first to the last packet", lo <= first < lo + step and hi <= last < hi + step,
          f"chart {lo}..{hi} step {step}, packets {first}..{last}")
    utc = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    # The labels are the first and last bucket's times, both within the packets' span.
    check(name + ": x-axis labels fall inside the capture's time span",
          a["labels"] == [utc(lo).strftime("%H:%M:%S"), utc(hi).strftime("%H:%M:%S")]
          and first - step < lo <= hi <= last, a)
    check(name + ": caption names the capture's day, not today's", utc(first).strftime("%Y-%m-%d") in a["text"], a["text"])
    return a


def chart_total(d):
    """Sum of the chart's buckets (its data table, opened), and the chart's step."""
    d.execute_script("document.getElementById('chart-table-wrap').open = true")
    wait_for(d, lambda: len(d.find_elements(By.CSS_SELECTOR, "#chart-table tbody tr")) > 0, 5)
    return d.execute_script("""
        return Array.from(document.querySelectorAll('#chart-table tbody tr'))
          .reduce((s, tr) => s + Number(tr.lastChild.dataset.value), 0) * Number(document.getElementById('chart').dataset.step);""")


def summary_packets(d):
    """Packets per transport in the summary table."""
    return d.execute_script("""
        const o = {};
        for (const tr of document.querySelectorAll('#summary tbody tr')) {
          const c = Array.from(tr.cells).map(td => td.textContent);
          if (c[0] === 'transport') o[c[1]] = Number(c[2]); }
        return o;""")


def scope(d, id):
    e = d.find_element(By.ID, id)
    return {"text": e.text, "unfiltered": e.get_attribute("data-unfiltered") or "", "counted": e.get_attribute("data-counted"),
            "role": e.get_attribute("role"), "shown": e.is_displayed()}


def test_captures_and_filters(d, base, shots):
    """The sample stored twice: the Capture choice, and the filters in every panel."""
    caps = api(base, "/api/captures")["rows"]
    check("captures: the API lists the two runs of the sample", len(caps) == 2 and all(c["packets_stored"] == 391 for c in caps), caps)
    d.get(base + "/")
    check("captures: dashboard loads", wait_loaded(d) == "true")
    options = [(o.get_attribute("value"), o.text) for o in Select(d.find_element(By.ID, "f-capture")).options]
    check("captures: the selector lists all and both captures",
          [v for v, _ in options] == [""] + [c["id"] for c in caps] and options[0][1] == "all 2 captures"
          and all("sample.pcapng" in t and "391 packets" in t for _, t in options[1:]), options)
    cap_label = d.find_element(By.ID, "capture-label")
    check("captures: 'all' says so, with 782 packets in the header and the summary",
          "all 2 captures" in cap_label.text and cap_label.get_attribute("role") == "status"
          and d.find_element(By.ID, "h-stored").get_attribute("data-value") == "782" and sum(summary_packets(d).values()) == 782,
          (cap_label.text, d.find_element(By.ID, "h-stored").get_attribute("data-value"), summary_packets(d)))

    one = caps[-1]["id"]
    Select(d.find_element(By.ID, "f-capture")).select_by_value(one)
    WebDriverWait(d, 20).until(lambda d: "capture=" + one in d.current_url)
    wait_loaded(d)
    def shows_one():
        return (d.find_element(By.ID, "h-stored").get_attribute("data-value") == "391" and sum(summary_packets(d).values()) == 391
                and d.find_element(By.ID, "p-count").text == "391 rows")
    check("captures: choosing one shows 391 packets in the header, summary and table", wait_for(d, shows_one, 10),
          (d.find_element(By.ID, "h-stored").get_attribute("data-value"), summary_packets(d), d.find_element(By.ID, "p-count").text))
    check("captures: the label names the capture, its file, packets and span",
          ("capture " + one + ": file ") in cap_label.text and "sample.pcapng, 391 packets, " in cap_label.text and " to " in cap_label.text,
          cap_label.text)
    check("captures: the chart counts that capture only", chart_total(d) == 391, chart_total(d))
    d.refresh()
    wait_loaded(d)
    check("captures: the choice survives a reload (URL)", wait_for(d, lambda: Select(d.find_element(By.ID, "f-capture"))
          .first_selected_option.get_attribute("value") == one and shows_one(), 10), d.current_url)
    d.save_screenshot(os.path.join(shots, "dashboard-capture.png"))

    # An address: the summary counts flows, talkers follow, the chart says it is not filtered.
    q = f"capture={one}&ip=10.77.0.2"
    d.get(base + "/?" + q)
    wait_loaded(d)
    time.sleep(0.5)
    want = {label(e["name"]): e["packets"] for e in api(base, "/api/protocol_summary?" + q)["transports"]}
    s = scope(d, "summary-scope")
    check("filters: ip reaches the summary (flows), as the API counts it",
          summary_packets(d) == want and 0 < sum(want.values()) < 391 and s["counted"] == "flows" and "flows" in s["text"]
          and s["shown"], (summary_packets(d), want, s))
    talkers = api(base, "/api/talkers?limit=15&" + q)
    got = d.execute_script("return Array.from(document.querySelectorAll('#hosts tbody tr')).map(tr => [tr.cells[0].dataset.address || tr.cells[0].textContent, Number(tr.cells[1].textContent)])")
    check("filters: ip reaches Top talkers, as the API lists them",
          got == [[h["address"], h["packets"]] for h in talkers["hosts"]] and "10.77.0.2" in [h[0] for h in got]
          and len(got) < len(api(base, f"/api/talkers?limit=15&capture={one}")["hosts"]), (got, talkers["hosts"]))
    c = scope(d, "chart-scope")
    all_packets = sum(p["packets"] for p in api(base, f"/api/timeseries?step=1s&capture={one}")["points"])
    check("filters: the chart says it is not filtered by IP, and shows the capture's traffic",
          c["unfiltered"] == "IP" and "not filtered by IP" in c["text"] and c["role"] == "status" and c["shown"]
          and chart_total(d) == all_packets == 391, (c, chart_total(d), all_packets))
    h = scope(d, "h-scope")
    check("filters: the header says what it is not filtered by", h["unfiltered"] == "IP" and h["shown"] and h["role"] == "status", h)
    a = scope(d, "alerts-scope")
    check("filters: alerts say they are not filtered by IP", a["unfiltered"] == "IP" and "not filtered by IP" in a["text"], a)
    d.save_screenshot(os.path.join(shots, "dashboard-ip-filter.png"))

    # Transport: the rollups answer it, so every panel follows and none is labelled.
    q = f"capture={one}&transport=udp"
    d.get(base + "/?" + q)
    wait_loaded(d)
    time.sleep(0.5)
    udp = sum(p["packets"] for p in api(base, "/api/timeseries?step=1s&" + q)["points"])
    check("filters: transport reaches the chart, as the API's time series",
          chart_total(d) == udp and 0 < udp < 391 and scope(d, "chart-scope")["text"] == "", (chart_total(d), udp, scope(d, "chart-scope")))
    check("filters: transport reaches the summary, counted per packet",
          summary_packets(d) == {"UDP": udp} and scope(d, "summary-scope")["counted"] == "packets"
          and scope(d, "summary-scope")["text"] == "", (summary_packets(d), udp))
    check("filters: the header says it is not filtered by transport", scope(d, "h-scope")["unfiltered"] == "transport", scope(d, "h-scope"))


def test_file_timeline(d, base, shots):
    """sniff -r FILE --serve: the chart and the time filters in the file's own time."""
    d.get(base + "/")
    check("file: dashboard loads", wait_loaded(d) == "true")
    stats = api(base, "/api/stats")
    cap = api(base, "/api/captures")["rows"][0]
    first, last = cap["first_packet"], cap["last_packet"]
    check("file: /api/stats gives the file's span and no wall-clock capture",
          stats["live_capture"] is False and abs(stats["first_packet"] - first) < 1e-6 and abs(stats["last_packet"] - last) < 1e-6,
          stats)
    a = check_capture_time(d, "file", first, last)
    check("file: 1 s buckets for a capture of a few seconds", a["step"] == "1" and last - first < 60, a)
    m = d.find_element(By.ID, "f-from").get_attribute("data-min")
    check("file: the From filter offers the capture's time", m[:10] == time.strftime("%Y-%m-%d", time.gmtime(first)), m)
    d.save_screenshot(os.path.join(shots, "dashboard-file.png"))


def test_info_column(d, base):
    # The sample capture: every packet has an Info line, shown as text in the last column.
    d.get(base + "/")
    check("dashboard loads over the sample capture", wait_loaded(d) == "true")
    time.sleep(0.5)
    page = api(base, "/api/packets?limit=30")["rows"]
    rows = table_rows(d, 30)
    infos = [r[12] for r in rows]
    check("Info column is filled for the sample's rows", len(rows) >= 20 and all(i.strip() for i in infos),
          f"{sum(1 for i in infos if not i.strip())} empty of {len(rows)}")
    check("Info column equals the API's info", infos == [p.get("info", "") for p in page[:len(rows)]],
          f"\n table {infos[:3]}\n api   {[p.get('info') for p in page[:3]]}")


def test_flow_details(d, base):
    # The sample's TLS flow to api.sniff.test: a click on its row shows every field of
    # the flow, the handshake's included, equal to the API's.
    flows = api(base, "/api/flows?tls=api.sniff.test")["rows"]
    check("/api/flows?tls= finds the sample's flow to api.sniff.test", len(flows) == 1, len(flows))
    if not flows:
        return
    flow = flows[0]
    d.get(base + "/")
    wait_loaded(d)
    time.sleep(0.5)
    # The table refreshes every second beside a capture: find and click in one script.
    clicked = d.execute_script(
        "const tr = Array.from(document.querySelectorAll('#flows tbody tr')).find(tr =>"
        " tr.cells[6].textContent === 'TLS' && tr.cells[11].textContent === 'api.sniff.test');"
        "if (tr) tr.click(); return !!tr;")
    check("flows table lists the TLS flow to api.sniff.test", clicked)
    if not clicked:
        return
    shown = d.execute_script(
        "return Object.fromEntries(Array.from(document.querySelectorAll('#detail-body tr'))"
        ".map(tr => [tr.cells[0].textContent, tr.cells[1].textContent]))")
    for k in ["server_name", "version", "cipher", "ja3", "ja3s", "ja4"]:
        check(f"flow details show {k} as the API does", k in flow and shown.get(k) == flow[k], (shown.get(k), flow.get(k)))
    # The flow's ssl.log record (/api/tls?flow=) shows below its fields.
    tls = api(base, "/api/tls?flow=" + flow["uid"])["rows"]
    check("/api/tls?flow= has the flow's handshake", len(tls) == 1 and tls[0]["server_name"] == "api.sniff.test", tls)
    script = ("const t = document.querySelector('#detail-logs table[data-log=tls]'); return t && Object.fromEntries("
              "Array.from(t.querySelectorAll('tr')).map(tr => [tr.cells[0].textContent, tr.cells[1].textContent]))")
    wait_for(d, lambda: d.execute_script(script))
    logged = d.execute_script(script)
    check("flow details list the ssl.log record as the API does", bool(logged) and bool(tls)
          and all(logged.get(k) == tls[0][k] for k in ["server_name", "version", "cipher", "ja3", "ja3s", "ja4"]), logged)
    d.find_element(By.ID, "detail-close").click()


def test_certificates(d, base):
    """Issue 16 §3: the server certificate of a TLS 1.2 flow (Tests/Fixtures/tls-cert.pcap)
    is served by /api/tls (subject, issuer, validity) and listed in the flow details;
    TLS 1.3 flows have none."""
    subject = "CN=cert.sniff.test,OU=Tests+UID=42,O=Sniff\\+Partner\\, Inc.,L=Zürich\\, Süd,ST=Baden-Württemberg,C=DE"
    issuer = 'CN=Sniff Root \\"R1\\",O=Sniff Test CA,C=US'
    rows = api(base, "/api/tls?limit=100")["rows"]
    rsa = [r for r in rows if (r.get("subject") or "").startswith("CN=cert.sniff.test")]
    check("/api/tls has the RSA certificate's subject and issuer", len(rsa) == 1 and rsa[0]["subject"] == subject
          and rsa[0]["issuer"] == issuer, rsa)
    if not rsa:
        return
    before, after = rsa[0].get("cert_not_valid_before"), rsa[0].get("cert_not_valid_after")
    check("/api/tls has its validity (825 days, in seconds)", isinstance(before, int) and isinstance(after, int)
          and after - before == 825 * 86400, (before, after))
    tls13 = [r for r in rows if r.get("version") == "TLSv13"]
    check("TLS 1.3 rows have no certificate", len(tls13) == 1 and tls13[0].get("subject") is None, tls13)
    d.get(base + "/")
    wait_loaded(d)
    time.sleep(0.5)
    script = ("const t = document.querySelector('#detail-logs table[data-log=tls]'); return t && Object.fromEntries("
              "Array.from(t.querySelectorAll('tr')).map(tr => [tr.cells[0].textContent, tr.cells[1].textContent]))")
    logged = {}
    # Two flows go to cert.sniff.test (TLS 1.2 and 1.3): open each until the certificate shows.
    for i in range(2):
        found = d.execute_script(
            "const trs = Array.from(document.querySelectorAll('#flows tbody tr')).filter(tr =>"
            " tr.cells[11].textContent === 'cert.sniff.test'); if (trs[arguments[0]]) trs[arguments[0]].click();"
            " return trs.length;", i)
        if found <= i:
            break
        wait_for(d, lambda: d.execute_script(script))
        logged = d.execute_script(script) or {}
        d.find_element(By.ID, "detail-close").click()
        if logged.get("subject"):
            break
    year = str(time.gmtime(after).tm_year)
    check("flow details list the certificate's subject, issuer and validity (as a date)",
          logged.get("subject") == subject and logged.get("issuer") == issuer
          and logged.get("cert_not_valid_after", "").startswith(year + "-"), logged)


def test_tunnels(d, base, shots):
    """Issue 16 §2: flows carried in tunnels (the VXLAN and GRE fixtures) are served with
    their tunnel, found with tunnel=, marked in the flows table's Info cell, listed in the
    flow details, and counted under their own application in the protocol summary."""
    carried = api(base, "/api/flows?tunnel=any&limit=1000")["rows"]
    every = api(base, "/api/flows?limit=1000")["rows"]
    uids = {r["uid"] for r in every}
    check("tunnels: /api/flows?tunnel=any lists the carried flows, each with its kind and parents in the database",
          len(carried) == 6 and all(r.get("tunnel") in ("vxlan", "gre") and r.get("tunnel_parents")
                                    and set(r["tunnel_parents"]) <= uids for r in carried), carried[:2])
    vxlan = api(base, "/api/flows?tunnel=vxlan")["rows"]
    check("tunnels: tunnel=vxlan narrows to the VXLAN fixture's three inner flows, VNI 42",
          len(vxlan) == 3 and all(r.get("tunnel_id") == 42 for r in vxlan), vxlan)
    none = api(base, "/api/flows?tunnel=none&limit=1000")["rows"]
    check("tunnels: tunnel=none is the rest", len(none) + len(carried) == len(every) and not any("tunnel" in r for r in none))
    try:
        urllib.request.urlopen(base + "/api/flows?tunnel=mpls", timeout=30)
        bad = None
    except urllib.error.HTTPError as e:
        bad = e.code
    check("tunnels: an unknown tunnel kind is a 400", bad == 400, bad)
    tcp = next((r for r in vxlan if r["proto"] == "tcp"), None)
    check("tunnels: the VXLAN TCP flow has both outer flows as parents (Zeek's set)",
          tcp is not None and len(tcp["tunnel_parents"]) == 2, tcp)
    if tcp is None:
        return
    d.get(base + "/")
    wait_loaded(d)
    time.sleep(0.5)
    infos = d.execute_script("return Array.from(document.querySelectorAll('#flows tbody tr')).map(tr => tr.cells[11].textContent)")
    check("tunnels: the flows table marks each carried flow in its Info cell",
          sum(1 for t in infos if t.startswith("in vxlan 42")) == 3 and sum(1 for t in infos if t.startswith("in gre 7001")) == 3, infos)
    # The flows table's Tunnel choice asks /api/flows with tunnel=.
    rows_js = "return Array.from(document.querySelectorAll('#flows tbody tr')).map(tr => tr.cells[11].textContent)"
    for kind, want in [("vxlan", lambda t: t.startswith("in vxlan 42")), ("none", lambda t: not t.startswith("in "))]:
        Select(d.find_element(By.ID, "flows-tunnel")).select_by_value(kind)
        n = len(vxlan) if kind == "vxlan" else len(none)
        wait_for(d, lambda: len(d.execute_script(rows_js)) == n)
        shown = d.execute_script(rows_js)
        check(f"tunnels: the flows table's Tunnel choice {kind} shows the API's {n} flows", len(shown) == n
              and all(want(t) for t in shown), shown)
    Select(d.find_element(By.ID, "flows-tunnel")).select_by_value("")
    wait_for(d, lambda: len(d.execute_script(rows_js)) == len(infos))
    clicked = d.execute_script(
        "const tr = Array.from(document.querySelectorAll('#flows tbody tr')).find(tr =>"
        " tr.cells[5].textContent === 'TCP' && tr.cells[11].textContent.startsWith('in vxlan'));"
        "if (tr) tr.click(); return !!tr;")
    check("tunnels: the VXLAN TCP flow is in the flows table", clicked)
    if clicked:
        shown = d.execute_script(
            "return Object.fromEntries(Array.from(document.querySelectorAll('#detail-body tr'))"
            ".map(tr => [tr.cells[0].textContent, tr.cells[1].textContent]))")
        check("tunnels: flow details show tunnel, tunnel_id and tunnel_parents as the API does",
              shown.get("tunnel") == "vxlan" and shown.get("tunnel_id") == "42"
              and json.loads(shown.get("tunnel_parents") or "null") == tcp["tunnel_parents"], shown)
        d.save_screenshot(os.path.join(shots, "tunnel-flow-details.png"))
        d.find_element(By.ID, "detail-close").click()
    # The summary counts each carried flow under its own application (here: unknown ports,
    # ICMP), the outer ones under VXLAN and GRE; the table equals the API.
    summary = api(base, "/api/protocol_summary")
    apps = {e["name"]: e["flows"] for e in summary["apps"]}
    carried_apps = {}
    for r in carried:
        carried_apps[r["app"]] = carried_apps.get(r["app"], 0) + 1
    outer = [r for r in none if r["app"] in ("VXLAN", "GRE")]
    check("tunnels: /api/protocol_summary counts the carried flows under their own apps, the outer under the tunnel's",
          all(apps.get(a, 0) >= n for a, n in carried_apps.items()) and apps.get("VXLAN", 0) + apps.get("GRE", 0) == len(outer)
          and sum(apps.values()) == len(every), (apps, carried_apps))
    cells = [[c.text for c in r.find_elements(By.TAG_NAME, "td")] for r in d.find_elements(By.CSS_SELECTOR, "#summary tbody tr")]
    shown_apps = {c[1]: c[4] for c in cells if c and c[0] == "app"}
    check("tunnels: the summary table's flows per app equal the API", shown_apps == {a: str(n) for a, n in apps.items()},
          (shown_apps, apps))


def test_host_names(d, base, shots):
    # Issue 18: the sample's DNS answers name addresses; the tables show the names with
    # the address on hover, and a click on an address opens its host page.
    named = [h for h in api(base, "/api/hosts?limit=1000")["rows"] if h.get("name")]
    check("/api/hosts names addresses from the sample's DNS answers", named, len(named))
    if not named:
        return
    names = {h["address"]: h["name"] for h in named}
    d.get(base + "/")
    wait_loaded(d)
    ok = wait_for(d, lambda: d.execute_script(
        "return Array.from(document.querySelectorAll('#flows tbody td.addr, #talkers tbody td.addr'))"
        ".some(c => c.textContent.endsWith(arguments[0][c.dataset.address] || '\u0000'))", names), 10)
    shown = d.execute_script(
        "return Array.from(document.querySelectorAll('#flows tbody td.addr, #talkers tbody td.addr'))"
        ".map(c => [c.dataset.address, c.textContent, c.title])")
    check("tables show names beside addresses (flows, talkers)", ok, shown[:6])
    wrong = [c for c in shown if c[0] in names and not (c[1].endswith(names[c[0]]) and c[0] in c[2])]
    check("every named address shows its name, the address on hover", not wrong, wrong[:3])
    unnamed = [c for c in shown if c[0] not in names and c[1] != c[0]]
    check("addresses without a name show the address", not unnamed, unnamed[:3])
    address = next(c[0] for c in shown if c[0] in names)
    d.execute_script("const c = Array.from(document.querySelectorAll('#flows tbody td.addr'))"
                     ".find(c => c.dataset.address === arguments[0]) || document.querySelector('td.addr');"
                     "c.click();", address)
    opened = wait_for(d, lambda: d.execute_script("return document.getElementById('host').open"), 5)
    check("a click on an address opens its host page", opened)
    if not opened:
        return
    clicked = d.execute_script("return document.getElementById('host').dataset.address")
    page = api(base, "/api/hosts/" + clicked)
    rows = d.execute_script("return Object.fromEntries(Array.from(document.querySelectorAll('#host-body tr'))"
                            ".map(tr => [tr.cells[0].textContent, tr.cells[1].textContent]))")
    want_name = (page.get("host") or {}).get("name")
    check("the host page shows the address, its names and flows as the API",
          rows.get("address") == clicked and (not want_name or want_name in rows.get("names", ""))
          and rows.get("flows") == str(page["flows"]), (rows, page))
    peers = d.execute_script("return Array.from(document.querySelectorAll('#host-peers li')).map(li => li.textContent)")
    check("the host page lists its top peers", len(peers) == len(page["peers"]) and len(peers) > 0, peers)
    d.save_screenshot(os.path.join(shots, "dashboard-host.png"))
    d.find_element(By.ID, "host-close").click()


def ptr_database(sniff, work):
    """The sample stored with --resolve, the system resolver being scripts/gen/ptr-resolver.py
    in a network and mount namespace of its own (as ResolveCLITests): 10.77.0.1, which no
    DNS answer names, gets client.sniff.test. None when the namespace cannot be made."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        return None
    d = os.path.join(work, "ptr"); os.makedirs(d)
    with open(os.path.join(d, "names.json"), "w") as f:
        json.dump({"10.77.0.1": "client.sniff.test"}, f)
    with open(os.path.join(d, "resolv.conf"), "w") as f:
        f.write("nameserver 127.0.0.1\noptions timeout:3 attempts:1\n")
    script = os.path.join(d, "run.sh")
    with open(script, "w") as f:
        f.write(f"""set -e
ip link set lo up
mount --bind "{d}/resolv.conf" /etc/resolv.conf
python3 "{ROOT}/scripts/gen/ptr-resolver.py" serve "{d}/names.json" "{d}/queries.log" "{d}/ready" 0 &
server=$!
trap 'kill $server' EXIT
i=0
while [ ! -e "{d}/ready" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
"$@"
""")
    db = os.path.join(work, "ptr.db")
    subprocess.run(["unshare", "--mount", "--net", "--fork", "/bin/sh", script, sniff, "-r",
                    os.path.join(ROOT, "samples/sample.pcapng"), "--resolve", "-q", "--db", "sqlite:" + db],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work, timeout=120)
    return db


def host_page(d, address):
    """Clicks the address in the flows table; the host page's rows, or {} when it did not open."""
    d.execute_script("Array.from(document.querySelectorAll('#flows tbody td.addr')).find(c => c.dataset.address === arguments[0]).click()",
                     address)
    if not wait_for(d, lambda: d.execute_script("return document.getElementById('host').open"), 5):
        return {}
    rows = d.execute_script("return Object.fromEntries(Array.from(document.querySelectorAll('#host-body tr'))"
                            ".map(tr => [tr.cells[0].textContent, tr.cells[1].textContent]))")
    d.find_element(By.ID, "host-close").click()
    return rows


def test_ptr_names(d, base, shots):
    """Issue 18: a name from a reverse lookup (--resolve) shows on the host page with its
    source, beside a name from a DNS answer."""
    hosts = {h["address"]: h for h in api(base, "/api/hosts?limit=1000")["rows"]}
    client = hosts.get("10.77.0.1", {}).get("names", [])
    server = hosts.get("10.77.0.2", {}).get("names", [])
    check("/api/hosts: the PTR name with source ptr, the mDNS name with source dns",
          [(n["name"], n["source"]) for n in client] == [("client.sniff.test", "ptr")]
          and ("sniffer.local", "dns") in [(n["name"], n["source"]) for n in server], (client, server))
    d.get(base + "/")
    wait_loaded(d)
    wait_for(d, lambda: d.execute_script("return Array.from(document.querySelectorAll('#flows tbody td.addr'))"
                                         ".some(c => c.dataset.address === '10.77.0.1')"), 10)
    page = host_page(d, "10.77.0.1")
    check("host page: the PTR name marked as a reverse lookup",
          page.get("names", "").startswith("client.sniff.test (reverse lookup, first "), page)
    page = host_page(d, "10.77.0.2")
    check("host page: the mDNS name marked as a DNS answer", "sniffer.local (DNS answer, first " in page.get("names", ""), page)


GEO_CAPTURES = ["dns_tcp.pcap", "tcp-handshake-nano.pcap", "icmp-rfc8335.pcap"]


def page_human(d, numbers):
    """The numbers as the page writes bytes (chart.js's human), formatted by the page itself."""
    return d.execute_async_script("const done = arguments[arguments.length - 1], n = arguments[0];"
                                  "import('/ui/chart.js').then(m => done(n.map(m.human)))", numbers)


def geo_rows(d, table):
    """The countries or AS panel: [name title, label, bytes, flows, bar share] per row."""
    return d.execute_script("""
        return Array.from(document.querySelectorAll('#' + arguments[0] + ' tbody tr')).map(tr =>
          [tr.cells[0].title, tr.cells[0].textContent, tr.cells[1].textContent, tr.cells[2].textContent,
           Number(tr.cells[3].dataset.share), tr.cells[3].firstChild.getBoundingClientRect().width])""", table)


def test_geo(d, base, shots):
    """Issue 18: countries and AS panels with bars, flags in the flows' country column and
    the host page's country and AS, from flows stored with test GeoIP databases."""
    d.set_window_size(1280, 800)
    d.get(base + "/")
    wait_loaded(d)
    want = api(base, "/api/countries?limit=10")["rows"]
    check("/api/countries: four countries from the test databases", sorted(r["country"] for r in want) == ["CA", "IE", "NL", "US"], want)
    ok = wait_for(d, lambda: len(geo_rows(d, "countries")) == len(want), 8)
    rows = geo_rows(d, "countries")
    human = page_human(d, [w["bytes"] for w in want])
    check("countries panel: one row per country in the API's order, bytes and flows as the API",
          ok and [r[0] for r in rows] == [w["country"] for w in want]
          and [(r[2], r[3]) for r in rows] == [(h, str(w["flows"])) for h, w in zip(human, want)], (rows, want))
    check("countries panel: flag and name (NL as Netherlands)",
          any(r[0] == "NL" and r[1] == "\U0001F1F3\U0001F1F1 Netherlands" for r in rows), [r[1] for r in rows])
    biggest = max(w["bytes"] for w in want)
    check("countries panel: each bar's length is its bytes against the largest",
          all(abs(r[4] - w["bytes"] / biggest) < 1e-6 for r, w in zip(rows, want)) and rows[0][5] > 0
          and all(r[5] <= rows[0][5] + 0.5 for r in rows), [(r[4], r[5]) for r in rows])
    asns = api(base, "/api/asns?limit=10")["rows"]
    arows = geo_rows(d, "asns")
    check("AS panel: AS numbers and organisations as the API, bars drawn",
          [r[1] for r in arows] == ["AS%d %s" % (a["asn"], a["org"]) if a.get("org") else "AS%d" % a["asn"] for a in asns]
          and all(r[5] > 0 for r in arows), (arows, asns))
    check("AS panel: an organisation's markup shows as text", any(r[1] == "AS64504 Sniff Test <b>ISP</b>" for r in arows)
          and d.execute_script("return document.querySelectorAll('#asns b').length") == 0, [r[1] for r in arows])
    flags = d.execute_script("const i = Array.from(document.querySelectorAll('#flows thead th')).findIndex(th => th.textContent === 'Country');"
                             "return Array.from(document.querySelectorAll('#flows tbody tr')).map(tr => tr.cells[i].textContent)")
    check("flows table: the country column shows flag and code", "\U0001F1E8\U0001F1E6 CA" in flags and "\U0001F1FA\U0001F1F8 US" in flags, flags)
    d.execute_script("document.getElementById('countries-h').scrollIntoView()")
    d.save_screenshot(os.path.join(shots, "dashboard-countries.png"))
    # A host page with its country and AS.
    d.execute_script("Array.from(document.querySelectorAll('#flows tbody td.addr')).find(c => c.dataset.address === '209.87.249.18').click()")
    opened = wait_for(d, lambda: d.execute_script("return document.getElementById('host').open"), 5)
    host = d.execute_script("return Object.fromEntries(Array.from(document.querySelectorAll('#host-body tr'))"
                            ".map(tr => [tr.cells[0].textContent, tr.cells[1].textContent]))") if opened else {}
    check("host page: country with its flag and the AS with its organisation",
          host.get("country") == "\U0001F1E8\U0001F1E6 CA" and host.get("ASN") == "AS64500 Sniff Test Network", host)
    check("host page: a public address has no MAC (its frames carry a router's)", host.get("MAC") == "", host)
    if opened: d.find_element(By.ID, "host-close").click()
    # A local address's MAC and its vendor (ieee-data), on its page and in its hover text.
    if os.path.exists("/usr/share/ieee-data/oui.csv"):
        d.execute_script("Array.from(document.querySelectorAll('#flows tbody td.addr')).find(c => c.dataset.address === '192.168.1.11').click()")
        opened = wait_for(d, lambda: d.execute_script("return document.getElementById('host').open"), 5)
        host = d.execute_script("return Object.fromEntries(Array.from(document.querySelectorAll('#host-body tr'))"
                                ".map(tr => [tr.cells[0].textContent, tr.cells[1].textContent]))") if opened else {}
        check("host page: a local address's MAC with its vendor", host.get("MAC") == "00:11:22:33:44:55 \u00b7 CIMSYS Inc", host)
        if opened: d.find_element(By.ID, "host-close").click()
        title = d.execute_script("return Array.from(document.querySelectorAll('#flows tbody td.addr')).find(c => c.dataset.address === '192.168.1.11').title")
        check("an address's hover text names its vendor", title.endswith("\u00b7 CIMSYS Inc"), title)
    else:
        print("skip: MAC vendors need ieee-data (/usr/share/ieee-data)")
    # The filter reaches both panels as it reaches talkers.
    d.get(base + "/?transport=tcp")
    wait_loaded(d)
    ok = wait_for(d, lambda: sorted(r[0] for r in geo_rows(d, "countries")) == ["CA", "IE", "NL"], 8)
    check("countries panel: transport=tcp leaves CA, IE and NL (the ICMP flows were US)", ok, geo_rows(d, "countries"))
    # A phone: the panels fit.
    d.set_window_size(390, 844)
    d.get(base + "/")
    wait_loaded(d)
    wait_for(d, lambda: len(geo_rows(d, "asns")) == len(asns), 8)
    width = d.execute_script("return document.documentElement.scrollWidth")
    check("countries and AS panels on a phone: no page-wide horizontal scroll", width <= 400, (width, overflowing(d)))
    d.execute_script("document.getElementById('asns-h').scrollIntoView()")
    d.save_screenshot(os.path.join(shots, "dashboard-asns-phone.png"))
    d.set_window_size(1280, 800)


def test_no_geo(d, base):
    """Without a database that answers, both panels say so instead of staying blank."""
    d.get(base + "/")
    wait_loaded(d)
    ok = wait_for(d, lambda: "no GeoIP database answered" in d.find_element(By.ID, "countries-note").text, 8)
    check("processes panel over a file says why it is empty",
          wait_for(d, lambda: "captured live on this machine" in d.find_element(By.ID, "procs-note").text, 8),
          d.find_element(By.ID, "procs-note").text)
    check("countries and AS panels without GeoIP data say why they are empty", ok
          and "no GeoIP database answered" in d.find_element(By.ID, "asns-note").text
          and not geo_rows(d, "countries"), d.find_element(By.ID, "countries-note").text)


def test_xss(d, base, shots):
    d.get(base + "/?app=DNS")
    wait_loaded(d)
    time.sleep(0.5)
    ok, text = no_alert(d)
    check("XSS capture: no alert dialog", ok, text)
    texts = d.execute_script("return Array.from(document.querySelectorAll('#packets tbody td, #flows tbody td')).map(td => td.textContent)")
    d.get(base + "/?app=HTTP")
    wait_loaded(d)
    time.sleep(0.5)
    ok, text = no_alert(d)
    check("XSS capture (HTTP hosts): no alert dialog", ok, text)
    texts += d.execute_script("return Array.from(document.querySelectorAll('#packets tbody td, #flows tbody td')).map(td => td.textContent)")
    # An HTTP flow's details list its http.log records: the Host with markup is text.
    clicked = d.execute_script(
        "const tr = Array.from(document.querySelectorAll('#flows tbody tr')).find(tr => tr.cells[6].textContent === 'HTTP');"
        "if (tr) tr.click(); return !!tr;")
    check("XSS capture: an HTTP flow to open", clicked)
    script = ("return Array.from(document.querySelectorAll('#detail-logs table[data-log=http] tr'))"
              ".filter(tr => tr.cells[0].textContent === 'host').map(tr => tr.cells[1].textContent)")
    wait_for(d, lambda: len(d.execute_script(script)) > 0)
    hosts = d.execute_script(script)
    check("XSS capture: the http.log records show in the flow's details", bool(hosts), hosts)
    texts += hosts or []
    ok, text = no_alert(d)
    check("XSS capture (flow's http.log records): no alert dialog", ok, text)
    injected = d.execute_script("return document.querySelectorAll('main img, main script, #detail img, #detail script').length")
    check("XSS capture: no element injected", injected == 0, injected)
    if clicked:
        d.find_element(By.ID, "detail-close").click()
    check("XSS capture: markup shows as text", any("<img src=x onerror=alert(1)>" in t for t in texts) and any("<script>" in t for t in texts),
          [t for t in texts if "<" in t][:4])
    d.execute_script("document.getElementById('packets-h').scrollIntoView()")
    d.save_screenshot(os.path.join(shots, "dashboard-xss.png"))


def test_live(d, base, shots):
    d.get(base + "/")
    wait_loaded(d)
    WebDriverWait(d, 20).until(lambda d: "live" in d.find_element(By.ID, "conn").text)
    check("live: WebSocket connected", True)
    stop = time.time() + 8
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    while time.time() < stop:
        s.sendto(b"sniff-live-test" * 4, ("127.0.0.1", LIVE_PORT)); time.sleep(0.01)
    s.close()
    count = d.find_element(By.ID, "p-count").text
    rows = table_rows(d, 5)
    check("live: rows arrive over the WebSocket", any(r[4] == str(LIVE_PORT) for r in rows), rows[:2])
    check("live: header shows packets/s", d.find_element(By.ID, "h-pps").text not in ("", "0"))
    check("live: chart drawn from live stats", canvas_pixels(d, "chart") > 500)
    a = chart_axis(d); now = time.time()
    check("live: chart shows the last 5 minutes of wall clock", a["range"] == "live" and a["mode"] == "live" and a["from"] != ""
          and now - 330 <= float(a["from"]) and now - 30 <= float(a["to"]) <= now + 5, a)
    d.save_screenshot(os.path.join(shots, "dashboard-live.png"))


def click_center(d, css):
    """Clicks an element scrolled to the middle of the window (not under the sticky header)."""
    e = d.find_element(By.CSS_SELECTOR, css)
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", e)
    e.click()


def summary_cell(d, kind, name):
    """Packets of one row of the protocol summary table, or None."""
    return d.execute_script("""
        for (const tr of document.querySelectorAll('#summary tbody tr')) {
          const c = Array.from(tr.cells).map(td => td.textContent);
          if (c[0] === arguments[0] && c[1] === arguments[1]) return Number(c[2]); }
        return null;""", kind, name)


def talker_packets(d, address, port):
    return d.execute_script("""
        for (const tr of document.querySelectorAll('#talkers tbody tr')) {
          const c = Array.from(tr.cells).map(td => td.dataset.address || td.textContent);
          if (c[0] === arguments[0] && c[1] === String(arguments[1])) return Number(c[3]); }
        return null;""", address, port)


def open_flow_row(d, sport):
    return d.execute_script("""
        for (const tr of document.querySelectorAll('#flows tbody tr')) {
          const c = Array.from(tr.cells).map(td => td.textContent);
          if (c[2] === String(arguments[0])) return c; }
        return null;""", sport)


def send_steady(port, s, rate, seconds):
    """A bounded generator: `rate` UDP packets/s from the bound socket s for `seconds`,
    paced on an absolute schedule so that every second gets the same count. Returns
    the number sent and the time of the last packet."""
    start = time.time(); sent = 0; total = int(rate * seconds)
    while sent < total:
        due = min(total, int((time.time() - start) * rate))
        while sent < due:
            s.sendto(b"sniff-steady" * 4, ("127.0.0.1", port)); sent += 1
        time.sleep(0.005)
    s.close()
    return sent, time.time()


def test_live_panels(d, base, shots):
    """Item 1 and 4: every panel follows a live capture within 2 s; the header's and the
    chart's per-second rates equal /api/timeseries."""
    d.get(base + "/")
    wait_loaded(d)
    WebDriverWait(d, 20).until(lambda d: "live" in d.find_element(By.ID, "conn").text)
    time.sleep(2.5)
    base_udp = sum(e["packets"] for e in api(base, "/api/protocol_summary")["transports"] if e["name"] == "UDP")
    check("live panels: summary shows what is stored before the burst", wait_for(d, lambda: (summary_cell(d, "transport", "UDP") or 0) == base_udp, 5),
          (summary_cell(d, "transport", "UDP"), base_udp))
    import threading
    result = {}
    src = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    src.bind(("127.0.0.1", 0))
    sport = src.getsockname()[1]
    t = threading.Thread(target=lambda: result.update(zip(("sent", "end"), send_steady(LIVE_PORT, src, 1000, 6))))
    t.start()
    time.sleep(3.5)
    hdr = d.execute_script("const p = document.getElementById('h-pps'), b = document.getElementById('h-bps');"
                           "return [p.dataset.ts, p.dataset.value, b.dataset.value, p.textContent, b.textContent];")
    row = open_flow_row(d, sport)
    check("live panels: a flow in progress is in Flows while it runs", row is not None and "in progress" in row[7], row)
    check("live panels: its endpoint is in Top talkers while it runs", (talker_packets(d, "127.0.0.1", sport) or 0) > 1000,
          talker_packets(d, "127.0.0.1", sport))
    check("live panels: the summary grows while the capture runs", (summary_cell(d, "transport", "UDP") or 0) > base_udp + 1000,
          summary_cell(d, "transport", "UDP"))
    t.join()
    n, end = result["sent"], result["end"]
    want = base_udp + n
    ok = wait_for(d, lambda: summary_cell(d, "transport", "UDP") == want and talker_packets(d, "127.0.0.1", sport) == n, 10)
    lag = time.time() - end
    check(f"live panels: summary and talkers count all {n} packets {lag:.2f} s after the last (at most 2 s)", ok and lag <= 2.0,
          (summary_cell(d, "transport", "UDP"), want, talker_packets(d, "127.0.0.1", sport), n))
    hosts = d.execute_script("return Array.from(document.querySelectorAll('#hosts tbody tr')).map(tr => tr.cells[0].dataset.address || tr.cells[0].textContent)")
    check("live panels: hosts list the capture's host", "127.0.0.1" in hosts, hosts)
    d.save_screenshot(os.path.join(shots, "dashboard-live-panels.png"))

    # Rates: the chart's table and the header against /api/timeseries, second by second.
    time.sleep(1.5)
    click_center(d, "#chart-table-wrap summary")
    lo, hi = int(end) - 5, int(end) - 1
    ts = api(base, f"/api/timeseries?step=1s&by=transport&from={lo}&to={hi + 1}")["points"]
    api_pps = {}
    api_bits = {}
    for p in ts:
        api_pps[int(p["ts"])] = api_pps.get(int(p["ts"]), 0) + p["packets"]
        api_bits[int(p["ts"])] = api_bits.get(int(p["ts"]), 0) + p["bytes"] * 8
    def table():
        return d.execute_script("""
            const o = {}; for (const tr of document.querySelectorAll('#chart-table tbody tr'))
              o[tr.dataset.ts] = Number(tr.lastChild.dataset.value); return o;""")
    seconds = list(range(lo, hi + 1))
    # The table is drawn on the disclosure's toggle event, which the browser queues.
    wait_for(d, lambda: all(str(s) in table() for s in seconds), 5)
    got = table()
    check("rates: the chart's packets/s equal /api/timeseries for each whole second",
          all(got.get(str(s)) == api_pps.get(s) for s in seconds), [(s, got.get(str(s)), api_pps.get(s)) for s in seconds])
    inner = [api_pps.get(s, 0) for s in seconds]
    check("rates: a steady 1000 packets/s reads steady (no saw-tooth)", min(inner) >= 970 and max(inner) <= 1030, inner)
    Select(d.find_element(By.ID, "chart-metric")).select_by_value("bits")
    time.sleep(0.3)
    got = table()
    check("rates: bits/s equal 8 × the API's bytes", all(got.get(str(s)) == api_bits.get(s) for s in seconds),
          [(s, got.get(str(s)), api_bits.get(s)) for s in seconds])
    head = d.find_element(By.CSS_SELECTOR, "#chart-table thead").text
    check("rates: units in the table and the axis", "bit/s" in head and "bit/s" in d.find_element(By.ID, "chart-axis").text, head)
    ticks = json.loads(d.find_element(By.ID, "chart").get_attribute("data-ticks") or "[]")
    import math
    def round_ticks(t):
        # Evenly spaced from 0 by 1, 2 or 5 times a power of ten.
        if len(t) < 2 or t[0] != 0: return False
        step = t[1] - t[0]
        m = step / 10 ** math.floor(math.log10(step))
        return any(abs(m - k) < 1e-9 for k in (1, 2, 5)) and all(abs(b - a - step) < 1e-9 * step for a, b in zip(t, t[1:]))
    check("chart: round y ticks", round_ticks(ticks), ticks)
    tl = json.loads(d.find_element(By.ID, "chart").get_attribute("data-tick-labels") or "[]")
    check("chart: y tick labels are distinct, with units", len(set(tl)) == len(tl) == len(ticks) and all(t.endswith("bit/s") for t in tl), tl)
    Select(d.find_element(By.ID, "chart-metric")).select_by_value("packets")
    # The header during the burst: the second it showed, against the API.
    hts = int(hdr[0])
    one = api(base, f"/api/timeseries?step=1s&by=transport&from={hts}&to={hts + 1}")["points"]
    check("rates: header packets/s and bits/s during the burst equal the API's for their second, with units",
          int(hdr[1]) == sum(p["packets"] for p in one) > 900 and int(hdr[2]) == 8 * sum(p["bytes"] for p in one)
          and hdr[3].endswith("pkt/s") and hdr[4].endswith("bit/s"), (hdr, one))
    click_center(d, "#chart-table-wrap summary")


CONTRAST_JS = """
function lum(c) {
  const m = c.match(/[\\d.]+/g).map(Number);
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return [0.2126 * f(m[0]) + 0.7152 * f(m[1]) + 0.0722 * f(m[2]), m.length > 3 ? m[3] : 1];
}
function background(e) {
  for (; e; e = e.parentElement) {
    const b = getComputedStyle(e).backgroundColor;
    if (lum(b)[1] > 0.5) return b;
  }
  return 'rgb(255,255,255)';
}
const out = [];
for (const sel of arguments[0]) {
  for (const e of Array.from(document.querySelectorAll(sel)).slice(0, 3)) {
    if (!e.offsetParent && getComputedStyle(e).position !== 'fixed') continue;
    if (!e.textContent.trim()) continue;
    const a = lum(getComputedStyle(e).color)[0], b = lum(background(e))[0];
    out.push([sel, e.textContent.trim().slice(0, 30), (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]);
  }
}
return out;"""


def test_file_details_and_a11y(d, base, shots):
    """Items 6-11 on a file served with -r FILE --serve (no --store-raw)."""
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.common.action_chains import ActionChains
    d.get(base + "/")
    check("details: dashboard loads", wait_loaded(d) == "true")
    time.sleep(0.5)
    page = api(base, "/api/packets?limit=5")["rows"]
    caps = api(base, "/api/captures")["rows"]
    check("ids: capture ids are strings in the API", isinstance(page[0]["capture"], str) and isinstance(caps[0]["id"], str)
          and page[0]["capture"] == caps[0]["id"] and len(page[0]["capture"]) >= 10, (page[0]["capture"], caps[0]["id"]))

    # Details: a modal dialog with every field of the row, readable times, the exact id.
    d.find_element(By.CSS_SELECTOR, "#packets tbody tr[data-index='0']").click()
    dialog = d.find_element(By.ID, "detail")
    fields = d.execute_script("return Array.from(document.querySelectorAll('#detail-body tr')).map(tr => [tr.cells[0].textContent, tr.cells[1].textContent])")
    f = dict(fields)
    check("details: a modal dialog", d.execute_script("return document.getElementById('detail').matches(':modal')"))
    check("details: every field of the API's row", all(("ts (epoch seconds)" if k == "ts" else k) in f for k in page[0]),
          [k for k in page[0] if k not in f and k != "ts"])
    check("details: the capture id exactly as stored", f.get("capture") == page[0]["capture"], (f.get("capture"), page[0]["capture"]))
    check("details: readable UTC and local time, labelled", f.get("time (UTC)") == fmt_time(page[0]["ts"])
          and any(k.startswith("time (local") for k in f), [k for k in f if k.startswith("time")])
    inside = set()
    for _ in range(3):
        ActionChains(d).send_keys(Keys.TAB).perform()
        inside.add(d.execute_script("return document.getElementById('detail').contains(document.activeElement)"))
    check("details: Tab keeps focus in the dialog", inside == {True}, inside)
    ActionChains(d).send_keys(Keys.ESCAPE).perform()
    check("details: Escape closes and focus returns to the table", wait_for(d, lambda: dialog.get_attribute("open") is None, 3)
          and d.switch_to.active_element.get_attribute("id") == "p-scroll", d.switch_to.active_element.get_attribute("id"))

    # Time zone toggle: labelled, and every time follows it.
    d.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Kolkata"})
    d.get(base + "/")
    wait_loaded(d); time.sleep(0.3)
    head = d.find_element(By.CSS_SELECTOR, "#packets thead th").text
    check("time: the Time column names its zone (UTC by default)", head == "Time (UTC)", head)
    Select(d.find_element(By.ID, "tz")).select_by_value("local")
    time.sleep(0.5)
    import datetime
    head = d.find_element(By.CSS_SELECTOR, "#packets thead th").text
    first = table_rows(d, 1)[0][0]
    want = (datetime.datetime.fromtimestamp(int(page[0]["ts"]), datetime.timezone.utc) + datetime.timedelta(hours=5, minutes=30)).strftime("%Y-%m-%d %H:%M:%S")
    check("time: local times, labelled with their offset", head == "Time (local, UTC+05:30)" and first.startswith(want), (head, first, want))
    check("time: the chart caption and From field name the zone", "UTC+05:30" in d.find_element(By.ID, "chart-axis").text
          and "UTC+05:30" in d.find_element(By.ID, "f-from-zone").text, d.find_element(By.ID, "chart-axis").text)
    Select(d.find_element(By.ID, "tz")).select_by_value("utc")
    d.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "UTC"})

    # Date fields: text in the table's format, one Tab stop each, 24-hour clock.
    d.get(base + "/")
    wait_loaded(d)
    fr = d.find_element(By.ID, "f-from")
    check("time: From/To are single text fields with a 24-hour placeholder", fr.get_attribute("type") == "text"
          and ":" in (fr.get_attribute("placeholder") or ""), fr.get_attribute("placeholder"))
    d.find_element(By.ID, "f-app").click()
    ActionChains(d).send_keys(Keys.TAB).perform()
    a1 = d.switch_to.active_element.get_attribute("id")
    ActionChains(d).send_keys(Keys.TAB).perform()
    a2 = d.switch_to.active_element.get_attribute("id")
    check("time: one Tab stop per date field", (a1, a2) == ("f-from", "f-to"), (a1, a2))
    all_rows = api(base, "/api/packets?limit=1000")["rows"]
    mid = sorted(p["ts"] for p in all_rows)[len(all_rows) // 2]
    start = datetime.datetime.fromtimestamp(int(mid), datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    fr.send_keys(start)
    d.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    WebDriverWait(d, 10).until(lambda d: "from=" in d.current_url)
    time.sleep(0.8)
    rows = table_rows(d, 50)
    shown = int(d.find_element(By.ID, "p-count").text.split()[0])
    want_n = sum(1 for p in all_rows if p["ts"] >= int(mid))
    check("time: a typed From time filters in that zone", shown == want_n and rows and all(r[0] >= start for r in rows), (shown, want_n))

    # Errors: at their field, stale results cleared.
    d.get(base + "/?from=garbage")
    wait_loaded(d); time.sleep(0.3)
    check("errors: ?from=garbage shows at the From field, which shows the value",
          d.find_element(By.ID, "e-from").text != "" and d.find_element(By.ID, "f-from").get_attribute("value") == "garbage"
          and d.find_element(By.ID, "f-from").get_attribute("aria-invalid") == "true", d.find_element(By.ID, "e-from").text)
    check("errors: no stale results under an error", len(table_rows(d, 5)) == 0
          and len(d.find_elements(By.CSS_SELECTOR, "#summary tbody tr")) == 0, len(table_rows(d, 5)))
    contrast_pages = [("error", d)]
    shots_err = os.path.join(shots, "dashboard-error.png"); d.save_screenshot(shots_err)
    # Contrast, both themes, with an error on screen.
    sels = ["body", "h2", ".muted", ".error", "#conn", ".stats dt", ".stats dd", "label", "a", "th", "td", "button", ".tz"]
    for scheme in ["light", "dark"]:
        d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]})
        time.sleep(0.2)
        bad = [r for r in d.execute_script(CONTRAST_JS, sels) if r[2] < 4.5]
        check(f"a11y: text contrast at least 4.5:1 ({scheme} theme)", not bad, bad[:5])
    d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "light"}]})
    d.get(base + "/")
    wait_loaded(d)
    fr = d.find_element(By.ID, "f-from"); to = d.find_element(By.ID, "f-to")
    fr.send_keys("2030-01-02 00:00:00"); to.send_keys("2030-01-01 00:00:00")
    d.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    time.sleep(0.3)
    check("errors: From after To is refused at the To field", "after" in d.find_element(By.ID, "e-to").text
          and d.switch_to.active_element.get_attribute("id") == "f-to", d.find_element(By.ID, "e-to").text)
    fr.clear(); to.clear()
    d.find_element(By.ID, "f-ip").send_keys("10.0.0.300")
    d.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    time.sleep(0.8)
    check("errors: the server's error about ip shows at the IP field, results cleared",
          d.find_element(By.ID, "e-ip").text != "" and len(table_rows(d, 5)) == 0 and "no results" in d.find_element(By.ID, "p-count").text,
          (d.find_element(By.ID, "e-ip").text, d.find_element(By.ID, "p-count").text))
    d.find_element(By.ID, "f-clear").click()
    check("errors: Clear removes the error and brings the rows back", wait_for(d, lambda: d.find_element(By.ID, "e-ip").text == ""
          and len(table_rows(d, 5)) == 5, 5))

    # pcap without --store-raw: the server's explanation beside the link.
    d.find_element(By.ID, "d-pcap").click()
    check("pcap: refusal explained beside the link", wait_for(d, lambda: "store-raw" in d.find_element(By.ID, "d-pcap-error").text, 5),
          d.find_element(By.ID, "d-pcap-error").text)

    # Summary: transports and apps in separate charts; one spelling per protocol.
    tr_items = json.loads(d.find_element(By.ID, "summary-chart").get_attribute("data-items") or "[]")
    app_items = json.loads(d.find_element(By.ID, "apps-chart").get_attribute("data-items") or "[]")
    stored = sum(e["packets"] for e in api(base, "/api/protocol_summary")["transports"])
    check("charts: transports and apps charted apart, each packet once per chart",
          sum(i["value"] for i in tr_items) == stored and all(i["label"] in LABELS.values() for i in tr_items)
          and not any(i["label"] in ("TCP", "UDP") for i in app_items), (tr_items, app_items[:3], stored))
    protos = d.execute_script("return Array.from(document.querySelectorAll('#talkers tbody tr, #flows tbody tr'))"
                              ".map(tr => tr.cells[tr.closest('#talkers') ? 2 : 5].textContent)")
    check("labels: talkers and flows spell protocols one way", protos and all(p in LABELS.values() for p in protos), sorted(set(protos)))
    icmp = d.execute_script("return Array.from(document.querySelectorAll('#talkers tbody tr')).map(tr => Array.from(tr.cells).map(c => c.dataset.address || c.textContent))"
                            ".filter(c => c[2].startsWith('ICMP'))")
    check("labels: ICMP talkers show no port", all(c[1] == "–" for c in icmp) and all(c[2] == ("ICMPv6" if ":" in c[0] else "ICMP") for c in icmp),
          icmp[:3])
    click_center(d, "#chart-table-wrap summary")
    a = chart_axis(d)
    n_rows = len(d.find_elements(By.CSS_SELECTOR, "#chart-table tbody tr"))
    check("a11y: the chart's data as a table, one row per bucket", n_rows >= 1 and n_rows == int((float(a["to"]) - float(a["from"])) / float(a["step"])) + 1,
          (n_rows, a))

    # Keyboard and focus.
    d.get(base + "/")
    wait_loaded(d)
    d.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB) if False else ActionChains(d).send_keys(Keys.TAB).perform()
    skip = d.switch_to.active_element
    check("a11y: the first Tab reaches a visible skip link", skip.get_attribute("class") == "skip" and skip.rect["x"] >= 0, skip.get_attribute("outerHTML")[:80])
    ActionChains(d).send_keys(Keys.ENTER).perform()
    check("a11y: the skip link moves focus to the content", d.switch_to.active_element.get_attribute("id") == "main")
    d.execute_script("document.getElementById('d-csv').focus();"
                     "const r = document.getElementById('d-xlsx').getBoundingClientRect(); window.scrollBy(0, r.top - 20);")
    ActionChains(d).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
    time.sleep(0.3)
    pos = d.execute_script("const a = document.activeElement, h = document.getElementById('top');"
                           "return [a.id, a.getBoundingClientRect().top, h.getBoundingClientRect().bottom];")
    check("a11y: Shift-Tab does not leave focus under the sticky header", pos[0] == "d-xlsx" and pos[1] >= pos[2], pos)
    outline = d.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    check("a11y: the focused control shows an outline", outline not in ("none", ""), outline)
    fav = urllib.request.urlopen(base + "/favicon.ico")
    check("a11y: a favicon (link and /favicon.ico)", fav.status == 200 and "svg" in fav.headers.get("Content-Type", "")
          and d.find_elements(By.CSS_SELECTOR, "link[rel=icon]"), fav.headers.get("Content-Type"))
    d.set_window_size(390, 844); time.sleep(0.4)
    hh = d.execute_script("return document.getElementById('top').getBoundingClientRect().height")
    check(f"phone: a compact header ({hh:.0f} of 844 px)", hh <= 130, hh)
    d.save_screenshot(os.path.join(shots, "dashboard-phone-header.png"))
    d.set_window_size(1280, 800)


def in_view(d, id):
    """Whether an element lies inside the window horizontally (a phone shows it whole)."""
    return d.execute_script("const r = document.getElementById(arguments[0]).getBoundingClientRect();"
                            "return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth + 1;", id)


def test_phone_file(d, base):
    """The issue's items on a file at phone width (390 x 844): filters reach every panel
    (2), the capture choice (5), the details dialog fits and keeps its fields (6), the
    pcap refusal (7), an error at its field (8), zoned times (9), both summary charts
    with units (10), header height and skip link (11)."""
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.common.action_chains import ActionChains
    d.set_window_size(390, 844)
    try:
        d.get(base + "/")
        check("phone file: dashboard loads", wait_loaded(d) == "true")
        check("phone file: the Capture field lists the capture and fits", len(Select(d.find_element(By.ID, "f-capture")).options) >= 2
              and in_view(d, "f-capture"), len(Select(d.find_element(By.ID, "f-capture")).options))
        Select(d.find_element(By.ID, "f-transport")).select_by_value("udp")
        d.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
        want = api(base, "/api/protocol_summary?transport=udp")["transports"]
        ok = wait_for(d, lambda: "transport=udp" in d.current_url and summary_cell(d, "transport", "UDP") == sum(e["packets"] for e in want)
                      and summary_cell(d, "transport", "TCP") is None, 8)
        check("phone file: a filter reaches the summary and the URL", ok, (d.current_url, want))
        rows = table_rows(d, 10)
        check("phone file: the filtered rows are all UDP", rows and all(r[5].lower() == "udp" for r in rows), rows[:2])
        # One script: scrolling re-renders the (virtualised) rows.
        d.execute_script("const tr = document.querySelector(\"#packets tbody tr[data-index='0']\");"
                         "tr.scrollIntoView({block: 'center'}); tr.click();")
        box = d.execute_script("const r = document.getElementById('detail').getBoundingClientRect();"
                               "return [r.left, r.right, r.top, window.innerWidth, document.getElementById('detail').matches(':modal'),"
                               " document.querySelectorAll('#detail-body tr').length];")
        check("phone file: the details dialog is modal, fits the width and lists the fields",
              box[4] and box[0] >= 0 and box[1] <= box[3] + 1 and box[5] >= 10, box)
        ActionChains(d).send_keys(Keys.ESCAPE).perform()
        d.find_element(By.ID, "f-clear").click()
        wait_loaded(d)
        click_center(d, "#d-pcap")
        check("phone file: the pcap refusal shows beside the link", wait_for(d, lambda: "store-raw" in d.find_element(By.ID, "d-pcap-error").text, 5)
              and in_view(d, "d-pcap-error"), d.find_element(By.ID, "d-pcap-error").text)
        port = d.find_element(By.ID, "f-port"); port.clear(); port.send_keys("http")
        d.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
        check("phone file: an error shows at its field, in view, results cleared",
              wait_for(d, lambda: d.find_element(By.ID, "e-port").text != "", 5) and in_view(d, "e-port")
              and len(table_rows(d, 5)) == 0, d.find_element(By.ID, "e-port").text)
        port.clear()
        d.find_element(By.ID, "f-clear").click()
        wait_loaded(d)
        head = d.execute_script("return document.querySelector('#packets thead th').textContent")
        check("phone file: the Time column names its zone", head.startswith("Time (UTC"), head)
        check("phone file: transport and app charts drawn", canvas_pixels(d, "summary-chart") > 100 and canvas_pixels(d, "apps-chart") > 100)
        tl = json.loads(d.find_element(By.ID, "chart").get_attribute("data-tick-labels") or "[]")
        check("phone file: the traffic chart's ticks carry units", tl and all(t.endswith("/s") for t in tl), tl)
        hh = d.execute_script("return document.getElementById('top').getBoundingClientRect().height")
        check(f"phone file: compact header ({hh:.0f} of 844 px)", hh <= 130, hh)
        d.get(base + "/")
        wait_loaded(d)
        ActionChains(d).send_keys(Keys.TAB).perform()
        check("phone file: the first Tab reaches the skip link", d.switch_to.active_element.get_attribute("class") == "skip")
    finally:
        d.set_window_size(1280, 800)


def test_phone_live(d, base):
    """The issue's items live at phone width: panels follow the capture (1), the
    controls with Stop apart (3, checked in test_live_controls), rates with units (4),
    live rows arrive (6)."""
    import threading
    d.set_window_size(390, 844)
    try:
        d.get(base + "/")
        wait_loaded(d)
        WebDriverWait(d, 20).until(lambda d: "live" in d.find_element(By.ID, "conn").text)
        time.sleep(2)
        before = summary_cell(d, "transport", "UDP") or 0
        src = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); src.bind(("127.0.0.1", 0)); sport = src.getsockname()[1]
        result = {}
        t = threading.Thread(target=lambda: result.update(zip(("sent", "end"), send_steady(LIVE_PORT, src, 500, 4))))
        t.start()
        time.sleep(2.5)
        pps = d.find_element(By.ID, "h-pps").text
        check("phone live: header rates with units during a burst", pps.endswith("pkt/s") and d.find_element(By.ID, "h-bps").text.endswith("bit/s")
              and in_view(d, "h-pps"), pps)
        rows = table_rows(d, 5)
        check("phone live: live rows arrive", any(r[4] == str(LIVE_PORT) for r in rows), rows[:2])
        t.join()
        ok = wait_for(d, lambda: (summary_cell(d, "transport", "UDP") or 0) >= before + result["sent"]
                      and (talker_packets(d, "127.0.0.1", sport) or 0) == result["sent"], 10)
        lag = time.time() - result["end"]
        check(f"phone live: summary and talkers follow the capture ({lag:.2f} s after the last packet)", ok,
              (summary_cell(d, "transport", "UDP"), before, result, talker_packets(d, "127.0.0.1", sport)))
        check("phone live: the capture controls are shown and fit", d.find_element(By.ID, "controls").is_displayed()
              and in_view(d, "c-stop") and in_view(d, "c-pause"))
    finally:
        d.set_window_size(1280, 800)


def test_unreachable(d, base, restart):
    """Item 8: a stopped server shows as unreachable and retrying; the page recovers."""
    d.get(base + "/")
    wait_loaded(d)
    server = restart(None)
    check("unreachable: says so and that it retries", wait_for(d, lambda: d.find_element(By.ID, "unreachable").is_displayed()
          and "retrying" in d.find_element(By.ID, "unreachable").text and "unreachable" in d.find_element(By.ID, "conn").text, 12),
          (d.find_element(By.ID, "conn").text,))
    check("unreachable: no 'Failed to fetch'", "Failed to fetch" not in d.find_element(By.TAG_NAME, "body").text)
    restart(server)
    check("unreachable: recovers when the server is back", wait_for(d, lambda: not d.find_element(By.ID, "unreachable").is_displayed()
          and d.find_element(By.ID, "conn").text == "live" and len(table_rows(d, 3)) == 3, 20), d.find_element(By.ID, "conn").text)


def test_live_details(d, base):
    """Item 6 live: the dialog and the selected row keep their packet while rows stream."""
    d.get(base + "/")
    wait_loaded(d)
    WebDriverWait(d, 20).until(lambda d: "live" in d.find_element(By.ID, "conn").text)
    import threading
    stop = threading.Event()
    def gen():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        end = time.time() + 12
        while not stop.is_set() and time.time() < end:
            s.sendto(b"sniff-detail" * 4, ("127.0.0.1", LIVE_PORT)); time.sleep(0.004)
        s.close()
    t = threading.Thread(target=gen); t.start()
    try:
        WebDriverWait(d, 10).until(lambda d: len(table_rows(d, 20)) >= 20)
        d.execute_script("document.getElementById('p-scroll').scrollTop = 5 * 24")
        time.sleep(0.3)
        # One script: the rows re-render as packets arrive. The table keeps the rows in
        # view, so the row clicked is a few below the top of what is shown.
        d.execute_script("const r = Array.from(document.querySelectorAll('#packets tbody tr[data-index]'));"
                         "r[Math.min(8, r.length - 1)].click();")
        before = d.find_element(By.ID, "detail").get_attribute("data-packet")
        sel = lambda: d.execute_script("const tr = document.querySelector('#packets tbody tr.sel'); if (!tr) return null;"
                                       "const s = document.getElementById('p-scroll').getBoundingClientRect();"
                                       "return [tr.cells[0].textContent, Math.round(tr.getBoundingClientRect().top - s.top)];")
        ActionChains = __import__("selenium.webdriver.common.action_chains", fromlist=["ActionChains"]).ActionChains
        from selenium.webdriver.common.keys import Keys
        first = sel()
        time.sleep(2.5)
        check("live details: the dialog keeps its packet while rows arrive", d.find_element(By.ID, "detail").get_attribute("data-packet") == before, before)
        ActionChains(d).send_keys(Keys.ESCAPE).perform()
        time.sleep(0.2)
        rows_now = int(d.find_element(By.ID, "p-count").text.split()[0])
        after = sel()
        check("live details: the selected row keeps its packet and its place", first and after and first[0] == after[0]
              and abs(first[1] - after[1]) <= 24, (first, after, rows_now))
    finally:
        stop.set(); t.join()


def test_live_processes(d, base, shots):
    """Issue 21: the live capture's flows carry the local process that owns their socket
    (this test's own UDP sender): in the flows in progress, their details dialog, the
    flows table's Process column and the processes panel, as /api/processes says."""
    import threading
    pid = os.getpid()
    comm = open(f"/proc/{pid}/comm").read().strip()
    stop = threading.Event()
    def gen():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        end = time.time() + 15
        while not stop.is_set() and time.time() < end:
            s.sendto(b"sniff-process" * 4, ("127.0.0.1", LIVE_PORT)); time.sleep(0.01)
        s.close()
    t = threading.Thread(target=gen); t.start()
    try:
        d.get(base + "/")
        wait_loaded(d)
        mine = lambda: [r for r in api(base, "/api/flows?limit=50&dport=%d" % LIVE_PORT).get("open_rows", []) if r.get("pid") == pid]
        ok = wait_for(d, lambda: bool(mine()), 12)
        rows = mine()
        check("live processes: the flow in progress names this test's process (pid, command, user)",
              ok and rows[0].get("process") == comm and rows[0].get("user") == "root", rows[:1] or api(base, "/api/flows?limit=5").get("open_rows"))
        want = "%s (%d)" % (comm, pid)
        cell = lambda: d.execute_script(
            "const i = Array.from(document.querySelectorAll('#flows thead th')).findIndex(th => th.textContent === 'Process');"
            "const tr = Array.from(document.querySelectorAll('#flows tbody tr.open')).find(tr => tr.cells[i].textContent === arguments[0]);"
            "return tr ? [tr.cells[i].textContent, tr.cells[i].title] : null;", want)
        ok = wait_for(d, lambda: cell() is not None, 8)
        c = cell()
        check("live processes: the flows table's Process column shows command and pid, user on hover",
              ok and c and "user root" in c[1], c)
        if ok:
            d.execute_script("const i = Array.from(document.querySelectorAll('#flows thead th')).findIndex(th => th.textContent === 'Process');"
                             "Array.from(document.querySelectorAll('#flows tbody tr.open')).find(tr => tr.cells[i].textContent === arguments[0]).click();", want)
            wait_for(d, lambda: d.execute_script("return document.getElementById('detail').open"), 5)
            fields = d.execute_script("return Object.fromEntries(Array.from(document.querySelectorAll('#detail-body tr'))"
                                      ".map(tr => [tr.cells[0].textContent, tr.cells[1].textContent]))")
            check("live processes: the flow's details list pid, process and user",
                  fields.get("pid") == str(pid) and fields.get("process") == comm and fields.get("user") == "root", fields)
            d.find_element(By.ID, "detail-close").click()
        api_rows = lambda: [r for r in api(base, "/api/processes").get("rows", []) if r["pid"] == pid]
        ok = wait_for(d, lambda: bool(api_rows()) and api_rows()[0]["sent"] > 0, 8)
        got = api_rows()
        check("live processes: /api/processes counts the flow in progress: bytes sent, none received",
              ok and got[0]["process"] == comm and got[0]["received"] == 0 and got[0]["flows"] >= 1, got)
        panel = lambda: d.execute_script(
            "const tr = document.querySelector('#procs tbody tr[data-pid=\"' + arguments[0] + '\"]');"
            "return tr ? [tr.cells[0].textContent, tr.cells[2].textContent, tr.cells[4].textContent, tr.cells[5].textContent,"
            " tr.cells[7].querySelector('span.up').getBoundingClientRect().width, tr.cells[7].querySelector('span.down').getBoundingClientRect().width] : null", pid)
        ok = wait_for(d, lambda: panel() is not None and panel()[4] > 0, 8)
        p = panel()
        check("live processes: the processes panel shows the process, its user, bytes up and an up bar",
              ok and p[0] == comm and p[1] == "root" and p[3] == "0" and p[5] <= 1, p)
        d.execute_script("document.getElementById('procs-h').scrollIntoView()")
        d.save_screenshot(os.path.join(shots, "dashboard-processes.png"))
    finally:
        stop.set(); t.join()


WS_COUNT_JS = """
const done = arguments[arguments.length - 1], out = {};
const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
let pending = arguments[0].length;
for (const q of arguments[0]) {
  const r = out[q] = { open: false, rows: 0, captures: [], stats: 0, hello: null };
  const ws = new WebSocket(proto + '//' + location.host + '/ws/live?' + q);
  ws.onopen = () => { r.open = true; };
  ws.onmessage = (e) => { const m = JSON.parse(e.data);
    if (m.type === 'hello') r.hello = m.capture;
    if (m.type === 'stats') r.stats++;
    if (m.type === 'packets') for (const x of m.rows) { r.rows++; if (!r.captures.includes(x.capture)) r.captures.push(x.capture); } };
  setTimeout(() => { ws.close(); if (--pending === 0) done(out); }, 3500);
}"""


def test_live_capture_choice(d, base, shots):
    """Item 5 live: a stored capture chosen beside the running one. /ws/live?capture=
    streams rows of the running capture only; the page shows the stored one in capture
    time, says that its rates are the running capture's, and gets no live rows."""
    import threading
    stats = api(base, "/api/stats")
    live_id = stats.get("live_capture_id")
    caps = api(base, "/api/captures")["rows"]
    older = next((c for c in caps if c["id"] != live_id), None)
    check("live captures: /api/stats names the running capture (a string), /api/captures lists the stored one too",
          isinstance(live_id, str) and any(c["id"] == live_id for c in caps) and older is not None, (live_id, caps))
    if older is None: return

    def burst(seconds):
        stop = threading.Event()
        def gen():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            end = time.time() + seconds
            while not stop.is_set() and time.time() < end:
                s.sendto(b"sniff-choice" * 4, ("127.0.0.1", LIVE_PORT)); time.sleep(0.01)
            s.close()
        t = threading.Thread(target=gen); t.start()
        return lambda: (stop.set(), t.join())

    d.get(base + "/")
    wait_loaded(d)
    d.set_script_timeout(15)
    end = burst(4)
    try:
        ws = d.execute_async_script(WS_COUNT_JS, ["capture=" + live_id, "capture=" + older["id"], "capture=x"])
    finally:
        end()
    mine, other, bad = ws["capture=" + live_id], ws["capture=" + older["id"]], ws["capture=x"]
    check("live captures: /ws/live?capture=<running> streams that capture's rows, and hello names it",
          mine["rows"] > 0 and mine["captures"] == [live_id] and mine["hello"] == live_id, mine)
    check("live captures: /ws/live?capture=<stored> gets the stats but no rows", other["open"] and other["rows"] == 0
          and other["stats"] >= 2, other)
    try:
        urllib.request.urlopen(base + "/ws/live?capture=x", timeout=5); code = 200
    except urllib.error.HTTPError as e:
        code = e.code
    check("live captures: a bad capture id is refused (400, no upgrade)", not bad["open"] and code == 400, (bad, code))

    for width, name in ((1280, "desktop"), (390, "phone")):
        d.set_window_size(width, 844 if width < 500 else 800)
        d.get(base + "/?capture=" + older["id"])
        wait_loaded(d)
        label = d.find_element(By.ID, "capture-label")
        ok = wait_for(d, lambda: label.get_attribute("data-live") == "other" and
                      d.find_element(By.TAG_NAME, "body").get_attribute("data-streaming") == "false", 8)
        check(f"live captures ({name}): a stored capture chosen is labelled as not the running one, no rows stream",
              ok and "not the capture running here" in label.text and live_id in label.text, (label.text, label.get_attribute("data-live")))
        a = chart_axis(d)
        check(f"live captures ({name}): its chart is its stored packets in capture time", a["range"] == "history" and a["mode"] == "capture"
              and a["from"] != "" and float(older["first_packet"]) - 1 <= float(a["from"]) <= float(older["first_packet"]), (a, older["first_packet"]))
        check(f"live captures ({name}): the header says its rates are the running capture's",
              "running capture " + live_id in d.find_element(By.ID, "h-scope").text, d.find_element(By.ID, "h-scope").text)
        end = burst(2.5)
        time.sleep(3)
        end()
        rows = table_rows(d, 30)
        count = d.find_element(By.ID, "p-count").text
        check(f"live captures ({name}): no live rows join the stored capture's table",
              rows and not any(r[4] == str(LIVE_PORT) for r in rows) and count.startswith(str(min(500, older["packets_stored"]))), (count, rows[:2]))
        width_px = d.execute_script("return document.documentElement.scrollWidth")
        check(f"live captures ({name}): no page-wide horizontal scroll", width_px <= width + 10, (width_px, overflowing(d)))
    d.set_window_size(1280, 800)
    # Back to the running capture: the wall-clock chart and live rows again.
    Select(d.find_element(By.ID, "f-capture")).select_by_value(live_id)
    wait_loaded(d)
    ok = wait_for(d, lambda: d.find_element(By.ID, "capture-label").get_attribute("data-live") == "running" and
                  d.find_element(By.TAG_NAME, "body").get_attribute("data-streaming") == "true", 8)
    end = burst(3)
    try:
        arrived = wait_for(d, lambda: any(r[4] == str(LIVE_PORT) for r in table_rows(d, 5)), 6)
    finally:
        end()
    check("live captures: choosing the running capture brings back live rows and the wall-clock chart",
          ok and arrived and chart_axis(d)["range"] == "live", (ok, arrived, chart_axis(d)))
    d.get(base + "/")


def buttons(d):
    """Enabled state of Pause, Resume, Stop (True = enabled)."""
    return tuple(d.find_element(By.ID, i).is_enabled() for i in ("c-pause", "c-resume", "c-stop"))


def header_state(d):
    return d.find_element(By.ID, "h-state").text


def wait_for(d, predicate, timeout=8):
    try:
        WebDriverWait(d, timeout, poll_frequency=0.1).until(lambda d: predicate())
        return True
    except TimeoutException:
        return False


def test_live_controls(d, base, shots):
    """Capture control on a live capture: the buttons follow the real state, Stop asks
    first in a modal dialog, and a stop is final."""
    d.get(base + "/")
    wait_loaded(d)
    check("controls: shown on a live capture", d.find_element(By.ID, "controls").is_displayed())
    check("controls: running -> Pause and Stop enabled, Resume disabled",
          wait_for(d, lambda: buttons(d) == (True, False, True)), buttons(d))
    d.find_element(By.ID, "c-pause").click()
    check("controls: Pause -> header paused, Resume enabled, Pause disabled",
          wait_for(d, lambda: header_state(d) == "paused" and buttons(d) == (False, True, True)), (header_state(d), buttons(d)))
    check("controls: /api/stats says paused", api(base, "/api/stats")["state"] == "paused")
    d.find_element(By.ID, "c-resume").click()
    check("controls: Resume -> running", wait_for(d, lambda: header_state(d) == "running" and buttons(d) == (True, False, True)),
          (header_state(d), buttons(d)))

    dialog = d.find_element(By.ID, "stop-dialog")
    stop = d.find_element(By.ID, "c-stop")
    stop.click()
    check("stop: asks for confirmation in a modal dialog", dialog.get_attribute("open") is not None and
          d.execute_script("return document.getElementById('stop-dialog').matches(':modal')"))
    check("stop: focus starts on Cancel", d.switch_to.active_element.get_attribute("id") == "stop-cancel")
    # Modal: Tab stays inside the dialog.
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.common.action_chains import ActionChains
    seen = set()
    for _ in range(4):
        ActionChains(d).send_keys(Keys.TAB).perform()
        seen.add(d.execute_script("return document.getElementById('stop-dialog').contains(document.activeElement) || "
                                  "document.activeElement === document.body"))
    check("stop: Tab keeps focus in the dialog", seen == {True}, seen)
    ActionChains(d).send_keys(Keys.ESCAPE).perform()
    check("stop: Escape cancels", wait_for(d, lambda: dialog.get_attribute("open") is None, 3))
    check("stop: focus returns to the Stop button", d.switch_to.active_element.get_attribute("id") == "c-stop",
          d.switch_to.active_element.get_attribute("id"))
    time.sleep(0.5)
    check("stop: cancelled -> still running", header_state(d) == "running" and api(base, "/api/stats")["state"] == "running",
          header_state(d))
    stop.click()
    d.find_element(By.ID, "stop-cancel").click()
    check("stop: Cancel button keeps it running", dialog.get_attribute("open") is None and header_state(d) == "running")

    # Phone width: Stop sits apart from Pause.
    d.set_window_size(390, 844)
    time.sleep(0.3)
    pr = d.find_element(By.ID, "c-pause").rect; sr = stop.rect
    gap = sr["x"] - (pr["x"] + pr["width"])
    check("phone: Stop is not beside Pause", gap > 60 or abs(sr["y"] - pr["y"]) > pr["height"], (pr, sr))
    d.save_screenshot(os.path.join(shots, "dashboard-controls-phone.png"))
    d.set_window_size(1280, 800)

    stop.click()
    d.find_element(By.ID, "stop-confirm").click()
    check("stop: confirmed -> header says stopped", wait_for(d, lambda: header_state(d) == "stopped"), header_state(d))
    check("stop: all buttons disabled after stop", wait_for(d, lambda: buttons(d) == (False, False, False)), buttons(d))
    check("stop: /api/stats says stopped", api(base, "/api/stats")["state"] == "stopped")
    time.sleep(1.5)
    check("stop: stays stopped (live stream and polling agree)", header_state(d) == "stopped" and buttons(d) == (False, False, False),
          (header_state(d), buttons(d)))
    d.refresh()
    wait_loaded(d)
    check("stop: after a reload the buttons stay disabled",
          wait_for(d, lambda: header_state(d) == "stopped" and buttons(d) == (False, False, False)), (header_state(d), buttons(d)))
    d.save_screenshot(os.path.join(shots, "dashboard-stopped.png"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sniff", required=True)
    ap.add_argument("--capture", default=None)
    ap.add_argument("--keep-screenshot", default=None)
    args = ap.parse_args()
    args.sniff = os.path.abspath(args.sniff)
    work = tempfile.mkdtemp(prefix="sniff-browser-")
    shots = os.path.join(work, "screenshots"); os.makedirs(shots)
    downloads = os.path.join(work, "downloads"); os.makedirs(downloads)
    print("browser test: screenshots in " + shots, flush=True)

    try:
        from openapi_spec_validator import validate
        from openapi_spec_validator.readers import read_from_filename
        spec, _ = read_from_filename(os.path.join(ROOT, "docs/openapi.json"))
        validate(spec)
        check("docs/openapi.json is a valid OpenAPI 3 document", True)
    except ImportError:
        print("skip: openapi-spec-validator not installed")
    except Exception as e:
        check("docs/openapi.json is a valid OpenAPI 3 document", False, e)

    # A shared capture when present (SNIFF_SHARED_PCAPS or ../shared/pcaps), else a fixture.
    capture = args.capture
    if not capture:
        shared = os.environ.get("SNIFF_SHARED_PCAPS") or os.path.join(os.path.dirname(ROOT), "shared/pcaps")
        candidates = [os.path.join(shared, n) for n in ["mptcp-v0.pcap", "resp_1_benchmark.pcap"]]
        capture = next((c for c in candidates if os.path.exists(c)), os.path.join(ROOT, "Tests/Fixtures/app.pcap"))
    print("browser test: capture " + capture, flush=True)
    servers = []
    d = make_driver(downloads)
    try:
        # 1. A database built from a capture.
        db = os.path.join(work, "a.db")
        subprocess.run([args.sniff, "-r", capture, "-q", "--db", "sqlite:" + db], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, cwd=work)
        subprocess.run([args.sniff, "-r", os.path.join(ROOT, "Tests/Fixtures/dns.pcap"), "-q", "--db", "sqlite:" + db], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
        port = free_port(); base = f"http://127.0.0.1:{port}"
        servers.append(Server([args.sniff, "serve", "--db", "sqlite:" + db, "--listen", f"127.0.0.1:{port}"], os.path.join(work, "serve.log")))
        check("sniff serve starts", wait_http(base + "/api/stats"))
        test_database(d, base, shots, downloads)

        def restart(server):
            # None: stop the server and return its arguments; else start it again.
            if server is None:
                servers.pop().stop()
                return [args.sniff, "serve", "--db", "sqlite:" + db, "--listen", f"127.0.0.1:{port}"]
            servers.append(Server(server, os.path.join(work, "serve2.log")))
            wait_http(base + "/api/stats")
        test_unreachable(d, base, restart)
        servers.pop().stop()

        # 1b. A file read with --serve: the sample, whose packets are from another day.
        port = free_port(); base = f"http://127.0.0.1:{port}"
        servers.append(Server([args.sniff, "-r", os.path.join(ROOT, "samples/sample.pcapng"), "-q", "--serve",
                               "--db", "sqlite:" + os.path.join(work, "file.db"), "--listen", f"127.0.0.1:{port}"],
                              os.path.join(work, "file.log")))
        check("sniff -r FILE --serve starts", wait_http(base + "/api/stats"))
        test_file_timeline(d, base, shots)
        test_info_column(d, base)
        test_file_details_and_a11y(d, base, shots)
        test_flow_details(d, base)
        test_host_names(d, base, shots)
        test_no_geo(d, base)
        test_phone_file(d, base)
        servers.pop().stop()

        # 1b''. The sample stored with --resolve against a resolver of the test's own.
        pdb = ptr_database(args.sniff, work)
        if pdb:
            port = free_port(); base = f"http://127.0.0.1:{port}"
            servers.append(Server([args.sniff, "serve", "--db", "sqlite:" + pdb, "--listen", f"127.0.0.1:{port}"],
                                  os.path.join(work, "ptr.log")))
            check("sniff serve starts over names from reverse lookups", wait_http(base + "/api/stats"))
            test_ptr_names(d, base, shots)
            servers.pop().stop()
        else:
            print("skip: names from reverse lookups need root, unshare and ip (a resolver in a namespace of its own)")

        # 1b'. Public addresses with test GeoIP databases (scripts/gen/write-test-mmdb.pl).
        shared = os.environ.get("SNIFF_SHARED_PCAPS") or os.path.join(os.path.dirname(ROOT), "shared/pcaps")
        geo_files = [os.path.join(shared, n) for n in GEO_CAPTURES]
        writer = subprocess.run(["perl", "-MMaxMind::DB::Writer::Tree", "-e", "1"], stderr=subprocess.DEVNULL).returncode == 0
        if writer and all(os.path.exists(f) for f in geo_files):
            geo = os.path.join(work, "geoip"); os.makedirs(geo)
            subprocess.run(["perl", os.path.join(ROOT, "scripts/gen/write-test-mmdb.pl"), geo], check=True)
            gdb = os.path.join(work, "geo.db")
            for f in geo_files:
                subprocess.run([args.sniff, "-r", f, "-q", "--geoip", geo, "--db", "sqlite:" + gdb], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
            port = free_port(); base = f"http://127.0.0.1:{port}"
            servers.append(Server([args.sniff, "serve", "--db", "sqlite:" + gdb, "--listen", f"127.0.0.1:{port}"],
                                  os.path.join(work, "geo.log")))
            check("sniff serve starts over flows with countries", wait_http(base + "/api/stats"))
            test_geo(d, base, shots)
            servers.pop().stop()
        else:
            print("skip: countries and AS panels need libmaxmind-db-writer-perl and " + ", ".join(GEO_CAPTURES) + " in " + shared)

        # 1c. The sample read twice into one database: two captures.
        tdb = os.path.join(work, "twice.db")
        for _ in range(2):
            subprocess.run([args.sniff, "-r", os.path.join(ROOT, "samples/sample.pcapng"), "-q", "--db", "sqlite:" + tdb], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
        port = free_port(); base = f"http://127.0.0.1:{port}"
        servers.append(Server([args.sniff, "serve", "--db", "sqlite:" + tdb, "--listen", f"127.0.0.1:{port}"], os.path.join(work, "twice.log")))
        check("sniff serve starts over two captures", wait_http(base + "/api/stats"))
        test_captures_and_filters(d, base, shots)
        servers.pop().stop()

        # 1d. Tunnels: the VXLAN and GRE fixtures in one database.
        ndb = os.path.join(work, "tunnels.db")
        for f in ["tunnel-vxlan.pcap", "tunnel-gre.pcap"]:
            subprocess.run([args.sniff, "-r", os.path.join(ROOT, "Tests/Fixtures", f), "-q", "--db", "sqlite:" + ndb], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
        port = free_port(); base = f"http://127.0.0.1:{port}"
        servers.append(Server([args.sniff, "serve", "--db", "sqlite:" + ndb, "--listen", f"127.0.0.1:{port}"], os.path.join(work, "tunnels.log")))
        check("sniff serve starts over the tunnel fixtures", wait_http(base + "/api/stats"))
        test_tunnels(d, base, shots)
        servers.pop().stop()

        # 1e. Server certificates (TLS 1.2) and a TLS 1.3 flow.
        cdb = os.path.join(work, "certs.db")
        subprocess.run([args.sniff, "-r", os.path.join(ROOT, "Tests/Fixtures/tls-cert.pcap"), "-q", "--db", "sqlite:" + cdb],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
        port = free_port(); base = f"http://127.0.0.1:{port}"
        servers.append(Server([args.sniff, "serve", "--db", "sqlite:" + cdb, "--listen", f"127.0.0.1:{port}"], os.path.join(work, "certs.log")))
        check("sniff serve starts over tls-cert.pcap", wait_http(base + "/api/stats"))
        test_certificates(d, base)
        servers.pop().stop()

        # 2. The XSS capture.
        xdb = os.path.join(work, "xss.db")
        subprocess.run([args.sniff, "-r", os.path.join(ROOT, "Tests/Fixtures/xss.pcap"), "-q", "--db", "sqlite:" + xdb], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
        port = free_port(); base = f"http://127.0.0.1:{port}"
        servers.append(Server([args.sniff, "serve", "--db", "sqlite:" + xdb, "--listen", f"127.0.0.1:{port}"], os.path.join(work, "xss.log")))
        wait_http(base + "/api/stats")
        test_xss(d, base, shots)
        servers.pop().stop()

        # 3. Live: capture on lo with the server in the same process (root only).
        if os.geteuid() == 0:
            # An older capture in the same database: the sample, stored before the live one.
            subprocess.run([args.sniff, "-r", os.path.join(ROOT, "samples/sample.pcapng"), "-q", "--db",
                            "sqlite:" + os.path.join(work, "live.db")], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, cwd=work)
            port = free_port(); base = f"http://127.0.0.1:{port}"
            servers.append(Server([args.sniff, "-i", "lo", "-q", "--serve", "--db", "sqlite:" + os.path.join(work, "live.db"),
                                   "--listen", f"127.0.0.1:{port}", "udp", "port", str(LIVE_PORT)], os.path.join(work, "live.log")))
            check("sniff -i lo --serve starts", wait_http(base + "/api/stats"))
            test_live(d, base, shots)
            test_live_panels(d, base, shots)
            test_live_processes(d, base, shots)
            test_live_details(d, base)
            test_live_capture_choice(d, base, shots)
            test_phone_live(d, base)
            test_live_controls(d, base, shots)
            servers.pop().stop()
        else:
            print("skip: live test needs root")
    except Exception as e:
        traceback.print_exc()
        check("browser test ran to the end", False, e)
    finally:
        for s in servers: s.stop()
        d.quit()
    # The README's picture: the sample capture served with -r FILE --serve.
    if args.keep_screenshot and os.path.exists(os.path.join(shots, "dashboard-file.png")):
        shutil.copy(os.path.join(shots, "dashboard-file.png"), args.keep_screenshot)
    passed = sum(1 for _, ok in results if ok); failed = len(results) - passed
    print(f"browser: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
