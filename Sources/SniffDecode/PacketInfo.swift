import SniffCore

/// The Info column, as Wireshark's: one line saying what a packet is. The one renderer
/// behind every output (NDJSON `info`, stored rows, the API, the dashboard, the feed and
/// the exports).
///
/// A line comes from one of two places:
/// - the frame, when it says more than the headers: a DNS question or answer, a TLS
///   ClientHello, an HTTP request, an SSH banner, an ICMP echo's id and sequence, a
///   neighbor solicitation's target, ARP addresses, a malformation's reason
///   (`writeFrameLine`);
/// - else the header fields a stored row keeps (`Header`): TCP ports, flags, seq, ack,
///   window and length; UDP ports and length; ICMP type and code names.
/// So storage keeps only the frame lines, and a row renders the rest itself, identical.
///
/// Writes into the caller's reused sink: no allocation. Nothing is rendered unless an
/// output asks for it. Bytes copied from the packet (names, paths, banners) have their
/// control characters replaced by "."; writers escape the rest for their format.
public enum PacketInfo {
    /// The header fields a line can be made of.
    public struct Header: Sendable, Equatable {
        public var transport = TransportKind.none
        public var ipProto: UInt8 = 0
        public var hasPorts = false
        public var sport: UInt16 = 0
        public var dport: UInt16 = 0
        public var hasTCP = false
        public var tcpFlags: UInt16 = 0
        public var seq: UInt32 = 0
        public var ack: UInt32 = 0
        public var window: UInt16 = 0
        public var hasPayloadLength = false
        public var payloadLength: UInt32 = 0
        public var hasICMP = false
        public var icmpType: UInt8 = 0
        public var icmpCode: UInt8 = 0

        public init() {}

        public init(_ p: DecodedPacket) {
            transport = p.transport; ipProto = p.ipProto
            hasPorts = p.hasPorts; sport = p.sport; dport = p.dport
            hasTCP = p.hasTCP; tcpFlags = p.tcp.flags; seq = p.tcp.seq; ack = p.tcp.ack; window = p.tcp.window
            hasPayloadLength = p.hasPayloadLength; payloadLength = p.payloadLength
            hasICMP = p.hasICMP; icmpType = p.icmpType; icmpCode = p.icmpCode
        }
    }

    /// The whole line for a decoded packet (empty when it has nothing to say).
    public static func write(_ p: DecodedPacket, frame: UnsafeRawBufferPointer, into s: inout ByteSink) {
        if !writeFrameLine(p, frame: frame, into: &s) { writeHeaderLine(Header(p), into: &s) }
    }

    /// Writes the line when the frame says more than the header fields, and returns
    /// true; else writes nothing and returns false (the line is `writeHeaderLine`'s).
    @discardableResult
    public static func writeFrameLine(_ p: DecodedPacket, frame: UnsafeRawBufferPointer, into s: inout ByteSink) -> Bool
    {
        let start = s.count
        let c = ByteCursor(frame)
        if p.isARP {
            writeARP(p, c, into: &s)
        } else if p.hasDNS {
            writeDNS(p.dns, c, into: &s)
        } else if p.hasICMP {
            writeICMPDetail(p, c, into: &s)
        } else if p.hasTCP, p.payloadCaptured > 0 {
            writeTCPPayload(p, c, into: &s)
        }
        if let m = p.malformed {
            if s.count == start {
                writeHeaderLine(Header(p), into: &s)
            }
            if s.count > start { s.append(0x20) }
            s.append("[malformed: " as StaticString)
            m.write(into: &s)
            s.append(UInt8(ascii: "]"))
        }
        return s.count > start
    }

    // MARK: header lines

    /// The line from header fields alone; what a stored row without a frame line shows.
    public static func writeHeaderLine(_ h: Header, into s: inout ByteSink) {
        if h.hasTCP {
            ports(h, &s)
            s.append(" [" as StaticString)
            writeFlagNames(h.tcpFlags, into: &s)
            s.append("] seq=" as StaticString); s.append(decimal: UInt64(h.seq))
            if h.tcpFlags & TCP.ack != 0 { s.append(" ack=" as StaticString); s.append(decimal: UInt64(h.ack)) }
            s.append(" win=" as StaticString); s.append(decimal: UInt64(h.window))
            s.append(" len=" as StaticString); s.append(decimal: UInt64(h.payloadLength))
        } else if h.transport == .udp && h.hasPorts {
            ports(h, &s)
            if h.hasPayloadLength { s.append(" len=" as StaticString); s.append(decimal: UInt64(h.payloadLength)) }
        } else if h.hasICMP {
            writeICMPName(type: h.icmpType, code: h.icmpCode, v6: h.transport == .icmpv6, into: &s)
        } else if h.transport == .gre {
            s.append("GRE" as StaticString)
        } else if h.transport == .other {
            s.append("IP protocol " as StaticString); s.append(decimal: UInt64(h.ipProto))
        }
    }

