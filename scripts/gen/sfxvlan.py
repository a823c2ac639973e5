#!/usr/bin/env python3
"""802.1Q and 802.1ad (QinQ) traffic over a veth pair, from user space.

Why user space: the kernel this was recorded on has no CONFIG_VLAN_8021Q, so
`ip link add ... type vlan` (and bridge VLAN filtering) is unavailable. The
frames are therefore written by this program through an AF_PACKET socket on
one end of a veth pair and answered by this program on the other end. The
kernel still carries every frame over the veth, and tcpdump records them on
the parent interface exactly as it would record kernel VLAN traffic: tags
the receive path moved into packet metadata are put back in place by libpcap
(PACKET_AUXDATA, including the 0x88a8 TPID).

    sfxvlan.py respond IFACE [--timeout S]   answer ARP, ICMP echo, ICMPv6 echo
                                             and UDP (echo) on any VLAN stack
    sfxvlan.py send IFACE PEER_MAC           the fixed sequence documented in
                                             SEQUENCE below

Addresses (all inside 10.77.0.0/24 and fd77::/64, in private namespaces):
    VLAN 100 (802.1Q):             10.77.0.101 -> 10.77.0.102, fd77::100:1 -> fd77::100:2
    QinQ S-tag 200 / C-tag 300:    10.77.0.201 -> 10.77.0.202
"""

import argparse
import ipaddress
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40
PACKET_OUTGOING = 4

# Which addresses the responder owns on which tag stack.
OWNED = {
    ((0x8100, 100),): ["10.77.0.102", "fd77::100:2"],
    ((0x88A8, 200), (0x8100, 300)): ["10.77.0.202"],
}

UDP_PORT = 47100


def mac_bytes(s):
    return bytes.fromhex(s.replace(":", ""))


def iface_mac(name):
    with open("/sys/class/net/%s/address" % name) as f:
        return mac_bytes(f.read().strip())


def csum(data):
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, proto, payload, ident):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0,
                      ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:] + payload


def pseudo4(src, dst, proto, length):
    return ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed + struct.pack("!BBH", 0, proto, length)


def pseudo6(src, dst, proto, length):
    return ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed + struct.pack("!IxxxB", length, proto)


def udp4(src, dst, sport, dport, payload, ident):
    u = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = csum(pseudo4(src, dst, 17, len(u)) + u) or 0xFFFF
    return ipv4(src, dst, 17, u[:6] + struct.pack("!H", c) + u[8:], ident)


def icmp4(src, dst, itype, ident, seq, data, ipid):
    m = struct.pack("!BBHHH", itype, 0, 0, ident, seq) + data
    m = m[:2] + struct.pack("!H", csum(m)) + m[4:]
    return ipv4(src, dst, 1, m, ipid)


def icmp6(src, dst, itype, ident, seq, data):
    m = struct.pack("!BBHHH", itype, 0, 0, ident, seq) + data
    m = m[:2] + struct.pack("!H", csum(pseudo6(src, dst, 58, len(m)) + m)) + m[4:]
    hdr = struct.pack("!IHBB", 0x60000000, len(m), 58, 64)
    return hdr + ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed + m


def arp(op, smac, sip, tmac, tip):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, smac, ipaddress.IPv4Address(sip).packed,
                       tmac, ipaddress.IPv4Address(tip).packed)


def frame(dst, src, tags, ethertype, payload, pcp=0):
    """tags: outermost first, as (tpid, vid); pcp goes into every tag."""
    out = dst + src
    for tpid, vid in tags:
        out += struct.pack("!HH", tpid, (pcp << 13) | vid)
    return out + struct.pack("!H", ethertype) + payload


def split(data, aux_tag):
    """Return (tags, ethertype, payload) with the metadata tag put first."""
    tags = [aux_tag] if aux_tag else []
    off = 12
    etype = struct.unpack_from("!H", data, off)[0]
    while etype in (0x8100, 0x88A8) and off + 6 <= len(data):
        tags.append((etype, struct.unpack_from("!H", data, off + 2)[0] & 0x0FFF))
        off += 4
        etype = struct.unpack_from("!H", data, off)[0]
    return tuple(tags), etype, data[off + 2:]


