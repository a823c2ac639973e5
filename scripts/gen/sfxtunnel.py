#!/usr/bin/env python3
"""A tunnel end point in user space, for the tunnel fixtures of record-fixtures.sh.

    sfxtunnel.py MODE LOCAL PEER INNER4 INNER6 [--id N] [--timeout S]

This kernel has VXLAN but no GENEVE, GRE, IPIP or SIT devices, so for those the
encapsulation is done here: a TUN device (a TAP device for GENEVE, which carries
Ethernet) named sfxt0 gets the inner addresses INNER4 (/24) and INNER6 (/64);
every packet the kernel routes into it is wrapped and sent to PEER (an IPv4
address), and every wrapped packet from PEER is unwrapped and handed back to the
kernel through the device. The traffic inside is the kernel's own (TCP, UDP,
ICMP from ordinary clients and servers); only the outer header is made here.

MODE and what goes on the wire:
    gre     IP proto 47, GRE with the key N (RFC 2890: K bit, 4-byte key)
    ipip    IP proto 4, IPv4 inside
    6in4    IP proto 41, IPv6 inside (what Linux's sit does)
    pim     IP proto 103, PIM Register (RFC 7761 4.9.3) carrying the packet
    geneve  UDP 6081 -> 6081, GENEVE VNI N, protocol 0x6558 (Ethernet)
    gtpu    UDP 2152 -> 2152, GTP-U G-PDU (type 255) with TEID N

Bounded: the process exits after --timeout seconds. Standard library only.
"""

import argparse
import fcntl
import os
import select
import socket
import struct
import subprocess
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
DEV = "sfxt0"


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def open_device(tap):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    flags = (IFF_TAP if tap else IFF_TUN) | IFF_NO_PI
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", DEV.encode(), flags))
    return fd


def configure(inner4, inner6, tap):
    def ip(*args):
        subprocess.run(["ip", *args], check=True)
    ip("link", "set", DEV, "mtu", "1400")
    if tap:
        # A fixed MAC per end, so that re-recordings keep the inner Ethernet header.
        last = inner4.split(".")[-1]
        ip("link", "set", DEV, "address", "02:78:00:00:00:%02x" % int(last))
    ip("link", "set", DEV, "addrgenmode", "none")
    ip("addr", "add", inner4 + "/24", "dev", DEV)
    ip("addr", "add", inner6 + "/64", "dev", DEV, "nodad")
    ip("link", "set", DEV, "up")
    if not tap:
        # Multicast (the PIM fixture's data packets) goes into the tunnel too.
        ip("route", "add", "239.0.0.0/8", "dev", DEV)


def wrap(mode, packet, ident):
    if mode == "gre":
        proto = 0x86DD if packet[0] >> 4 == 6 else 0x0800
        return struct.pack("!HHI", 0x2000, proto, ident) + packet
    if mode == "pim":
        head = struct.pack("!BBHI", 0x21, 0, 0, 0)
        # RFC 7761 4.9: a Register's checksum covers the PIM header only.
        return struct.pack("!BBHI", 0x21, 0, checksum(head), 0) + packet
    if mode == "geneve":
        return struct.pack("!BBHI", 0, 0, 0x6558, ident << 8) + packet
    if mode == "gtpu":
        return struct.pack("!BBHI", 0x30, 0xFF, len(packet), ident) + packet
    return packet  # ipip, 6in4


def unwrap(mode, payload):
    if mode == "gre":
        return payload[8:] if len(payload) > 8 else None
    if mode in ("pim", "geneve", "gtpu"):
        return payload[8:] if len(payload) > 8 else None
    return payload


PROTO = {"gre": 47, "ipip": 4, "6in4": 41, "pim": 103}
PORT = {"geneve": 6081, "gtpu": 2152}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=sorted(list(PROTO) + list(PORT)))
    p.add_argument("local")
    p.add_argument("peer")
    p.add_argument("inner4")
    p.add_argument("inner6")
    p.add_argument("--id", type=int, default=0)
    p.add_argument("--timeout", type=float, default=60)
    a = p.parse_args()
    tap = a.mode == "geneve"
    fd = open_device(tap)
    configure(a.inner4, a.inner6, tap)
    if a.mode in PROTO:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, PROTO[a.mode])
        sock.bind((a.local, 0))
        dest = (a.peer, 0)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((a.local, PORT[a.mode]))
        dest = (a.peer, PORT[a.mode])
    deadline = time.monotonic() + a.timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd, sock], [], [], left)
        if fd in ready:
            packet = os.read(fd, 65535)
            if not tap and packet and packet[0] >> 4 not in (4, 6):
                continue
            # Each tunnel carries one IP version, as the real ones do.
            if a.mode == "ipip" and packet[0] >> 4 != 4:
                continue
            if a.mode == "6in4" and (tap or packet[0] >> 4 != 6):
                continue
            sock.sendto(wrap(a.mode, packet, a.id), dest)
        if sock in ready:
            data, src = sock.recvfrom(65535)
            if src[0] != a.peer:
                continue
            if a.mode in PROTO:
                data = data[(data[0] & 0x0F) * 4:]  # a raw IPv4 socket gets the IP header
            inner = unwrap(a.mode, data)
            if inner:
                os.write(fd, inner)


if __name__ == "__main__":
    main()
