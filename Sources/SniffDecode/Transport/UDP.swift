import SniffCore

/// A UDP header (RFC 768): sport(2) dport(2) length(2) checksum(2).
public enum UDP {
    public static let headerLength = 8

    public static func decode(_ c: ByteCursor, at offset: Int, ipPayloadLength: Int, into p: inout DecodedPacket) {
        guard decodePorts(c, at: offset, transport: .udp, layer: .udp, headerLength: headerLength, into: &p) else {
            return
        }
        guard let length = c.getUInt16(at: offset + 4), c.has(headerLength, at: offset) else {
            p.markShort(.udp, have: c.count - offset, need: headerLength)
            return
        }
        // The IP length is authoritative for where the datagram ends; a UDP length that
        // disagrees with it is recorded, and the IP length is believed.
        var udpLength = Int(length)
        // The first fragment of a fragmented datagram carries a UDP length for the whole
        // datagram, more than this fragment's IP payload: that is normal, not malformed,
        // and the stated length is the datagram's payload length.
        let firstFragment = p.isFragment && udpLength > ipPayloadLength
        if udpLength < headerLength || (udpLength > ipPayloadLength && !firstFragment) {
            p.markMalformed(Malformation(.lengthField, .udp, UInt32(length)))
            udpLength = Swift.max(headerLength, ipPayloadLength)
        }
        p.hasPayloadLength = true
        p.payloadLength = UInt32(Swift.max(0, udpLength - headerLength))
        p.payloadOffset = offset + headerLength
        p.payloadCaptured = Swift.max(0, Swift.min(c.count, offset + udpLength) - p.payloadOffset)
    }

    /// The two ports that open UDP and TCP headers. False, with the packet
    /// marked short against the whole `headerLength`, when the frame ends first.
    @inline(__always)
    static func decodePorts(_ c: ByteCursor, at offset: Int, transport: TransportKind, layer: Malformation.Layer,
                            headerLength: Int, into p: inout DecodedPacket) -> Bool {
        p.transport = transport
        guard let sport = c.getUInt16(at: offset), let dport = c.getUInt16(at: offset + 2) else {
            p.markShort(layer, have: c.count - offset, need: headerLength)
            return false
        }
        p.hasPorts = true
        p.sport = sport
        p.dport = dport
        return true
    }
}
