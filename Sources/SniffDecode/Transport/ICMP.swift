import SniffCore

/// ICMP for IPv4 (RFC 792): type(1) code(1) checksum(2) rest(4) [quoted IP header + 8].
public enum ICMP {
    public static let headerLength = 8

    /// Error messages that quote the offending datagram: unreachable, source quench,
    /// redirect, time exceeded, parameter problem.
    @inlinable
    public static func quotesDatagram(_ type: UInt8) -> Bool {
        type == 3 || type == 4 || type == 5 || type == 11 || type == 12
    }

    public static func decode(_ c: ByteCursor, at offset: Int, ipPayloadLength: Int, into p: inout DecodedPacket) {
        guard let type = decodeHeader(c, at: offset, ipPayloadLength: ipPayloadLength, bodyOffset: headerLength,
                                      transport: .icmp, layer: .icmp, into: &p) else { return }
        if quotesDatagram(type), let quoted = InnerDecoder.quotedIPv4(c, at: offset + headerLength) {
            p.hasInner = true
            p.inner = quoted
        }
    }

    /// What ICMP and ICMPv6 share: type and code, and the payload after the first
    /// `bodyOffset` bytes of the message. Returns the type; nil when the frame ends
    /// before the code, with the packet marked short.
    @inline(__always)
    static func decodeHeader(_ c: ByteCursor, at offset: Int, ipPayloadLength: Int, bodyOffset: Int,
                             transport: TransportKind, layer: Malformation.Layer,
                             into p: inout DecodedPacket) -> UInt8? {
        p.transport = transport
        guard let type = c.getUInt8(at: offset), let code = c.getUInt8(at: offset + 1) else {
            p.markShort(layer, have: c.count - offset, need: 4)
            return nil
        }
        p.hasICMP = true
        p.icmpOffset = offset
        p.icmpType = type
        p.icmpCode = code
        p.hasPayloadLength = true
        p.payloadLength = UInt32(Swift.max(0, ipPayloadLength - bodyOffset))
        // Clamped so that a header cut after type and code never hands out an offset
        // past the end of the frame (readers slice the frame with it).
        p.payloadOffset = Swift.min(offset + bodyOffset, c.count)
        p.payloadCaptured = Swift.max(0, Swift.min(c.count, offset + ipPayloadLength) - p.payloadOffset)
        return type
    }
}