    private static func ports(_ h: Header, _ s: inout ByteSink) {
        s.append(decimal: UInt64(h.sport)); s.append(" → " as StaticString); s.append(decimal: UInt64(h.dport))
    }

    /// Wireshark's flag names, in header order of significance: "SYN, ACK".
    public static func writeFlagNames(_ flags: UInt16, into s: inout ByteSink) {
        var first = true
        for i in 0..<9 where flags & (UInt16(1) << UInt16(i)) != 0 {
            if !first { s.append(", " as StaticString) }
            first = false
            s.append(flagName(i))
        }
        if first { s.append("<none>" as StaticString) }
    }

    /// The flag of bit `i` (FIN is bit 0, AE bit 8).
    static func flagName(_ i: Int) -> StaticString {
        switch i {
        case 0: return "FIN"
        case 1: return "SYN"
        case 2: return "RST"
        case 3: return "PSH"
        case 4: return "ACK"
        case 5: return "URG"
        case 6: return "ECE"
        case 7: return "CWR"
        default: return "AE"
        }
    }

    /// "echo request", "destination unreachable (port)", "time exceeded (ttl)".
    public static func writeICMPName(type: UInt8, code: UInt8, v6: Bool, into s: inout ByteSink) {
        if let name = v6 ? icmpv6Name(type) : icmpName(type) {
            s.append(name)
            let detail: StaticString? = v6 ? icmpv6CodeName(type, code) : icmpCodeName(type, code)
            if let d = detail {
                s.append(" (" as StaticString); s.append(d); s.append(UInt8(ascii: ")"))
            } else if code != 0 {
                s.append(" code " as StaticString); s.append(decimal: UInt64(code))
            }
        } else {
            s.append("type " as StaticString); s.append(decimal: UInt64(type))
            s.append(" code " as StaticString); s.append(decimal: UInt64(code))
        }
    }

    static func icmpName(_ t: UInt8) -> StaticString? {
        switch t {
        case 0: return "echo reply"
        case 3: return "destination unreachable"
        case 4: return "source quench"
        case 5: return "redirect"
        case 8: return "echo request"
        case 9: return "router advertisement"
        case 10: return "router solicitation"
        case 11: return "time exceeded"
        case 12: return "parameter problem"
        case 13: return "timestamp request"
        case 14: return "timestamp reply"
        case 15: return "information request"
        case 16: return "information reply"
        case 17: return "address mask request"
        case 18: return "address mask reply"
        default: return nil
        }
    }

    static func icmpCodeName(_ t: UInt8, _ c: UInt8) -> StaticString? {
        switch (t, c) {
        case (3, 0): return "network"
        case (3, 1): return "host"
        case (3, 2): return "protocol"
        case (3, 3): return "port"
        case (3, 4): return "fragmentation needed"
        case (3, 5): return "source route failed"
        case (3, 6): return "network unknown"
        case (3, 7): return "host unknown"
        case (3, 9), (3, 10), (3, 13): return "administratively prohibited"
        case (5, 0): return "network"
        case (5, 1): return "host"
        case (11, 0): return "ttl"
        case (11, 1): return "fragment reassembly"
        default: return nil
        }
    }

    static func icmpv6Name(_ t: UInt8) -> StaticString? {
        switch t {
        case 1: return "destination unreachable"
        case 2: return "packet too big"
        case 3: return "time exceeded"
        case 4: return "parameter problem"
        case 128: return "echo request"
        case 129: return "echo reply"
        case 130: return "multicast listener query"
        case 131: return "multicast listener report"
        case 132: return "multicast listener done"
        case 133: return "router solicitation"
        case 134: return "router advertisement"
        case 135: return "neighbor solicitation"
        case 136: return "neighbor advertisement"
        case 137: return "redirect"
        case 143: return "multicast listener report v2"
        default: return nil
        }
    }

    static func icmpv6CodeName(_ t: UInt8, _ c: UInt8) -> StaticString? {
        switch (t, c) {
        case (1, 0): return "no route"
        case (1, 1): return "administratively prohibited"
        case (1, 2): return "beyond scope"
        case (1, 3): return "address"
        case (1, 4): return "port"
        case (1, 5): return "source policy"
        case (1, 6): return "reject route"
        case (3, 0): return "hop limit"
        case (3, 1): return "fragment reassembly"
        default: return nil
        }
    }

    // MARK: frame lines

