#!/usr/bin/env python3
"""A small DNS server answering PTR queries, for the --resolve tests.

    ptr-resolver.py serve NAMES.json LOG READY [DELAY]
        Listens on UDP 127.0.0.1:53 (run it in a network namespace of its own), answers
        each PTR query for an address in NAMES.json ({"10.77.0.1": "client.sniff.test"})
        with that name and any other query with NXDOMAIN, after DELAY seconds (each query
        on its own thread, so that slow answers overlap). Appends one line per query to
        LOG: "<monotonic start> <monotonic end> <queries outstanding at start> <qname>".
        Creates READY once listening.
"""
import ipaddress
import json
import socket
import struct
import sys
import threading
import time


def reverse_name(address):
    return ipaddress.ip_address(address).reverse_pointer.lower()


def read_name(msg, off):
    labels = []
    while True:
        n = msg[off]
        if n == 0:
            return ".".join(labels), off + 1
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n


def encode_name(name):
    out = b""
    for label in name.strip(".").split("."):
        out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def serve(names_path, log_path, ready_path, delay):
    with open(names_path) as f:
        names = {reverse_name(a): n for a, n in json.load(f).items()}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 53))
    lock = threading.Lock()
    outstanding = [0]
    log = open(log_path, "a", buffering=1)
    open(ready_path, "w").close()

    def answer(msg, peer):
        start = time.monotonic()
        with lock:
            outstanding[0] += 1
            now_outstanding = outstanding[0]
        qname, reply = "?", None
        try:
            qname, off = read_name(msg, 12)
            qtype, = struct.unpack("!H", msg[off:off + 2])
            question = msg[12:off + 4]
            time.sleep(delay)
            name = names.get(qname.lower()) if qtype == 12 else None
            ident = struct.unpack("!H", msg[:2])[0]
            if name:
                rdata = encode_name(name)
                rr = b"\xc0\x0c" + struct.pack("!HHIH", 12, 1, 60, len(rdata)) + rdata
                reply = struct.pack("!HHHHHH", ident, 0x8580, 1, 1, 0, 0) + question + rr
            else:
                reply = struct.pack("!HHHHHH", ident, 0x8583, 1, 0, 0, 0) + question
        finally:
            # Counted and logged before the reply goes out: once the client has it, it
            # may ask again (or exit) at once.
            with lock:
                outstanding[0] -= 1
                log.write(f"{start:.6f} {time.monotonic():.6f} {now_outstanding} {qname}\n")
        if reply:
            sock.sendto(reply, peer)

    while True:
        msg, peer = sock.recvfrom(4096)
        if len(msg) < 17:
            continue
        threading.Thread(target=answer, args=(msg, peer), daemon=True).start()


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]) if len(sys.argv) > 5 else 0.0)
    else:
        sys.exit("usage: ptr-resolver.py serve NAMES.json LOG READY [DELAY]")
