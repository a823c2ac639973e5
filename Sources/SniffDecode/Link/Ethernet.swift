import SniffCore

/// Ethernet II and IEEE 802.3 frames, with 802.1Q/802.1ad tags and LLC/SNAP.
///
///     dst(6) src(6) [TPID(2) TCI(2)]* type-or-length(2) payload
public enum Ethernet {
    public static let headerLength = 14

    /// Tag protocol identifiers: 802.1Q, 802.1ad, and the pre-standard QinQ 0x9100.
    @inlinable
    public static func isTag(_ type: UInt16) -> Bool {
        type == 0x8100 || type == 0x88A8 || type == 0x9100
    }

    /// Reads 802.1Q/802.1ad tags while `type` names one, leaving `type` and `offset` at
    /// what follows the last. False, with the packet marked, when the frame ends inside
    /// a tag or a ninth tag comes (reported, not dropped silently).
    @inline(__always)
    static func readTags(_ c: ByteCursor, type: inout UInt16, offset: inout Int, into p: inout DecodedPacket) -> Bool {
        while isTag(type) {
            guard let tci = c.getUInt16(at: offset), let next = c.getUInt16(at: offset + 2) else {
                p.markShort(.vlan, have: c.count - offset, need: 4)
                return false
            }
            if !p.vlans.append(id: tci & 0x0FFF, tpid: type) {
                p.markMalformed(Malformation(.tooDeep, .vlan, UInt32(VLANStack.capacity)))
                return false
            }
            type = next
            offset += 4
        }
        return true
    }

    public static func decode(_ c: ByteCursor, at start: Int, into p: inout DecodedPacket) -> LinkNext {
        guard c.has(headerLength, at: start),
              let dst = MACAddress(c, at: start), let src = MACAddress(c, at: start + 6),
              var type = c.getUInt16(at: start + 12) else {
            p.markShort(.ethernet, have: c.count - start, need: headerLength)
            return .end
        }
        p.hasEthernet = true
        p.ethDst = dst
        p.ethSrc = src
        p.hasEthSrc = true
        var offset = start + headerLength
        guard readTags(c, type: &type, offset: &offset, into: &p) else { return .end }
        if type <= 1500 {
            // An 802.3 length field: the payload is LLC, maybe with a SNAP header. The
            // length is checked because nothing after it would notice a cut LLC frame
            // (STP, CDP): a snaplen explains a shortfall, otherwise the frame lies.
            let present = c.count - offset
            if Int(type) > present {
                p.truncated = true
                if p.capturedLength >= p.wireLength {
                    p.markMalformed(
                        Malformation(.lengthExceedsFrame, .ethernet, UInt32(type), UInt32(clamping: present)))
                }
            }
            return decodeLLC(c, at: offset, length: Int(type), into: &p)
        }
        p.ethertype = type
        return .ethertype(type, offset: offset)
    }

    /// 802.2 LLC; only SNAP (AA AA 03) carries an ethertype Sniff follows.
    static func decodeLLC(_ c: ByteCursor, at offset: Int, length: Int, into p: inout DecodedPacket) -> LinkNext {
        guard let dsap = c.getUInt8(at: offset), let ssap = c.getUInt8(at: offset + 1),
              let control = c.getUInt8(at: offset + 2) else {
            p.markShort(.llc, have: c.count - offset, need: 3)
            return .end
        }
        if dsap == 0xAA && ssap == 0xAA && control == 0x03 {
            guard let oui = c.getUInt32(at: offset + 2).map({ $0 & 0x00FF_FFFF }),  // control + OUI
                  let type = c.getUInt16(at: offset + 6) else {
                p.markShort(.llc, have: c.count - offset, need: 8)
                return .end
            }
            // Only OUI 00-00-00 (RFC 1042) and 00-00-F8 (802.1H) put an ethertype in the
            // protocol id; under a vendor OUI it is the vendor's number (Cisco's 0x2000
            // is CDP, 0x010B is PVST+), which must not be reported as an ethertype.
            guard oui == 0x000000 || oui == 0x0000F8 else { return .end }
            p.ethertype = type
            return .ethertype(type, offset: offset + 8)
        }
        return .end
    }
}
