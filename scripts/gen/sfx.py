#!/usr/bin/env python3
"""Bounded traffic generators for scripts/record-fixtures.sh.

    sfx.py serve [--timeout S] SPEC...   run services until killed or S seconds
    sfx.py CLIENT ...                    one bounded client action (see --help)

A SPEC is KIND@ADDR:PORT (IPv6 as KIND@[::1]:53). Kinds:
    udp-sink   read and discard datagrams (so no ICMP port unreachable)
    udp-echo   send every datagram back
    tcp-reply  read one request, answer REPLY, close after the peer closes
    http       http.server: 200 with a fixed 19-byte body (48 KiB for /big...)
    http-keepalive  http.server that keeps connections open (pipelining): GET and
               HEAD as http, /chunked... in chunked coding, POST read and answered
               201, anything under /missing 404; closes on "Connection: close"
    ssh        send an SSH-2.0 banner, read the client's banner, close
    dns        the sfxdns responder on UDP and TCP (length-prefixed)
    mdns       multicast DNS on ADDR's interface (ADDR = interface address),
               joined to 224.0.0.251 or ff02::fb, port must be 5353

Every socket has a timeout and every client does a fixed, small amount of
work, so a run is bounded in packets and time even if a peer misbehaves.
The record script wraps each process in timeout(1) as well. Standard
library only (plus `cryptography` for the QUIC Initial, optional).
"""

import argparse
import http.server
import ipaddress
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sfxdns  # noqa: E402
import sfxquic  # noqa: E402

TCP_REPLY = b"pong from the sniff fixture server\n"
HTTP_BODY = b"sniff fixture page\n"
BIG_BODY_LEN = 48 * 1024  # GET /big...: a bulk transfer of many full segments
SSH_SERVER_BANNER = b"SSH-2.0-OpenSSH_9.2\r\n"
SSH_CLIENT_BANNER = b"SSH-2.0-SniffFixture_1.0\r\n"
IO_TIMEOUT = 3.0


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def parse_spec(spec):
    kind, _, hostport = spec.partition("@")
    if hostport.startswith("["):
        host, _, port = hostport[1:].partition("]:")
    else:
        host, _, port = hostport.rpartition(":")
    return kind, host, int(port)


def log(*a):
    print("sfx:", *a, file=sys.stderr, flush=True)


def bound_socket(addr, port, kind, reuse=True):
    s = socket.socket(family(addr), kind)
    if reuse:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family(addr) == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port))
    return s


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def drain_until_eof(conn):
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass


# --------------------------------------------------------------- services

def tcp_accept_loop(listener, handler):
    while True:
        conn, _ = listener.accept()
        conn.settimeout(IO_TIMEOUT)
        threading.Thread(target=guarded, args=(handler, conn), daemon=True).start()


def guarded(handler, conn):
    try:
        handler(conn)
    except OSError as e:  # resets are part of several fixtures
        log("connection ended:", e)
    finally:
        conn.close()


def handle_tcp_reply(conn):
    if conn.recv(4096):
        conn.sendall(TCP_REPLY)
    drain_until_eof(conn)


def handle_ssh(conn):
    conn.sendall(SSH_SERVER_BANNER)
    conn.recv(4096)
    drain_until_eof(conn)


def handle_dns_tcp(conn):
    while True:
        hdr = recv_exact(conn, 2)
        if hdr is None:
            return
        msg = recv_exact(conn, struct.unpack("!H", hdr)[0])
        if msg is None:
            return
        reply = sfxdns.answer(sfxdns.parse(msg))
        conn.sendall(struct.pack("!H", len(reply)) + reply)


def run_dns_udp(sock):
    while True:
        msg, peer = sock.recvfrom(65535)
        try:
            q = sfxdns.parse(msg)
            if not q.is_response:
                sock.sendto(sfxdns.answer(q), peer)
        except (ValueError, struct.error) as e:
            log("bad dns query:", e)