    /// Echo id and sequence (ICMP 0/8, ICMPv6 128/129) and a neighbor message's target
    /// (ICMPv6 135/136), read at the ICMP header; nothing for other messages.
    static func writeICMPDetail(_ p: DecodedPacket, _ c: ByteCursor, into s: inout ByteSink) {
        let v6 = p.transport == .icmpv6
        let h = p.icmpOffset
        guard h >= 0 else { return }
        let echo = v6 ? (p.icmpType == 128 || p.icmpType == 129) : (p.icmpType == 0 || p.icmpType == 8)
        if echo, let id = c.getUInt16(at: h + 4), let seq = c.getUInt16(at: h + 6) {
            writeICMPName(type: p.icmpType, code: p.icmpCode, v6: v6, into: &s)
            s.append(" id=0x" as StaticString); s.appendHex(UInt64(id), width: 4)
            s.append(" seq=" as StaticString); s.append(decimal: UInt64(seq))
            return
        }
        if v6, p.icmpType == 135 || p.icmpType == 136, let hi = c.getUInt64(at: h + 8), let lo = c.getUInt64(at: h + 16)
        {
            writeICMPName(type: p.icmpType, code: p.icmpCode, v6: true, into: &s)
            s.append(" for " as StaticString)
            IPAddress(v6High: hi, low: lo).write(into: &s)
        }
    }

    /// "who-has 10.0.0.1 tell 10.0.0.2", "10.0.0.1 is-at 00:11:22:33:44:55", read from
    /// an Ethernet/IPv4 ARP body; other sizes give the operation only.
    static func writeARP(_ p: DecodedPacket, _ c: ByteCursor, into s: inout ByteSink) {
        let o = p.arpOffset
        guard o >= 0, p.arpOp != 0 || !p.truncated else { return }
        if c.getUInt8(at: o + 4) == 6, c.getUInt8(at: o + 5) == 4, c.has(28, at: o),
           let sha = mac(c, o + 8), let spa = c.getUInt32(at: o + 14), let tpa = c.getUInt32(at: o + 24) {
            switch p.arpOp {
            case 1:
                if spa == tpa {
                    s.append("gratuitous ARP for " as StaticString); IPAddress(v4: spa).write(into: &s)
                } else {
                    s.append("who-has " as StaticString); IPAddress(v4: tpa).write(into: &s)
                    s.append(" tell " as StaticString); IPAddress(v4: spa).write(into: &s)
                }
                return
            case 2:
                IPAddress(v4: spa).write(into: &s); s.append(" is-at " as StaticString); sha.write(into: &s)
                return
            default:
                break
            }
        }
        switch p.arpOp {
        case 1: s.append("ARP request" as StaticString)
        case 2: s.append("ARP reply" as StaticString)
        case 3: s.append("RARP request" as StaticString)
        case 4: s.append("RARP reply" as StaticString)
        default: s.append("ARP operation " as StaticString); s.append(decimal: UInt64(p.arpOp))
        }
    }

    private static func mac(_ c: ByteCursor, _ at: Int) -> MACAddress? {
        guard let hi = c.getUInt16(at: at), let lo = c.getUInt32(at: at + 2) else { return nil }
        return MACAddress(UInt64(hi) << 32 | UInt64(lo))
    }

    /// "query A www.example.com", "response A www.example.com A 192.0.2.1 CNAME x",
    /// "response NXDOMAIN A nowhere.example".
    static func writeDNS(_ d: DNSSummary, _ c: ByteCursor, into s: inout ByteSink) {
        guard let bytes = c.slice(at: d.messageOffset, count: d.messageLength) else { return }
        let msg = ByteCursor(bytes)
        s.append(d.isResponse ? "response" as StaticString : "query" as StaticString)
        if d.isResponse && d.rcode != 0 { s.append(0x20); writeRcode(d.rcode, into: &s) }
        if d.hasQuestion {
            s.append(0x20); writeQType(d.qtype, into: &s); s.append(0x20)
            let mark = s.count
            if DNS.writeName(msg, at: d.questionOffset, into: &s) != nil {
                s.bytes.removeLast(s.count - mark)
                s.append("<bad name>" as StaticString)
            } else {
                makePrintable(&s, from: mark)
            }
        }
        guard d.isResponse, d.answerCount > 0 else { return }
        var shown = 0
        DNS.forEachAnswer(msg, d, limit: 8) { a in
            shown += 1
            switch a {
            case .a(let ip): s.append(" A " as StaticString); ip.write(into: &s)
            case .aaaa(let ip): s.append(" AAAA " as StaticString); ip.write(into: &s)
            case .cname(let off):
                s.append(" CNAME " as StaticString)
                let mark = s.count
                if DNS.writeName(msg, at: off, into: &s) != nil {
                    s.bytes.removeLast(s.count - mark); s.append(UInt8(ascii: "?"))
                }
                makePrintable(&s, from: mark)
            }
        }
        // Records other than A, AAAA and CNAME are counted, not shown.
        let more = Int(d.answerCount) - shown
        if more > 0 {
            s.append(shown > 0 ? " (" as StaticString : " (answers: " as StaticString)
            if shown > 0 { s.append("+" as StaticString) }
            s.append(decimal: UInt64(more)); s.append(UInt8(ascii: ")"))
        }
    }

