import SniffCore

/// Why a DNS name could not be read.
public enum DNSNameError: UInt8, Sendable, Error {
    case truncated = 1
    case pointerLoop
    case labelTooLong
    case nameTooLong
    case badLabelType

    public var text: String {
        switch self {
        case .truncated: return "name runs past the message"
        case .pointerLoop: return "compression pointer does not point backwards (loop)"
        case .labelTooLong: return "label longer than 63 bytes"
        case .nameTooLong: return "name longer than 255 bytes"
        case .badLabelType: return "reserved label type"
        }
    }
}

/// DNS messages (RFC 1035) over UDP and TCP, read in place.
///
///     id(2) flags(2) qdcount(2) ancount(2) nscount(2) arcount(2) questions answers ...
public enum DNS {
    public static let headerLength = 12

    /// Walks a (possibly compressed) name starting at `offset` within `msg`. Returns the
    /// offset just after the name as it appears at `offset`. Pointers must point strictly
    /// backwards, which makes loops impossible, and the expanded name is bounded.
    public static func skipName(_ msg: ByteCursor, at offset: Int) -> Result<Int, DNSNameError> {
        var pos = offset
        var end = -1
        var total = 0
        var lowestJump = offset
        while true {
            guard let len = msg.getUInt8(at: pos) else { return .failure(.truncated) }
            switch len & 0xC0 {
            case 0x00:
                if len == 0 {
                    return .success(end >= 0 ? end : pos + 1)
                }
                total += Int(len) + 1
                guard total <= 255 else { return .failure(.nameTooLong) }
                guard msg.has(Int(len), at: pos + 1) else { return .failure(.truncated) }
                pos += 1 + Int(len)
            case 0xC0:
                guard let lo = msg.getUInt8(at: pos + 1) else { return .failure(.truncated) }
                let target = Int(len & 0x3F) << 8 | Int(lo)
                guard target < lowestJump else { return .failure(.pointerLoop) }
                if end < 0 { end = pos + 2 }
                lowestJump = target
                pos = target
            default:
                return .failure(.badLabelType)
            }
        }
    }

    /// Renders a name as dotted text (the root as "."), following pointers with the
    /// same rules as `skipName`. Label bytes are copied as they are; output escaping is
    /// the writer's job.
    public static func writeName(_ msg: ByteCursor, at offset: Int, into s: inout ByteSink) -> DNSNameError? {
        var first = true
        let error = forEachLabel(msg, at: offset) { label in
            if !first { s.append(UInt8(ascii: ".")) }
            s.append(bytes: label)
            first = false
        }
        if error == nil && first { s.append(UInt8(ascii: ".")) }
        return error
    }

    /// Calls `body` with each label of the name at `offset` in order, following pointers
    /// with the same rules as `skipName` (backwards only, 255 bytes at most).
    static func forEachLabel(
        _ msg: ByteCursor, at offset: Int, _ body: (UnsafeRawBufferPointer) -> Void
    ) -> DNSNameError? {
        var pos = offset
        var total = 0
        var lowestJump = offset
        while true {
            guard let len = msg.getUInt8(at: pos) else { return .truncated }
            switch len & 0xC0 {
            case 0x00:
                if len == 0 { return nil }
                total += Int(len) + 1
                guard total <= 255 else { return .nameTooLong }
                guard let label = msg.slice(at: pos + 1, count: Int(len)) else { return .truncated }
                body(label)
                pos += 1 + Int(len)
            case 0xC0:
                guard let lo = msg.getUInt8(at: pos + 1) else { return .truncated }
                let target = Int(len & 0x3F) << 8 | Int(lo)
                guard target < lowestJump else { return .pointerLoop }
                lowestJump = target
                pos = target
            default:
                return .badLabelType
            }
        }
    }

    public static func nameString(_ msg: ByteCursor, at offset: Int) -> String? {
        var s = ByteSink(capacity: 64)
        guard writeName(msg, at: offset, into: &s) == nil else { return nil }
        return s.string
    }

    /// Parses the header and first question of a message. `strict` is for payload
    /// sniffing on non-DNS ports: it also demands plausible counts, opcode and class, so
    /// that random UDP payloads are not taken for DNS.
    public static func parse(_ msg: ByteCursor, strict: Bool) -> Result<DNSSummary, Malformation> {
        guard msg.has(headerLength, at: 0), let id = msg.getUInt16(at: 0), let flags = msg.getUInt16(at: 2),
              let qd = msg.getUInt16(at: 4), let an = msg.getUInt16(at: 6),
              let ns = msg.getUInt16(at: 8), let ar = msg.getUInt16(at: 10) else {
            return .failure(Malformation(.short, .dns, UInt32(msg.count), UInt32(headerLength)))
        }
        var d = DNSSummary()
        d.id = id
        d.flags = flags
        d.questionCount = qd
        d.answerCount = an
        d.messageLength = msg.count
        if strict {
            let opcode = (flags >> 11) & 0xF
            guard qd == 1, opcode == 0 || opcode == 4 || opcode == 5, flags & 0x0040 == 0,
                  Int(an) + Int(ns) + Int(ar) <= 64 else {
                return .failure(Malformation(.lengthField, .dns, UInt32(qd)))
            }
        }
        guard qd > 0 else {
            // No question (an mDNS announcement): the answers start right after the header.
            d.answersOffset = headerLength
            return .success(d)
        }
        switch skipName(msg, at: headerLength) {
        case .failure(let e):
            return .failure(Malformation(.dnsName, .dns, UInt32(e.rawValue)))
        case .success(let after):
            guard let qtype = msg.getUInt16(at: after), let qclass = msg.getUInt16(at: after + 2) else {
                // The name is there but type/class were cut: keep the name.
                d.questionOffset = headerLength
                return .success(d)
            }
            if strict {
                let cls = qclass & 0x7FFF  // mDNS uses the top bit for unicast-response
                guard cls == 1 || cls == 3 || cls == 4 || cls == 255, qtype != 0 else {
                    return .failure(Malformation(.lengthField, .dns, UInt32(qclass)))
                }
            }
            d.questionOffset = headerLength
            d.qtype = qtype
            var pos = after + 4
            // Skip the remaining questions to find the answer section.
            var ok = true
            if qd > 1 {
                for _ in 1..<Int(qd) {
                    guard case .success(let e) = skipName(msg, at: pos), msg.has(4, at: e) else { ok = false; break }
                    pos = e + 4
                }
            }
            if ok { d.answersOffset = pos }
            return .success(d)
        }
    }

