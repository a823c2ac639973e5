import SniffCore

/// A DNS message read whole, for the protocol logs (dns.log): the first question and
/// every answer record rendered as text with its TTL. Made once per message, never on
/// the per-packet path of the report.
public struct DNSMessage: Sendable, Equatable {
    public var id: UInt16 = 0
    public var flags: UInt16 = 0
    /// The first question's name ("." for the root), type and class; nil without one.
    public var query: String?
    public var qtype: UInt16 = 0
    public var qclass: UInt16 = 0
    /// The answer section in order (at most `maximumAnswers`), with each record's TTL.
    public var answers: [String] = []
    public var ttls: [UInt32] = []

    public static let maximumAnswers = 64

    public init() {}

    public var isResponse: Bool { flags & 0x8000 != 0 }
    public var rcode: UInt8 { UInt8(flags & 0x000F) }
    public var authoritative: Bool { flags & 0x0400 != 0 }
    public var truncated: Bool { flags & 0x0200 != 0 }
    public var recursionDesired: Bool { flags & 0x0100 != 0 }
    public var recursionAvailable: Bool { flags & 0x0080 != 0 }
    /// RFC 1035's reserved Z bit (RFC 6895 section 2; AD and CD are separate bits).
    public var z: UInt8 { UInt8((flags >> 6) & 1) }

    /// Reads a message (without the TCP length prefix). Nil when the header or the
    /// question cannot be read; answers stop at the first record that does not fit.
    public static func read(_ msg: ByteCursor) -> DNSMessage? {
        guard case .success(let d) = DNS.parse(msg, strict: false) else { return nil }
        var m = DNSMessage()
        m.id = d.id
        m.flags = d.flags
        var s = ByteSink(capacity: 128)
        if d.hasQuestion {
            guard DNS.writeName(msg, at: d.questionOffset, into: &s) == nil else { return nil }
            m.query = s.string
            if case .success(let after) = DNS.skipName(msg, at: d.questionOffset) {
                m.qtype = msg.getUInt16(at: after) ?? 0
                m.qclass = msg.getUInt16(at: after + 2) ?? 0
            }
        }
        guard d.answersOffset >= 0 else { return m }
        var pos = d.answersOffset
        for _ in 0..<Swift.min(Int(d.answerCount), maximumAnswers) {
            guard case .success(let after) = DNS.skipName(msg, at: pos),
                  let type = msg.getUInt16(at: after), let ttl = msg.getUInt32(at: after + 4),
                  let rdlen = msg.getUInt16(at: after + 8), msg.has(Int(rdlen), at: after + 10) else { break }
            let rdata = after + 10
            s.removeAll()
            render(msg, type: type, rdata: rdata, length: Int(rdlen), into: &s)
            m.answers.append(s.string)
            m.ttls.append(ttl)
            pos = rdata + Int(rdlen)
        }
        return m
    }

    /// One record's data as dns.log shows it: addresses, target names (CNAME, NS, PTR,
    /// DNAME, MX's exchange, SRV's target, SOA's primary server), TXT's strings joined
    /// by spaces, SVCB/HTTPS as "priority target", else Zeek's "<unknown type=N>".
    static func render(_ msg: ByteCursor, type: UInt16, rdata: Int, length: Int, into s: inout ByteSink) {
        func name(at offset: Int) {
            if DNS.writeName(msg, at: offset, into: &s) != nil { s.append("<bad name>" as StaticString) }
        }
        switch type {
        case 1 where length == 4:
            if let v = msg.getUInt32(at: rdata) { IPAddress(v4: v).write(into: &s) }
        case 28 where length == 16:
            if let h = msg.getUInt64(at: rdata), let l = msg.getUInt64(at: rdata + 8) {
                IPAddress(v6High: h, low: l).write(into: &s)
            }
        case 2, 5, 12, 39, 6:
            name(at: rdata)
        case 15 where length > 2:
            name(at: rdata + 2)
        case 33 where length > 6:
            name(at: rdata + 6)
        case 16:
            var at = rdata
            var first = true
            while at < rdata + length, let n = msg.getUInt8(at: at), at + 1 + Int(n) <= rdata + length,
                  let b = msg.slice(at: at + 1, count: Int(n)) {
                if !first { s.append(UInt8(ascii: " ")) }
                s.append(bytes: b)
                first = false
                at += 1 + Int(n)
            }
        case 64 where length > 2, 65 where length > 2:
            s.append(decimal: UInt64(msg.getUInt16(at: rdata) ?? 0))
            s.append(UInt8(ascii: " "))
            name(at: rdata + 2)
        default:
            s.append("<unknown type=" as StaticString)
            s.append(decimal: UInt64(type))
            s.append(UInt8(ascii: ">"))
        }
    }

    /// Zeek's names for query types, classes and response codes.
    public static func typeName(_ t: UInt16) -> String {
        switch t {
        case 1: return "A"
        case 2: return "NS"
        case 5: return "CNAME"
        case 6: return "SOA"
        case 12: return "PTR"
        case 13: return "HINFO"
        case 15: return "MX"
        case 16: return "TXT"
        case 28: return "AAAA"
        case 33: return "SRV"
        case 35: return "NAPTR"
        case 39: return "DNAME"
        case 41: return "OPT"
        case 43: return "DS"
        case 46: return "RRSIG"
        case 47: return "NSEC"
        case 48: return "DNSKEY"
        case 50: return "NSEC3"
        case 52: return "TLSA"
        case 64: return "SVCB"
        case 65: return "HTTPS"
        case 99: return "SPF"
        case 251: return "IXFR"
        case 252: return "AXFR"
        case 255: return "*"
        case 256: return "URI"
        case 257: return "CAA"
        default: return "query-\(t)"
        }
    }

    public static func className(_ c: UInt16) -> String {
        switch c {
        case 1: return "C_INTERNET"
        case 3: return "C_CHAOS"
        case 4: return "C_HESIOD"
        case 254: return "C_NONE"
        case 255: return "C_ANY"
        default: return "qclass-\(c)"
        }
    }

    public static func rcodeName(_ r: UInt8) -> String {
        switch r {
        case 0: return "NOERROR"
        case 1: return "FORMERR"
        case 2: return "SERVFAIL"
        case 3: return "NXDOMAIN"
        case 4: return "NOTIMP"
        case 5: return "REFUSED"
        case 6: return "YXDOMAIN"
        case 7: return "YXRRSET"
        case 8: return "NXRRSET"
        case 9: return "NOTAUTH"
        case 10: return "NOTZONE"
        default: return "rcode-\(r)"
        }
    }
}
