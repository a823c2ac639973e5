#!/usr/bin/env python3
"""WebSocket fan-out while ingesting (issue 6 §10): `sniff -i lo --serve` capturing a UDP
flood on loopback, N WebSocket clients on /ws/live; reports what each client received
and what the capture counted and dropped. Needs root.

usage: scripts/bench-fanout.py --sniff .build-server/debug/sniff [--clients 100] [--seconds 10] [--senders 2]
                                [--rate 200000]

With --rate, the traffic comes from Benchmarks/livegen/udpgen.c (compiled here with cc -O2),
which paces sendmmsg bursts to RATE packets per second; without it, SENDERS Python
processes send as fast as they can (about 100-150 k packets/s in all on 2 cores).
"""
import argparse, base64, json, os, socket, subprocess, tempfile, threading, time, urllib.request, multiprocessing


def flood(seconds, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    end = time.time() + seconds; n = 0; payload = b"x" * 32
    while time.time() < end:
        for _ in range(1000):
            s.sendto(payload, ("127.0.0.1", port)); n += 1
    return n


def client(port, stop, out, i):
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f"GET /ws/live HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    s.settimeout(0.5)
    stats = rows_msgs = nbytes = 0
    while not stop.is_set():
        try:
            d = s.recv(1 << 16)
            if not d: break
            nbytes += len(d); stats += d.count(b'"type":"stats"'); rows_msgs += d.count(b'"type":"packets"')
        except socket.timeout:
            pass
    out[i] = (stats, rows_msgs, nbytes)
    s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sniff", required=True); ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=10); ap.add_argument("--senders", type=int, default=2)
    ap.add_argument("--rate", type=int, default=0)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="sniff-fanout-")
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    p = subprocess.Popen([os.path.abspath(a.sniff), "-i", "lo", "-q", "--direction", "in", "--serve", "--db", "sqlite:" + os.path.join(work, "f.db"),
                          "--store-packets", "sample:100", "--listen", f"127.0.0.1:{port}", "udp", "port", "39997"],
                         cwd=work, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "sniff.log"), "w"))
    for _ in range(100):
        try: urllib.request.urlopen(f"http://127.0.0.1:{port}/api/stats", timeout=1); break
        except Exception: time.sleep(0.2)
    stop = threading.Event(); out = [None] * a.clients
    ts = [threading.Thread(target=client, args=(port, stop, out, i)) for i in range(a.clients)]
    for t in ts: t.start()
    time.sleep(1)
    if a.rate > 0:
        gen = os.path.join(work, "udpgen")
        here = os.path.dirname(os.path.abspath(__file__))
        subprocess.run(["cc", "-O2", "-o", gen, os.path.join(here, "..", "Benchmarks", "livegen", "udpgen.c")], check=True)
        t0 = time.time()
        r = subprocess.run([gen, "127.0.0.1", "39997", str(a.rate), str(a.seconds)], capture_output=True, text=True,
                           timeout=a.seconds + 30)
        elapsed = time.time() - t0
        # udpgen prints "SENT SECONDS RATE"; nothing if it failed.
        fields = r.stdout.split()
        sent = int(fields[0]) if fields else 0
    else:
        with multiprocessing.Pool(a.senders) as pool:
            t0 = time.time()
            sent = sum(pool.starmap(flood, [(a.seconds, 39997)] * a.senders))
            elapsed = time.time() - t0
    time.sleep(1.5)
    st = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/stats").read())
    stop.set()
    for t in ts: t.join()
    p.send_signal(2); p.wait(60)
    got = [o for o in out if o]
    print(f"sent {sent} UDP packets in {elapsed:.1f} s ({sent / elapsed:.0f}/s) with " + (f"udpgen at {a.rate}/s" if a.rate else f"{a.senders} senders"))
    print(f"live: {st['live_stats']['packets']} packets analysed; drops kernel {st['live_stats']['kernel_dropped']} sniff {st['live_stats']['sniff_dropped']}")
    print(f"{len(got)} of {a.clients} WebSocket clients stayed connected; stats messages per client min {min(g[0] for g in got)} max {max(g[0] for g in got)}; "
          f"packet messages per client min {min(g[1] for g in got)}; bytes per client {sum(g[2] for g in got) / len(got) / 1e6:.2f} MB; "
          f"slow clients disconnected {st['live_stats']['slow_clients_disconnected']}")
    print(open(os.path.join(work, "sniff.log")).read()[-600:])


if __name__ == "__main__":
    main()
