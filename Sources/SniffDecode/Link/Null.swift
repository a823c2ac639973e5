import SniffCore

/// BSD loopback encapsulation: LINKTYPE_NULL (0), a 4-byte address family in the
/// writer's byte order, and LINKTYPE_LOOP (108), where it should be network order but
/// files in the wild use either, so both orders are tried.
public enum NullLoopback {
    public static let headerLength = 4

    /// AF_INET is 2 everywhere; AF_INET6 differs: 10 Linux, 24 NetBSD/OpenBSD/BSD/OS,
    /// 28 FreeBSD/DragonFly, 30 Darwin.
    @inlinable
    static func ethertype(forFamily af: UInt32) -> UInt16? {
        switch af {
        case 2: return 0x0800
        case 10, 24, 28, 30: return 0x86DD
        default: return nil
        }
    }

    public static func decode(_ c: ByteCursor, at start: Int, into p: inout DecodedPacket) -> LinkNext {
        guard let le = c.getUInt32LE(at: start), let be = c.getUInt32(at: start) else {
            p.markShort(.null, have: c.count - start, need: headerLength)
            return .end
        }
        if let t = ethertype(forFamily: le) ?? ethertype(forFamily: be) {
            p.ethertype = t
            return .ethertype(t, offset: start + headerLength)
        }
        p.markMalformed(Malformation(.unknownFamily, .null, le < 0x10000 ? le : be))
        return .end
    }
}
