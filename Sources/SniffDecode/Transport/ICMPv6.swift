import SniffCore

/// ICMPv6 (RFC 4443): type(1) code(1) checksum(2) body. Types 1-4 are errors that
/// quote the offending IPv6 packet after 4 more bytes.
public enum ICMPv6 {
    public static let headerLength = 8

    public static func decode(_ c: ByteCursor, at offset: Int, ipPayloadLength: Int, into p: inout DecodedPacket) {
        p.transport = .icmpv6
        guard let type = c.getUInt8(at: offset), let code = c.getUInt8(at: offset + 1) else {
            p.markShort(.icmpv6, have: c.count - offset, need: 4)
            return
        }
        p.hasICMP = true
        p.icmpOffset = offset
        p.icmpType = type
        p.icmpCode = code
        p.hasPayloadLength = true
        p.payloadLength = UInt32(Swift.max(0, ipPayloadLength - 4))
        // Clamped so that a header cut after type and code never hands out an offset
        // past the end of the frame (readers slice the frame with it).
        p.payloadOffset = Swift.min(offset + 4, c.count)
        p.payloadCaptured = Swift.max(0, Swift.min(c.count, offset + ipPayloadLength) - p.payloadOffset)
        if type >= 1 && type <= 4, let quoted = InnerDecoder.quotedIPv6(c, at: offset + headerLength) {
            p.hasInner = true
            p.inner = quoted
        }
    }
}