    static func writeRcode(_ r: UInt8, into s: inout ByteSink) {
        switch r {
        case 1: s.append("FORMERR" as StaticString)
        case 2: s.append("SERVFAIL" as StaticString)
        case 3: s.append("NXDOMAIN" as StaticString)
        case 4: s.append("NOTIMP" as StaticString)
        case 5: s.append("REFUSED" as StaticString)
        default: s.append("rcode " as StaticString); s.append(decimal: UInt64(r))
        }
    }

    /// The common record types by name, others as RFC 3597's "TYPEn".
    public static func writeQType(_ t: UInt16, into s: inout ByteSink) {
        switch t {
        case 1: s.append("A" as StaticString)
        case 2: s.append("NS" as StaticString)
        case 5: s.append("CNAME" as StaticString)
        case 6: s.append("SOA" as StaticString)
        case 12: s.append("PTR" as StaticString)
        case 15: s.append("MX" as StaticString)
        case 16: s.append("TXT" as StaticString)
        case 28: s.append("AAAA" as StaticString)
        case 33: s.append("SRV" as StaticString)
        case 35: s.append("NAPTR" as StaticString)
        case 41: s.append("OPT" as StaticString)
        case 43: s.append("DS" as StaticString)
        case 48: s.append("DNSKEY" as StaticString)
        case 64: s.append("SVCB" as StaticString)
        case 65: s.append("HTTPS" as StaticString)
        case 255: s.append("ANY" as StaticString)
        default: s.append("TYPE" as StaticString); s.append(decimal: UInt64(t))
        }
    }

    /// A TLS ClientHello, an HTTP request line or an SSH banner at the start of the
    /// segment's payload.
    static func writeTCPPayload(_ p: DecodedPacket, _ c: ByteCursor, into s: inout ByteSink) {
        let at = p.payloadOffset, n = p.payloadCaptured
        if let hello = TLS.parseClientHello(c, at: at, length: n) {
            s.append("Client Hello" as StaticString)
            if hello.hasSNI, let b = c.slice(at: hello.sniOffset, count: Swift.min(hello.sniLength, 255)) {
                s.append(" (SNI " as StaticString); printable(b, &s); s.append(UInt8(ascii: ")"))
            }
        } else if let req = HTTP.parseRequest(c, at: at, length: n) {
            s.append(req.method.name); s.append(0x20)
            if let b = c.slice(at: req.pathOffset, count: Swift.min(req.pathLength, 200)) { printable(b, &s) }
            if req.pathLength > 200 { s.append("…" as StaticString) }
            s.append(" HTTP/1." as StaticString); s.append(decimal: UInt64(req.minorVersion))
        } else if let banner = SSH.parseBanner(c, at: at, length: n),
                  let b = c.slice(at: banner.lineOffset, count: banner.lineLength) {
            printable(b, &s)
        } else {
            writeHTTPStatus(c, at: at, length: n, into: &s)
        }
    }

    /// An HTTP/1.x status line ("HTTP/1.1 200 OK"), up to its end or 100 bytes.
    static func writeHTTPStatus(_ c: ByteCursor, at: Int, length: Int, into s: inout ByteSink) {
        guard length >= 12, let b = c.slice(at: at, count: Swift.min(length, 100)) else { return }
        let prefix: StaticString = "HTTP/1."
        for i in 0..<7 where b[i] != prefix.utf8Start[i] { return }
        guard b[8] == 0x20, (0x30...0x39).contains(b[9]) else { return }
        var end = 0
        while end < b.count, b[end] != 0x0D, b[end] != 0x0A { end += 1 }
        printable(UnsafeRawBufferPointer(rebasing: b[0..<end]), &s)
    }

    private static func printable(_ b: UnsafeRawBufferPointer, _ s: inout ByteSink) {
        let mark = s.count
        s.append(bytes: b)
        makePrintable(&s, from: mark)
    }

    /// Control characters from the packet become ".", so that a line stays one line on
    /// a terminal or in a feed.
    private static func makePrintable(_ s: inout ByteSink, from start: Int) {
        for i in start..<s.count where s.bytes[i] < 0x20 || s.bytes[i] == 0x7F { s.bytes[i] = UInt8(ascii: ".") }
    }
}
