import SniffCore

/// ARP and RARP (RFC 826, RFC 903), with any hardware and protocol address sizes.
///
///     htype(2) ptype(2) hlen(1) plen(1) oper(2) sha(hlen) spa(plen) tha(hlen) tpa(plen)
public enum ARP {
    public static let fixedLength = 8

    public static func decode(_ c: ByteCursor, at offset: Int, into p: inout DecodedPacket) {
        p.isARP = true
        p.transport = .arp
        guard c.has(fixedLength, at: offset), let hlen = c.getUInt8(at: offset + 4),
              let plen = c.getUInt8(at: offset + 5), let op = c.getUInt16(at: offset + 6) else {
            p.markShort(.arp, have: c.count - offset, need: fixedLength)
            return
        }
        p.arpOp = op
        p.arpOffset = offset
        let need = fixedLength + 2 * (Int(hlen) + Int(plen))
        if !c.has(need, at: offset) {
            p.markShort(.arp, have: c.count - offset, need: need)
        }
    }
}
