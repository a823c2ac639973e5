import SniffCore

/// GENEVE (RFC 8926) on UDP 6081:
///
///     ver(2b) optlen(6b) | O C rsvd | protocol type(2) | VNI(3) reserved(1) | options(optlen*4)
public enum Geneve {
    public static let port: UInt16 = 6081
    public static let fixedLength = 8

    /// The encapsulated protocol (an ethertype; 0x6558 is Ethernet) and its offset.
    public static func parse(_ c: ByteCursor, at offset: Int) -> (ethertype: UInt16, offset: Int)? {
        guard let first = c.getUInt8(at: offset), first >> 6 == 0,
              let proto = c.getUInt16(at: offset + 2) else { return nil }
        let len = fixedLength + Int(first & 0x3F) * 4
        guard c.has(len, at: offset) else { return nil }
        return (proto, offset + len)
    }

    public static func vni(_ c: ByteCursor, at offset: Int) -> UInt32? {
        c.getUInt32(at: offset + 4).map { $0 >> 8 }
    }
}
