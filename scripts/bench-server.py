#!/usr/bin/env python3
"""Server benchmark (issue 6 §10): p50/p99 of /api/packets with filters and of
/api/protocol_summary over a database of N stored packets, and WebSocket fan-out.

usage: scripts/bench-server.py --bin .build-server/debug [--packets 1000000] [--db sqlite:/tmp/bench.db]
       [--requests 200] [--ws-clients 100] [--pcap FILE] [--no-load]
Loads a synthetic capture (sniff-bench's generator, or --pcap FILE) with `sniff -r FILE --db URL`
(--no-load: measure the database --db already holds), starts
`sniff serve`, then measures over keep-alive connections. Prints one line per figure.
"""
import argparse, http.client, json, os, socket, statistics, subprocess, sys, tempfile, threading, time, base64


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def measure(port, path, n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        c.request("GET", path)
        r = c.getresponse(); body = r.read()
        out.append((time.perf_counter() - t) * 1000)
        if r.status != 200: raise SystemExit(f"{path}: {r.status} {body[:200]}")
    return out


def ws_client(port, stop, counts, i):
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f"GET /ws/live HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    s.settimeout(1)
    n = 0
    while not stop.is_set():
        try:
            data = s.recv(1 << 16)
            if not data: break
            n += data.count(b'"type":"packets"') + data.count(b'"type":"stats"')
        except socket.timeout:
            pass
    counts[i] = n
    s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--db", default=None)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--ws-clients", type=int, default=100)
    ap.add_argument("--pcap", default=None, help="load this capture instead of generating one")
    ap.add_argument("--no-load", action="store_true", help="measure what --db holds; load nothing")
    a = ap.parse_args()
    a.bin = os.path.abspath(a.bin)
    work = tempfile.mkdtemp(prefix="sniff-bench-")
    db = a.db or "sqlite:" + os.path.join(work, "bench.db")
    pcap = a.pcap or os.path.join(work, "synthetic.pcap")
    if a.no_load:
        print(f"measuring {db} as it is", flush=True)
    else:
        if not a.pcap:
            t = time.time()
            subprocess.run([os.path.join(a.bin, "sniff-bench"), "--packets", str(a.packets), "--file", pcap, "--keep", "--only", "decode"],
                           check=True, stdout=subprocess.DEVNULL)
            print(f"generated {a.packets} packets in {time.time() - t:.1f} s", flush=True)
        t = time.time()
        r = subprocess.run([os.path.join(a.bin, "sniff"), "-r", pcap, "-q", "--db", db], cwd=work, capture_output=True, text=True)
        load = time.time() - t
        print(f"loaded {pcap} into {db} in {load:.1f} s: {r.stderr.strip().splitlines()[-1] if r.stderr else ''}", flush=True)
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    srv = subprocess.Popen([os.path.join(a.bin, "sniff"), "serve", "--db", db, "--listen", f"127.0.0.1:{port}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try: measure(port, "/api/stats", 1); break
            except Exception: time.sleep(0.2)
        stats = json.loads(http.client.HTTPConnection("127.0.0.1", port).request("GET", "/api/stats") or "{}") if False else None
        first = measure(port, "/api/packets?limit=1", 1)
        c = http.client.HTTPConnection("127.0.0.1", port); c.request("GET", "/api/packets?limit=1"); row = json.loads(c.getresponse().read())["rows"][0]
        ip = row.get("src", "10.0.0.1")
        cases = [
            "/api/packets?limit=100",
            "/api/packets?limit=1000",
            "/api/packets?transport=udp&limit=100",
            "/api/packets?port=53&limit=100",
            f"/api/packets?ip={ip}&limit=100",
            "/api/packets?ip=10.0.0.0/8&transport=tcp&limit=100",
            "/api/protocol_summary",
            "/api/timeseries?step=1m&by=app",
        ]
        for path in cases:
            ms = measure(port, path, a.requests)
            print(f"{path:55s} p50 {statistics.median(ms):7.2f} ms  p99 {pct(ms, 99):7.2f} ms  ({a.requests} requests)", flush=True)
        # Deep pagination: follow the cursor for 20 pages.
        c = http.client.HTTPConnection("127.0.0.1", port)
        cur = None; ms = []
        for _ in range(20):
            t = time.perf_counter()
            c.request("GET", "/api/packets?limit=1000" + (f"&cursor={cur}" if cur else ""))
            body = json.loads(c.getresponse().read()); ms.append((time.perf_counter() - t) * 1000)
            cur = body.get("next_cursor")
            if not cur: break
        print(f"{'/api/packets cursor pages of 1000':55s} p50 {statistics.median(ms):7.2f} ms  max {max(ms):7.2f} ms", flush=True)
    finally:
        srv.send_signal(2); srv.wait(20)


if __name__ == "__main__":
    main()
