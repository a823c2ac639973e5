import SniffCore

/// Links that carry a bare IP packet: LINKTYPE_RAW (101, and the BSD values 12 and
/// 14), where the version nibble decides, and LINKTYPE_IPV4 (228) / LINKTYPE_IPV6 (229),
/// where the link type does.
public enum RawIP {
    public static func decode(_ c: ByteCursor, link: LinkType, into p: inout DecodedPacket) -> LinkNext {
        switch link.rawValue {
        case 228:
            p.ethertype = 0x0800
            return .ethertype(0x0800, offset: 0)
        case 229:
            p.ethertype = 0x86DD
            return .ethertype(0x86DD, offset: 0)
        default:
            return .ipByVersion(offset: 0)
        }
    }
}
