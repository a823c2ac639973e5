import SniffCore
import SniffDecode

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

/// Ethernet + IPv4 + UDP around `payload`, 192.0.2.1 to 198.51.100.2; checksums are
/// left zero because decoders do not check them.
func udpFrame(_ payload: [UInt8], sport: UInt16 = 40000, dport: UInt16 = 40001) -> [UInt8] {
    let udpLength = 8 + payload.count
    let total = 20 + udpLength
    var b: [UInt8] = [0x00, 0x00, 0x5E, 0x00, 0x53, 0x02, 0x00, 0x00, 0x5E, 0x00, 0x53, 0x01, 0x08, 0x00]
    b += [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 1, 0, 0, 64, 17, 0, 0,
          192, 0, 2, 1, 198, 51, 100, 2]
    b += [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF),
          UInt8(udpLength >> 8), UInt8(udpLength & 0xFF), 0, 0]
    return b + payload
}

/// SplitMix64: a small deterministic generator, so that a failing case can be replayed
/// from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
