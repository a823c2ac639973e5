import SniffCore
import SniffDecode
import SniffTestSupport

/// Decodes one frame the way the capture layer does: frame lengths first, then the
/// bytes. A `wireLength` above the byte count models a snaplen cut.
func decode(_ bytes: [UInt8], link: LinkType = .ethernet, wireLength: Int? = nil) -> DecodedPacket {
    var p = DecodedPacket()
    p.capturedLength = UInt32(bytes.count)
    p.wireLength = UInt32(wireLength ?? bytes.count)
    bytes.withUnsafeBytes { PacketDecoder.decode($0, link: link, into: &p) }
    return p
}

/// The first `n` bytes of `bytes`, decoded as a snaplen cut of the whole frame.
func decodePrefix(_ bytes: [UInt8], _ n: Int, link: LinkType = .ethernet) -> DecodedPacket {
    decode(Array(bytes.prefix(n)), link: link, wireLength: bytes.count)
}

/// An address literal; a typo in a test is a programming error.
func addr(_ text: String) -> IPAddress {
    guard let a = IPAddress(text) else { preconditionFailure("bad address literal \(text)") }
    return a
}

/// `bytes` with the byte at `offset` replaced.
func patched(_ bytes: [UInt8], _ offset: Int, _ value: UInt8) -> [UInt8] {
    var b = bytes
    b[offset] = value
    return b
}

extension DecodedPacket {
    /// The malformation as users see it, or nil.
    var malformedText: String? { malformed?.text }
}

/// The first question's name, rendered from the frame as the writers do.
func dnsQuestionName(_ frame: [UInt8], _ p: DecodedPacket) -> String? {
    guard p.hasDNS, p.dns.hasQuestion else { return nil }
    return frame.withUnsafeBytes { raw -> String? in
        guard let msg = ByteCursor(raw).slice(at: p.dns.messageOffset, count: p.dns.messageLength) else { return nil }
        return DNS.nameString(ByteCursor(msg), at: p.dns.questionOffset)
    }
}

/// The A, AAAA and CNAME answers as "A 192.0.2.1", "AAAA 2001:db8::1", "CNAME name".
func dnsAnswers(_ frame: [UInt8], _ p: DecodedPacket) -> [String] {
    guard p.hasDNS else { return [] }
    return frame.withUnsafeBytes { raw -> [String] in
        guard let bytes = ByteCursor(raw).slice(at: p.dns.messageOffset, count: p.dns.messageLength) else { return [] }
        let msg = ByteCursor(bytes)
        var out: [String] = []
        DNS.forEachAnswer(msg, p.dns) { answer in
            switch answer {
            case .a(let ip): out.append("A \(ip)")
            case .aaaa(let ip): out.append("AAAA \(ip)")
            case .cname(let offset): out.append("CNAME \(DNS.nameString(msg, at: offset) ?? "<bad name>")")
            }
        }
        return out
    }
}

