import SniffCore

/// ICMPv6 (RFC 4443): type(1) code(1) checksum(2) body. Types 1-4 are errors that
/// quote the offending IPv6 packet after 4 more bytes.
public enum ICMPv6 {
    public static let headerLength = 8

    public static func decode(_ c: ByteCursor, at offset: Int, ipPayloadLength: Int, into p: inout DecodedPacket) {
        // The payload starts after type, code and checksum: the 4 bytes that follow
        // belong to the message's body (an echo's id and sequence, an error's unused word).
        guard let type = ICMP.decodeHeader(c, at: offset, ipPayloadLength: ipPayloadLength, bodyOffset: 4,
                                           transport: .icmpv6, layer: .icmpv6, into: &p) else { return }
        if type >= 1 && type <= 4, let quoted = InnerDecoder.quotedIPv6(c, at: offset + headerLength) {
            p.hasInner = true
            p.inner = quoted
        }
    }
}