def run_mdns(addr):
    fam = family(addr)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET:
        group = "224.0.0.251"
        s.bind(("", 5353))
        mreq = socket.inet_aton(group) + socket.inet_aton(addr)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(addr))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        dest = (group, 5353)
    else:
        group = "ff02::fb"
        ifindex = interface_of(addr)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind(("", 5353))
        mreq = socket.inet_pton(socket.AF_INET6, group) + struct.pack("@I", ifindex)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        dest = (group, 5353, 0, ifindex)
    while True:
        msg, peer = s.recvfrom(65535)
        try:
            q = sfxdns.parse(msg)
        except (ValueError, struct.error):
            continue
        if q.is_response:
            continue
        reply = sfxdns.mdns_answer(q)
        if reply is None:
            continue
        # RFC 6762 6.7: queries not from port 5353 get a unicast ("legacy") reply
        unicast = peer[1] != 5353 or bool(q.qclass & 0x8000)
        s.sendto(reply, peer if unicast else dest)


def interface_of(addr):
    """Index of the interface that holds addr (IPv6 only needs this)."""
    want = ipaddress.ip_address(addr)
    with open("/proc/net/if_inet6") as f:
        for line in f:
            parts = line.split()
            if ipaddress.IPv6Address(bytes.fromhex(parts[0])) == want:
                return int(parts[1], 16)
    raise SystemExit("no interface has address %s" % addr)


class QuietHandler(http.server.BaseHTTPRequestHandler):
    server_version = "SniffFixture/1.0"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = pattern(BIG_BODY_LEN, "http") if self.path.startswith("/big") else HTTP_BODY
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args):
        pass