def reply_for(mymac, tags, etype, p):
    """The answer the owner of an address on this tag stack would send, or None."""
    owned = OWNED.get(tags, [])
    if etype == 0x0806 and len(p) >= 28:
        op, smac, sip, tip = struct.unpack_from("!H", p, 6)[0], p[8:14], p[14:18], p[24:28]
        tip_s = str(ipaddress.IPv4Address(tip))
        if op == 1 and tip_s in owned:
            return smac, 0x0806, arp(2, mymac, tip_s, smac, str(ipaddress.IPv4Address(sip)))
    elif etype == 0x0800 and len(p) >= 20:
        ihl = (p[0] & 0x0F) * 4
        proto, ipid = p[9], struct.unpack_from("!H", p, 4)[0]
        src, dst = str(ipaddress.IPv4Address(p[12:16])), str(ipaddress.IPv4Address(p[16:20]))
        if dst not in owned:
            return None
        l4 = p[ihl:struct.unpack_from("!H", p, 2)[0]]
        if proto == 1 and l4[0] == 8:
            ident, seq = struct.unpack_from("!HH", l4, 4)
            return None, 0x0800, icmp4(dst, src, 0, ident, seq, l4[8:], ipid ^ 0x8000)
        if proto == 17:
            sport, dport = struct.unpack_from("!HH", l4)
            if dport == UDP_PORT:
                return None, 0x0800, udp4(dst, src, dport, sport, l4[8:], ipid ^ 0x8000)
    elif etype == 0x86DD and len(p) >= 48:
        src = str(ipaddress.IPv6Address(p[8:24]))
        dst = str(ipaddress.IPv6Address(p[24:40]))
        if p[6] == 58 and p[40] == 128 and dst in owned:
            ident, seq = struct.unpack_from("!HH", p, 44)
            return None, 0x86DD, icmp6(dst, src, 129, ident, seq, p[48:40 + struct.unpack_from("!H", p, 4)[0]])
    return None


def cmd_respond(a):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.bind((a.iface, 0))
    mymac = iface_mac(a.iface)
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data, anc, _, addr = s.recvmsg(65535, socket.CMSG_SPACE(20))
        except socket.timeout:
            break
        if addr[2] == PACKET_OUTGOING or len(data) < 14:
            continue
        aux_tag = None
        for level, ctype, cdata in anc:
            if level == SOL_PACKET and ctype == PACKET_AUXDATA and len(cdata) >= 20:
                status, _, _, _, _, tci, tpid = struct.unpack_from("IIIHHHH", cdata)
                if status & TP_STATUS_VLAN_VALID:
                    tpid = tpid if status & TP_STATUS_VLAN_TPID_VALID else 0x8100
                    aux_tag = (tpid, tci & 0x0FFF)
        tags, etype, payload = split(data, aux_tag)
        r = reply_for(mymac, tags, etype, payload)
        if r:
            dst = r[0] or data[6:12]
            s.send(frame(dst, mymac, tags, r[1], r[2]))


V100 = ((0x8100, 100),)
QINQ = ((0x88A8, 200), (0x8100, 300))
BCAST = b"\xff" * 6

# (tags, pcp, what) in the order sent; see cmd_send for the payloads.
SEQUENCE = [
    (V100, 0, "arp 10.77.0.102"),
    (V100, 0, "ping 10.77.0.102 seq 1"),
    (V100, 0, "ping 10.77.0.102 seq 2"),
    (V100, 0, "ping 10.77.0.102 seq 3"),
    (V100, 3, "udp 10.77.0.102 24 bytes"),
    (V100, 3, "udp 10.77.0.102 200 bytes"),
    (V100, 0, "ping6 fd77::100:2 seq 1"),
    (QINQ, 0, "arp 10.77.0.202"),
    (QINQ, 0, "ping 10.77.0.202 seq 1"),
    (QINQ, 0, "ping 10.77.0.202 seq 2"),
    (QINQ, 5, "udp 10.77.0.202 24 bytes"),
    (QINQ, 5, "udp 10.77.0.202 200 bytes"),
]


def cmd_send(a):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((a.iface, 0))
    me, peer = iface_mac(a.iface), mac_bytes(a.peer_mac)
    ipid = 0x7700
    for tags, pcp, what in SEQUENCE:
        verb, target = what.split()[:2]
        src = "10.77.0.101" if target.startswith("10.77.0.1") else "10.77.0.201"
        ipid += 1
        if verb == "arp":
            f = frame(BCAST, me, tags, 0x0806, arp(1, me, src, b"\x00" * 6, target), pcp)
        elif verb == "ping":
            seq = int(what.split()[-1])
            f = frame(peer, me, tags, 0x0800,
                      icmp4(src, target, 8, 0x5f00 | tags[-1][1] & 0xFF, seq, b"sniff-vlan-ping-" * 3, ipid), pcp)
        elif verb == "udp":
            n = int(what.split()[2])
            data = (b"sniff-vlan-udp-" * 20)[:n]
            f = frame(peer, me, tags, 0x0800, udp4(src, target, 40100, UDP_PORT, data, ipid), pcp)
        elif verb == "ping6":
            seq = int(what.split()[-1])
            f = frame(peer, me, tags, 0x86DD, icmp6("fd77::100:1", target, 128, 0x5f64, seq, b"sniff-vlan-ping6"), pcp)
        else:
            raise SystemExit("bad sequence entry %r" % what)
        s.send(f)
        time.sleep(a.gap)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("respond")
    r.add_argument("iface")
    r.add_argument("--timeout", type=float, default=20)
    r.set_defaults(fn=cmd_respond)
    snd = sub.add_parser("send")
    snd.add_argument("iface")
    snd.add_argument("peer_mac")
    snd.add_argument("--gap", type=float, default=0.05)
    snd.set_defaults(fn=cmd_send)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
