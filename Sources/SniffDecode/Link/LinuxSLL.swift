import SniffCore

/// Linux "cooked" capture header v1 (LINKTYPE_LINUX_SLL, 113), 16 bytes:
///
///     packet type(2) ARPHRD type(2) address length(2) address(8) protocol(2)
public enum LinuxSLL {
    public static let headerLength = 16

    public static func decode(_ c: ByteCursor, at start: Int, into p: inout DecodedPacket) -> LinkNext {
        guard c.has(headerLength, at: start), let hatype = c.getUInt16(at: start + 2),
              let halen = c.getUInt16(at: start + 4), let proto = c.getUInt16(at: start + 14) else {
            p.markShort(.sll, have: c.count - start, need: headerLength)
            return .end
        }
        source(c, at: start + 6, length: Int(halen), hatype: hatype, into: &p)
        return LinuxSLL.next(protocol: proto, hatype: hatype, offset: start + headerLength, c, &p)
    }

    /// The sender's link-layer address, kept when it is an Ethernet one (ARPHRD_ETHER,
    /// ARPHRD_LOOPBACK).
    static func source(_ c: ByteCursor, at offset: Int, length: Int, hatype: UInt16, into p: inout DecodedPacket) {
        if length == 6, hatype == 1 || hatype == 772, let mac = MACAddress(c, at: offset) {
            p.ethSrc = mac
            p.hasEthSrc = true
        }
    }

    /// The protocol field is an ethertype, except for a few values below 0x0600 that
    /// name what follows when there is no ethertype (Linux if_ether.h ETH_P_*).
    static func next(
        protocol proto: UInt16, hatype: UInt16, offset: Int, _ c: ByteCursor, _ p: inout DecodedPacket
    ) -> LinkNext {
        switch proto {
        case 0x0004:  // ETH_P_802_2: an LLC header follows
            return Ethernet.decodeLLC(c, at: offset, length: c.count - offset, into: &p)
        case 0x0001, 0x0003:  // ETH_P_802_3 / ETH_P_ALL: a raw 802.3 frame without header
            return .end
        default:
            if hatype == 778 {  // ARPHRD_IPGRE: protocol is the GRE protocol type
                p.ethertype = proto
                return .ethertype(proto, offset: offset)
            }
            if proto < 0x0600 { return .end }
            p.ethertype = proto
            if Ethernet.isTag(proto) {
                // Tags kept in the payload (no VLAN acceleration): parse them here.
                var type = proto
                var off = offset
                guard Ethernet.readTags(c, type: &type, offset: &off, into: &p) else { return .end }
                p.ethertype = type
                return .ethertype(type, offset: off)
            }
            return .ethertype(proto, offset: offset)
        }
    }
}