class KeepAliveHandler(http.server.BaseHTTPRequestHandler):
    server_version = "SniffFixture/1.0"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def reply(self, code, body, ctype="text/plain", head=False):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        if self.path.startswith("/chunked") and not head:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 700):
                part = body[i:i + 700]
                self.wfile.write(b"%x\r\n" % len(part) + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def body_for(self):
        if self.path.startswith("/missing"):
            return 404, b"not here\n"
        if self.path.startswith("/big") or self.path.startswith("/chunked"):
            return 200, pattern(BIG_BODY_LEN, "http")
        return 200, HTTP_BODY

    def do_GET(self):
        code, body = self.body_for()
        self.reply(code, body)

    def do_HEAD(self):
        code, body = self.body_for()
        self.reply(code, body, head=True)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        self.reply(201, b"stored %d bytes\n" % len(data), ctype="application/json; charset=utf-8")

    def log_message(self, *args):
        pass


def start_http(addr, port, handler=QuietHandler):
    class Server(http.server.ThreadingHTTPServer):
        address_family = family(addr)
        allow_reuse_address = True
        daemon_threads = True
    srv = Server((addr, port), handler)
    srv.timeout = IO_TIMEOUT
    threading.Thread(target=srv.serve_forever, daemon=True).start()


def start_service(spec):
    kind, addr, port = parse_spec(spec)
    run = None
    if kind in ("udp-sink", "udp-echo"):
        s = bound_socket(addr, port, socket.SOCK_DGRAM)

        def run(s=s, echo=kind == "udp-echo"):
            while True:
                data, peer = s.recvfrom(65535)
                if echo:
                    s.sendto(data, peer)
    elif kind in ("tcp-reply", "ssh"):
        s = bound_socket(addr, port, socket.SOCK_STREAM)
        s.listen(16)
        handler = handle_tcp_reply if kind == "tcp-reply" else handle_ssh

        def run(s=s, h=handler):
            tcp_accept_loop(s, h)
    elif kind == "dns":
        u = bound_socket(addr, port, socket.SOCK_DGRAM)
        t = bound_socket(addr, port, socket.SOCK_STREAM)
        t.listen(16)
        threading.Thread(target=tcp_accept_loop, args=(t, handle_dns_tcp), daemon=True).start()

        def run(u=u):
            run_dns_udp(u)
    elif kind == "http":
        start_http(addr, port)
    elif kind == "http-keepalive":
        start_http(addr, port, KeepAliveHandler)
    elif kind == "mdns":
        if port != 5353:
            raise SystemExit("mdns must use port 5353")

        def run(a=addr):
            run_mdns(a)
    else:
        raise SystemExit("unknown service kind %r" % kind)
    if run is not None:
        threading.Thread(target=run, daemon=True).start()


def cmd_serve(a):
    for spec in a.specs:
        start_service(spec)
    log("serving", " ".join(a.specs))
    time.sleep(a.timeout)


# --------------------------------------------------------------- clients

def client_socket(dst, kind, sport, src=None):
    s = socket.socket(family(dst), kind)
    s.settimeout(IO_TIMEOUT)
    if sport or src:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((src or ("::" if family(dst) == socket.AF_INET6 else "0.0.0.0"), sport or 0))
    return s


def pattern(n, seed):
    """Known payload: the repeating text 'sniff-<seed>-' cut to n bytes."""
    unit = ("sniff-%s-" % seed).encode()
    return (unit * (n // len(unit) + 1))[:n]


def cmd_udp_send(a):
    s = client_socket(a.dst, socket.SOCK_DGRAM, a.sport)
    for i, n in enumerate(int(x) for x in a.sizes.split(",")):
        s.sendto(pattern(n, "u%d" % n), (a.dst, a.port))
        if a.expect_echo:
            try:
                s.recvfrom(65535)
            except socket.timeout:
                log("no echo for datagram", i)
        time.sleep(a.gap)


def tcp_connect(a):
    s = client_socket(a.dst, socket.SOCK_STREAM, a.sport)
    s.connect((a.dst, a.port))
    return s


def cmd_tcp_exchange(a):
    """connect, send PAYLOAD, read the reply, then FIN (or RST with --abort)."""
    s = tcp_connect(a)
    s.sendall(a.payload.encode())
    reply = s.recv(4096)
    if a.abort:
        # SO_LINGER with zero timeout: close() sends RST instead of FIN
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        return
    s.shutdown(socket.SHUT_WR)
    drain_until_eof(s)
    s.close()
    if reply != TCP_REPLY:
        log("unexpected reply", reply)


def cmd_tcp_refused(a):
    try:
        tcp_connect(a).close()
        raise SystemExit("expected connection refused on port %d" % a.port)
    except ConnectionRefusedError:
        pass


def cmd_tcp_syn_only(a):
    """One SYN that is never answered: give up before the first retransmit (1 s)."""
    s = client_socket(a.dst, socket.SOCK_STREAM, a.sport)
    s.settimeout(a.wait)
    try:
        s.connect((a.dst, a.port))
        raise SystemExit("expected no answer from port %d" % a.port)
    except socket.timeout:
        pass
    finally:
        s.close()


def cmd_http_get(a):
    s = tcp_connect(a)
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\n"
           "Connection: close\r\n\r\n" % (a.path, a.host, a.user_agent))
    s.sendall(req.encode("utf-8"))
    drain_until_eof(s)
    s.close()


def cmd_http_pipeline(a):
    """Sends every request in one write (pipelining), the last with Connection: close,
    then reads until the server closes."""
    s = tcp_connect(a)
    reqs = []
    for i, item in enumerate(a.requests):
        method, path = item.split(" ", 1)
        last = i == len(a.requests) - 1
        headers = "Host: %s\r\nUser-Agent: %s\r\nReferer: http://%s/start\r\n" % (a.host, a.user_agent, a.host)
        body = b""
        if method == "POST":
            body = pattern(300, "post")
            headers += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n" % len(body)
        if last:
            headers += "Connection: close\r\n"
        reqs.append(("%s %s HTTP/1.1\r\n%s\r\n" % (method, path, headers)).encode("utf-8") + body)
    s.sendall(b"".join(reqs))
    drain_until_eof(s)
    s.close()


def cmd_ssh_banner(a):
    s = tcp_connect(a)
    banner = s.recv(4096)
    if not banner.startswith(b"SSH-2.0-"):
        raise SystemExit("unexpected banner %r" % banner)
    s.sendall(SSH_CLIENT_BANNER)
    s.shutdown(socket.SHUT_WR)
    drain_until_eof(s)
    s.close()


def cmd_dns_query(a):
    """A hand-built query; labels are taken byte for byte (any characters)."""
    labels = [l.encode("utf-8") for l in a.label]
    qtype = sfxdns.TYPE_NAMES[a.qtype]
    msg = sfxdns.build_query(labels, qtype, ident=a.id)
    s = client_socket(a.dst, socket.SOCK_STREAM if a.tcp else socket.SOCK_DGRAM, a.sport)
    if a.tcp:
        s.connect((a.dst, a.port))
        s.sendall(struct.pack("!H", len(msg)) + msg)
        s.shutdown(socket.SHUT_WR)
        drain_until_eof(s)
    else:
        s.sendto(msg, (a.dst, a.port))
        if a.wait > 0:
            s.settimeout(a.wait)
            try:
                s.recvfrom(65535)
            except socket.timeout:
                pass
    s.close()


def cmd_mdns_query(a):
    """Query from port 5353 to the mDNS group; the answer is multicast too."""
    labels = [l.encode() for l in a.name.rstrip(".").split(".")]
    msg = sfxdns.build_query(labels, sfxdns.TYPE_NAMES[a.qtype], ident=0, rd=False)
    if ":" in a.iface_addr:
        ifindex = interface_of(a.iface_addr)
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((a.iface_addr, 5353))
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        dest = ("ff02::fb", 5353, 0, ifindex)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a.iface_addr, 5353))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(a.iface_addr))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        dest = ("224.0.0.251", 5353)
    s.sendto(msg, dest)
    s.close()


