"""DNS message encoding and the fixed zone served by the fixture responder.

Only what the fixtures need: parse a query, answer it from a small static
zone, and encode the answer the way real servers do, with name compression
(RFC 1035 4.1.4), so captures contain 0xC0xx pointers in owner names and in
RDATA (CNAME targets, MX exchanges, SOA names). Labels are raw bytes, so a
query may carry any byte (the XSS fixture relies on that).

Standard library only.
"""

import ipaddress
import struct

T_A, T_NS, T_CNAME, T_SOA, T_PTR, T_MX, T_TXT, T_AAAA, T_OPT = 1, 2, 5, 6, 12, 15, 16, 28, 41
TYPE_NAMES = {"A": T_A, "NS": T_NS, "CNAME": T_CNAME, "SOA": T_SOA, "PTR": T_PTR,
              "MX": T_MX, "TXT": T_TXT, "AAAA": T_AAAA, "ANY": 255}
C_IN = 1
RCODE_NOERROR, RCODE_FORMERR, RCODE_NXDOMAIN, RCODE_REFUSED = 0, 1, 3, 5


def labels_of(name):
    """'www.sniff.test' -> [b'www', b'sniff', b'test'] (trailing dot optional)."""
    name = name.rstrip(".")
    return [p.encode("utf-8") for p in name.split(".")] if name else []


def key_of(labels):
    return tuple(l.lower() for l in labels)


ZONE_APEX = key_of(labels_of("sniff.test"))
SOA = ("ns1.sniff.test", "hostmaster.sniff.test", 2024010101, 3600, 600, 86400, 60)

