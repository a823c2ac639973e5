#!/usr/bin/env python3
"""API latency over a stored database: p50/p99 per route, N requests each.

    scripts/bench-queries.py --sniff PATH --db sqlite:FILE [--requests 200]

Starts `sniff serve` on a free loopback port, samples filter values (addresses,
ports, a one-second time range) from rows of the database through the API itself,
then sends each route's requests one after another on one keep-alive connection and
prints one line per route: route, p50 ms, p99 ms, max ms, rows on the first page.
Used by scripts/bench-store.sh.
"""
import argparse
import http.client
import json
import random
import re
import socket
import subprocess
import sys
import time
import urllib.parse


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sniff", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", help="a regular expression: time only the routes whose names match")
    ap.add_argument("--span", help="FIRST,LAST: epoch seconds of the oldest and newest stored packet")
    a = ap.parse_args()
    port = free_port()
    server = subprocess.Popen([a.sniff, "serve", "--db", a.db, "--listen", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        conn = None
        for _ in range(300):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                conn.request("GET", "/api/stats")
                conn.getresponse().read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("bench-queries: the server did not answer")

        def get(path):
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            if r.status != 200:
                raise SystemExit(f"bench-queries: {path} answered {r.status}: {body[:200]!r}")
            return json.loads(body)

        rnd = random.Random(a.seed)
        # Sample values from stored rows: the newest page and pages ending at random
        # times of the stored span (--span FIRST,LAST in epoch seconds).
        rows = list(get("/api/packets?limit=1000")["rows"])
        if a.span:
            lo, hi = (float(x) for x in a.span.split(","))
            for _ in range(10):
                rows += get(f"/api/packets?limit=200&to={rnd.uniform(lo, hi):.9f}")["rows"]
        ips = [r["src"] for r in rows if "src" in r] or ["10.0.0.1"]
        ports = [r["sport"] for r in rows if "sport" in r] or [80]
        dports = [r["dport"] for r in rows if "dport" in r] or [80]
        times = [float(r["ts"]) for r in rows]
        capture = get("/api/captures?limit=1")["rows"][0]["id"]

        def q(**kw):
            return "/api/packets?" + urllib.parse.urlencode(kw)

        # Protocol log rows (DNS) the same way: the newest page and pages ending at
        # random times; a route of a kind with no rows is timed on empty answers.
        logs = list(get("/api/dns?limit=1000")["rows"])
        if a.span and logs:
            for _ in range(10):
                logs += get(f"/api/dns?limit=200&to={rnd.uniform(lo, hi):.9f}")["rows"]
        log_clients = [r["orig_h"] for r in logs] or ["10.0.0.1"]
        log_servers = [r["resp_h"] for r in logs] or ["10.0.0.2"]
        log_uids = [r["uid"] for r in logs] or ["CAbsent00000000000"]

        def lq(kind, **kw):
            return f"/api/{kind}?" + urllib.parse.urlencode(kw)

        def net(ip):
            if ":" in ip:
                return ip + "/64"
            return ".".join(ip.split(".")[:3]) + ".0/24"

        routes = [
            ("/api/packets", lambda: "/api/packets"),
            ("/api/packets?ip=", lambda: q(ip=rnd.choice(ips))),
            ("/api/packets?ip=NET/24", lambda: q(ip=net(rnd.choice(ips)))),
            ("/api/packets?port=", lambda: q(port=rnd.choice(ports + dports))),
            ("/api/packets?sport=", lambda: q(sport=rnd.choice(ports))),
            ("/api/packets?dport=", lambda: q(dport=rnd.choice(dports))),
            ("/api/packets?transport=", lambda: q(transport=rnd.choice(["tcp", "udp", "icmp"]))),
            ("/api/packets?app=", lambda: q(app=rnd.choice(["DNS", "TLS", "HTTP", "SSH"]))),
            ("/api/packets?from=&to= (1 s)", lambda: (lambda t: q(**{"from": f"{t:.6f}", "to": f"{t + 1:.6f}"}))(rnd.choice(times))),
            ("/api/packets?ip=&port=", lambda: (lambda r: q(ip=r.get("src", "10.0.0.1"), port=r.get("dport", 80)))(rnd.choice(rows))),
            ("/api/flows", lambda: "/api/flows"),
            ("/api/flows?sort=bytes", lambda: "/api/flows?sort=bytes"),
            ("/api/flows?sort=packets", lambda: "/api/flows?sort=packets"),
            ("/api/flows?ip=", lambda: "/api/flows?" + urllib.parse.urlencode({"ip": rnd.choice(ips)})),
            ("/api/flows?dport=", lambda: "/api/flows?" + urllib.parse.urlencode({"dport": rnd.choice(dports)})),
            ("/api/protocol_summary", lambda: "/api/protocol_summary"),
            ("/api/talkers", lambda: "/api/talkers"),
            ("/api/talkers?from=&to= (1 s)", lambda: (lambda t: "/api/talkers?" + urllib.parse.urlencode(
                {"from": f"{t:.6f}", "to": f"{t + 1:.6f}"}))(rnd.choice(times))),
            ("/api/timeseries", lambda: "/api/timeseries"),
            # The dashboard's filters on its summaries: transport/app from the rollups,
            # an address or port from flows.
            ("/api/timeseries?transport=", lambda: "/api/timeseries?transport=" + rnd.choice(["tcp", "udp"])),
            ("/api/protocol_summary?transport=", lambda: "/api/protocol_summary?transport=" + rnd.choice(["tcp", "udp"])),
            ("/api/protocol_summary?ip=", lambda: "/api/protocol_summary?" + urllib.parse.urlencode({"ip": rnd.choice(ips)})),
            ("/api/protocol_summary?port=", lambda: "/api/protocol_summary?" + urllib.parse.urlencode({"port": rnd.choice(dports)})),
            ("/api/talkers?ip=", lambda: "/api/talkers?" + urllib.parse.urlencode({"ip": rnd.choice(ips)})),
            ("/api/stats?capture=", lambda: "/api/stats?capture=" + capture),
            ("/api/dns", lambda: "/api/dns"),
            ("/api/dns?ip= (a client)", lambda: lq("dns", ip=rnd.choice(log_clients))),
            ("/api/dns?ip= (a server)", lambda: lq("dns", ip=rnd.choice(log_servers))),
            ("/api/dns?ip= (absent)", lambda: lq("dns", ip="198.51.100.%d" % rnd.randrange(1, 255))),
            ("/api/dns?src=&dst=", lambda: (lambda r: lq("dns", src=r["orig_h"], dst=r["resp_h"]))(
                rnd.choice(logs) if logs else {"orig_h": "10.0.0.1", "resp_h": "10.0.0.2"})),
            ("/api/dns?flow=", lambda: lq("dns", flow=rnd.choice(log_uids))),
            ("/api/dns?ip=NET/24", lambda: lq("dns", ip=net(rnd.choice(log_clients)))),
            ("/api/dns?dport=", lambda: lq("dns", dport=53)),
            ("/api/http?ip=", lambda: lq("http", ip=rnd.choice(log_clients))),
            ("/api/tls?ip=", lambda: lq("tls", ip=rnd.choice(log_clients))),
            ("/api/hosts", lambda: "/api/hosts"),
            ("/api/hosts?from=&to= (1 s)", lambda: (lambda t: "/api/hosts?" + urllib.parse.urlencode(
                {"from": f"{t:.6f}", "to": f"{t + 1:.6f}"}))(rnd.choice(times))),
            ("/api/hosts?category=", lambda: "/api/hosts?category=" + rnd.choice(["private", "public"])),
            ("/api/hosts?name=", lambda: "/api/hosts?name=" + rnd.choice(["example", "sniff", "absent-name"])),
            ("/api/hosts/{ip}", lambda: "/api/hosts/" + urllib.parse.quote(rnd.choice(ips), safe=":")),
        ]
        print(f"{'route':<34} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        if a.only:
            routes = [(n, m) for n, m in routes if re.search(a.only, n)]
        for name, make in routes:
            lat = []
            for _ in range(a.requests):
                path = make()
                t0 = time.perf_counter()
                get(path)
                lat.append((time.perf_counter() - t0) * 1000)
            lat.sort()
            p50 = lat[len(lat) // 2]
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            print(f"{name:<34} {p50:8.1f} {p99:8.1f} {lat[-1]:8.1f}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