def cmd_quic_initial(a):
    s = client_socket(a.dst, socket.SOCK_DGRAM, a.sport)
    s.sendto(sfxquic.initial_packet(sni=a.sni, dcid=bytes.fromhex(a.dcid)), (a.dst, a.port))
    s.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    sp = sub.add_parser("serve")
    sp.add_argument("--timeout", type=float, default=60)
    sp.add_argument("specs", nargs="+")
    sp.set_defaults(fn=cmd_serve)

    def client(name, fn, port=True):
        c = sub.add_parser(name)
        c.add_argument("dst")
        if port:
            c.add_argument("port", type=int)
        c.add_argument("--sport", type=int, default=0)
        c.set_defaults(fn=fn)
        return c

    c = client("udp-send", cmd_udp_send)
    c.add_argument("--sizes", required=True, help="comma-separated payload lengths")
    c.add_argument("--gap", type=float, default=0.02)
    c.add_argument("--expect-echo", action="store_true")
    c = client("tcp-exchange", cmd_tcp_exchange)
    c.add_argument("--payload", default="hello from the sniff fixture client\n")
    c.add_argument("--abort", action="store_true", help="close with RST (SO_LINGER 0)")
    client("tcp-refused", cmd_tcp_refused)
    c = client("tcp-syn-only", cmd_tcp_syn_only)
    c.add_argument("--wait", type=float, default=0.5)
    c = client("http-get", cmd_http_get)
    c.add_argument("--host", required=True)
    c.add_argument("--path", default="/")
    c.add_argument("--user-agent", default="sniff-fixture/1.0")
    c = client("http-pipeline", cmd_http_pipeline)
    c.add_argument("--host", required=True)
    c.add_argument("--user-agent", default="sniff-fixture/1.0")
    c.add_argument("requests", nargs="+", help='"METHOD /path", in order')
    client("ssh-banner", cmd_ssh_banner)
    c = client("dns-query", cmd_dns_query)
    c.add_argument("--label", action="append", required=True, help="one label; repeat")
    c.add_argument("--qtype", default="A", choices=sorted(sfxdns.TYPE_NAMES))
    c.add_argument("--id", type=lambda v: int(v, 0), default=0x5353)
    c.add_argument("--tcp", action="store_true")
    c.add_argument("--wait", type=float, default=1.0, help="wait this long for a UDP answer")
    c = sub.add_parser("mdns-query")
    c.add_argument("iface_addr", help="source address; picks the interface")
    c.add_argument("name")
    c.add_argument("--qtype", default="A", choices=sorted(sfxdns.TYPE_NAMES))
    c.set_defaults(fn=cmd_mdns_query)
    c = client("quic-initial", cmd_quic_initial)
    c.add_argument("--sni", default="sniff.example.test")
    c.add_argument("--dcid", default=sfxquic.RFC_DCID.hex(),
                   help="destination connection id (hex); the default is RFC 9001 A's")

    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