    /// One answer record: A and AAAA give an address, CNAME the offset of its target.
    public enum Answer {
        case a(IPAddress)
        case aaaa(IPAddress)
        case cname(nameOffset: Int)
    }

    /// Calls `body` for each A, AAAA and CNAME answer, stopping at the first record
    /// that does not fit. At most `limit` records are examined.
    public static func forEachAnswer(_ msg: ByteCursor, _ d: DNSSummary, limit: Int = 64, _ body: (Answer) -> Void) {
        forEachAnswerRecord(msg, d, limit: limit) { _, answer in body(answer) }
    }

    /// As `forEachAnswer`, with the offset of each record's owner name: passive DNS
    /// follows a CNAME chain from the question by the owners, and an mDNS answer,
    /// which has no question, names its address only there.
    public static func forEachAnswerRecord(_ msg: ByteCursor, _ d: DNSSummary, limit: Int = 64,
                                           _ body: (_ ownerOffset: Int, Answer) -> Void) {
        guard d.answersOffset >= 0 else { return }
        var pos = d.answersOffset
        for _ in 0..<Swift.min(Int(d.answerCount), limit) {
            guard case .success(let after) = skipName(msg, at: pos),
                  let type = msg.getUInt16(at: after), let rdlen = msg.getUInt16(at: after + 8) else { return }
            let rdata = after + 10
            guard msg.has(Int(rdlen), at: rdata) else { return }
            switch type {
            case 1 where rdlen == 4:
                if let v = msg.getUInt32(at: rdata) { body(pos, .a(IPAddress(v4: v))) }
            case 28 where rdlen == 16:
                if let h = msg.getUInt64(at: rdata), let l = msg.getUInt64(at: rdata + 8) {
                    body(pos, .aaaa(IPAddress(v6High: h, low: l)))
                }
            case 5:
                body(pos, .cname(nameOffset: rdata))
            default:
                break
            }
            pos = rdata + Int(rdlen)
        }
    }

    /// A hash of the name at `offset`, the same for names that differ only in ASCII
    /// case (DNS compares names that way) and whatever compression spelled them; nil
    /// when the name is unreadable. Lets a caller compare names without rendering them.
    public static func nameHash(_ msg: ByteCursor, at offset: Int) -> UInt64? {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        var labels = 0
        let error = forEachLabel(msg, at: offset) { label in
            if labels > 0 { h = (h ^ 0x2E) &* 0x100_0000_01b3 }
            labels += 1
            for b in label {
                let lower = b >= 0x41 && b <= 0x5A ? b | 0x20 : b
                h = (h ^ UInt64(lower)) &* 0x100_0000_01b3
            }
        }
        return error == nil ? h : nil
    }

    /// Decodes DNS from the packet's transport payload. Over TCP the message follows a
    /// two-byte length; only a segment that starts a message is decoded.
    public static func decode(_ frame: ByteCursor, overTCP: Bool, strict: Bool, into p: inout DecodedPacket) -> Bool {
        var start = p.payloadOffset
        var length = p.payloadCaptured
        var declared = Int(p.payloadLength)
        if overTCP {
            guard let prefix = frame.getUInt16(at: start), Int(prefix) >= headerLength else { return false }
            start += 2
            length = Swift.min(Int(prefix), length - 2)
            declared = Int(prefix)
        }
        guard length > 0, let msgBytes = frame.slice(at: start, count: length) else { return false }
        let msg = ByteCursor(msgBytes)
        switch parse(msg, strict: strict) {
        case .success(var d):
            d.messageOffset = start
            p.hasDNS = true
            p.dns = d
            return true
        case .failure(let m):
            guard !strict else { return false }
            // A message that ends early because the capture cut it (snaplen), or because
            // the rest is in a later TCP segment or IP fragment, fails with a name that
            // "runs past the message": that is a cut, not a malformed message.
            let cutError = m.kind == .short || (m.kind == .dnsName && m.a == UInt32(DNSNameError.truncated.rawValue))
            if cutError && length < declared {
                if !(overTCP || p.isFragment) || p.capturedLength < p.wireLength {
                    p.markShort(.dns, have: length, need: declared)
                }
                return false
            }
            if m.kind == .short { p.markShort(.dns, have: Int(m.a), need: Int(m.b)) } else { p.markMalformed(m) }
            return false
        }
    }
}
