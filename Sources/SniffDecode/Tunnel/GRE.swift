import SniffCore

/// Generic Routing Encapsulation: RFC 2784/2890 (version 0) and the enhanced GRE of
/// PPTP (RFC 2637, version 1).
///
///     C.K S.... ver(3) | protocol(2) | [checksum+reserved(4)] [key(4)] [seq(4)] [ack(4)]
public enum GRE {
    public static let minimumLength = 4

    /// The protocol type and the offset of the encapsulated payload, unwrapping PPP
    /// (PPTP) so that the result is an ethertype.
    public static func parse(_ c: ByteCursor, at offset: Int) -> HeaderResult<(ethertype: UInt16, offset: Int)> {
        guard let flags = c.getUInt16(at: offset), let proto = c.getUInt16(at: offset + 2) else {
            return .short(have: Swift.max(0, c.count - offset), need: minimumLength)
        }
        let version = flags & 0x7
        var len = 4
        if version == 0 {
            if flags & 0x8000 != 0 { len += 4 }  // checksum present (also with routing)
            else if flags & 0x4000 != 0 { len += 4 }  // routing present: offset field
            if flags & 0x2000 != 0 { len += 4 }  // key
            if flags & 0x1000 != 0 { len += 4 }  // sequence number
        } else if version == 1 {
            len += 4                             // key: payload length + call id
            if flags & 0x1000 != 0 { len += 4 }  // sequence number
            if flags & 0x0080 != 0 { len += 4 }  // acknowledgment number
        } else {
            return .malformed(Malformation(.badVersion, .gre, UInt32(version)))
        }
        guard c.has(len, at: offset) else { return .short(have: c.count - offset, need: len) }
        var payload = offset + len
        var type = proto
        switch proto {
        case 0x880B:  // PPP inside (PPTP): optional address/control FF 03, then protocol
            if c.getUInt16(at: payload) == 0xFF03 { payload += 2 }
            guard let pppFirst = c.getUInt8(at: payload) else { return .short(have: 0, need: 1) }
            var pppProto: UInt16
            if pppFirst & 1 == 1 {  // protocol-field compression: one byte
                pppProto = UInt16(pppFirst)
                payload += 1
            } else {
                guard let v = c.getUInt16(at: payload) else { return .short(have: 1, need: 2) }
                pppProto = v
                payload += 2
            }
            switch pppProto {
            case 0x0021: type = 0x0800
            case 0x0057: type = 0x86DD
            default: type = 0  // LCP, CCP and other control traffic
            }
        case 0x88BE:  // ERSPAN type II: 8-byte header, then Ethernet
            payload += 8
            type = 0x6558
        case 0x22EB:  // ERSPAN type III: 12-byte header (+8 optional), then Ethernet
            guard let w = c.getUInt8(at: payload + 11) else { return .short(have: 0, need: 12) }
            payload += (w & 0x1) != 0 ? 20 : 12
            type = 0x6558
        default:
            break
        }
        return .ok((type, payload))
    }

    /// The key of a version 0 header with the K bit (RFC 2890), which tells tunnels
    /// between the same two addresses apart.
    public static func key(_ c: ByteCursor, at offset: Int) -> UInt32? {
        guard let flags = c.getUInt16(at: offset), flags & 0x7 == 0, flags & 0x2000 != 0 else { return nil }
        return c.getUInt32(at: offset + (flags & 0xC000 != 0 ? 8 : 4))
    }
}