# owner -> [(type, ttl, rdata)]; rdata is an address, a name, or a tuple.
ZONE = {
    "sniff.test": [(T_SOA, 300, SOA), (T_NS, 300, "ns1.sniff.test")],
    "ns1.sniff.test": [(T_A, 300, "10.77.0.2"), (T_AAAA, 300, "fd77::2")],
    "www.sniff.test": [(T_A, 300, "10.77.0.80"), (T_AAAA, 300, "fd77::80")],
    # alias -> chain1 -> www: a query for alias gets CNAME, CNAME, A.
    "alias.sniff.test": [(T_CNAME, 300, "chain1.sniff.test")],
    "chain1.sniff.test": [(T_CNAME, 300, "www.sniff.test")],
    # many records whose owners all compress to the question name
    "multi.sniff.test": [(T_A, 60, "10.77.0.11"), (T_A, 60, "10.77.0.12"),
                         (T_A, 60, "10.77.0.13"), (T_AAAA, 60, "fd77::11")],
    "mail.sniff.test": [(T_MX, 300, (10, "mx1.sniff.test")), (T_MX, 300, (20, "mx2.sniff.test"))],
    "mx1.sniff.test": [(T_A, 300, "10.77.0.25")],
    "mx2.sniff.test": [(T_A, 300, "10.77.0.26")],
    "txt.sniff.test": [(T_TXT, 300, ["v=sniff1", "fixture text record"])],
    # 200 A records (3.2 kB of answers): a UDP answer larger than one frame, which the
    # IP layer fragments (frag.pcap).
    "big.sniff.test": [(T_A, 60, "10.79.%d.%d" % (i // 250, i % 250 + 1)) for i in range(200)],
}
ZONE = {key_of(labels_of(k)): v for k, v in ZONE.items()}

# Multicast DNS names (RFC 6762), answered with the cache-flush bit set.
MDNS_ZONE = {
    key_of(labels_of("sniffer.local")): [(T_A, 120, "10.77.0.2"), (T_AAAA, 120, "fd77::2")],
}


class Writer:
    """Builds a DNS message, compressing names against earlier ones."""

    def __init__(self):
        self.buf = bytearray()
        self.offsets = {}

    def u8(self, v):
        self.buf += struct.pack("!B", v)

    def u16(self, v):
        self.buf += struct.pack("!H", v)

    def u32(self, v):
        self.buf += struct.pack("!I", v)

    def name(self, labels, compress=True):
        for i in range(len(labels)):
            key = key_of(labels[i:])
            if compress and key in self.offsets:
                self.u16(0xC000 | self.offsets[key])
                return
            if len(self.buf) < 0x3FFF:
                self.offsets.setdefault(key, len(self.buf))
            self.u8(len(labels[i]))
            self.buf += labels[i]
        self.u8(0)

    def rr(self, owner, rtype, ttl, rdata, rclass=C_IN):
        self.name(owner)
        self.u16(rtype)
        self.u16(rclass)
        self.u32(ttl)
        at = len(self.buf)
        self.u16(0)
        if rtype == T_A:
            self.buf += ipaddress.IPv4Address(rdata).packed
        elif rtype == T_AAAA:
            self.buf += ipaddress.IPv6Address(rdata).packed
        elif rtype in (T_CNAME, T_NS, T_PTR):
            self.name(labels_of(rdata))
        elif rtype == T_MX:
            self.u16(rdata[0])
            self.name(labels_of(rdata[1]))
        elif rtype == T_SOA:
            self.name(labels_of(rdata[0]))
            self.name(labels_of(rdata[1]))
            for v in rdata[2:]:
                self.u32(v)
        elif rtype == T_TXT:
            for s in rdata:
                b = s.encode()
                self.u8(len(b))
                self.buf += b
        else:
            raise ValueError("unsupported type %d" % rtype)
        struct.pack_into("!H", self.buf, at, len(self.buf) - at - 2)


class Query:
    def __init__(self, ident, flags, labels, qtype, qclass, has_opt):
        self.id, self.flags, self.labels = ident, flags, labels
        self.qtype, self.qclass, self.has_opt = qtype, qclass, has_opt

    @property
    def is_response(self):
        return bool(self.flags & 0x8000)


def read_name(msg, off):
    labels, jumps, end = [], 0, None
    while True:
        if off >= len(msg):
            raise ValueError("name runs past end")
        n = msg[off]
        if n == 0:
            off += 1
            break
        if n & 0xC0 == 0xC0:
            if off + 1 >= len(msg) or jumps > 16:
                raise ValueError("bad pointer")
            if end is None:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            jumps += 1
            continue
        labels.append(bytes(msg[off + 1:off + 1 + n]))
        off += 1 + n
    return labels, (end if end is not None else off)


def parse(msg):
    """Parse the header and first question; note whether an OPT RR is present."""
    if len(msg) < 12:
        raise ValueError("short message")
    ident, flags, qd, an, ns, ar = struct.unpack_from("!6H", msg)
    if qd < 1:
        return Query(ident, flags, [], 0, 0, False)
    labels, off = read_name(msg, 12)
    qtype, qclass = struct.unpack_from("!HH", msg, off)
    off += 4
    has_opt = False
    try:
        for _ in range(an + ns + ar):
            _, off = read_name(msg, off)
            rtype, _, _, rdlen = struct.unpack_from("!HHIH", msg, off)
            off += 10 + rdlen
            has_opt = has_opt or rtype == T_OPT
    except (ValueError, struct.error):
        pass
    return Query(ident, flags, labels, qtype, qclass, has_opt)


def in_zone(key, apex):
    return key[len(key) - len(apex):] == apex if len(key) >= len(apex) else False


def answer(query):
    """Unicast DNS: answer from ZONE, following CNAME chains inside it."""
    w = Writer()
    answers, authority, additional = [], [], []
    key = key_of(query.labels)
    if not in_zone(key, ZONE_APEX):
        rcode = RCODE_REFUSED
    else:
        rcode = RCODE_NOERROR
        owner, found = query.labels, False
        for _ in range(8):
            rrs = ZONE.get(key_of(owner))
            if rrs is None:
                if not found:
                    rcode = RCODE_NXDOMAIN
                break
            found = True
            hits = [r for r in rrs if r[0] == query.qtype or query.qtype == 255]
            if hits:
                answers += [(owner, *r) for r in hits]
                break
            cname = [r for r in rrs if r[0] == T_CNAME]
            if not cname:
                break
            answers.append((owner, *cname[0]))
            owner = labels_of(cname[0][2])
        nodata = not answers or (answers[-1][1] == T_CNAME and query.qtype != T_CNAME)
        if rcode == RCODE_NXDOMAIN or nodata:
            authority.append((labels_of("sniff.test"), T_SOA, 60, SOA))
        for a in answers:
            if a[1] == T_MX:
                for r in ZONE.get(key_of(labels_of(a[3][1])), []):
                    if r[0] in (T_A, T_AAAA):
                        additional.append((labels_of(a[3][1]), *r))
    flags = 0x8000 | 0x0400 | (query.flags & 0x0100) | rcode  # QR AA RD
    w.u16(query.id)
    w.u16(flags)
    for n in (1, len(answers), len(authority), len(additional) + (1 if query.has_opt else 0)):
        w.u16(n)
    w.name(query.labels)
    w.u16(query.qtype)
    w.u16(query.qclass)
    for owner, rtype, ttl, rdata in answers + authority + additional:
        w.rr(owner, rtype, ttl, rdata)
    if query.has_opt:
        w.u8(0)          # root owner
        w.u16(T_OPT)
        w.u16(1232)      # UDP payload size
        w.u32(0)
        w.u16(0)
    return bytes(w.buf)


def mdns_answer(query):
    """Multicast DNS response (RFC 6762 6): id 0, no question, cache-flush."""
    rrs = MDNS_ZONE.get(key_of(query.labels))
    hits = [r for r in rrs or [] if r[0] == query.qtype or query.qtype == 255]
    if not hits:
        return None
    w = Writer()
    for v in (0, 0x8400, 0, len(hits), 0, 0):
        w.u16(v)
    for rtype, ttl, rdata in hits:
        w.rr(query.labels, rtype, ttl, rdata, rclass=0x8000 | C_IN)
    return bytes(w.buf)


def build_query(labels, qtype, ident=0x5353, rd=True, qu=False):
    """A query for raw-byte labels, written without compression."""
    w = Writer()
    for v in (ident, 0x0100 if rd else 0, 1, 0, 0, 0):
        w.u16(v)
    w.name(labels, compress=False)
    w.u16(qtype)
    w.u16(C_IN | (0x8000 if qu else 0))
    return bytes(w.buf)
