import SniffCore

/// GTP-U, the user plane of GPRS/UMTS/LTE/5G (3GPP TS 29.281) on UDP 2152:
///
///     ver(3)=1 PT=1 spare E S PN | type(1) | length(2) | TEID(4)
///     [sequence(2) N-PDU(1) next extension type(1)]  when any of E, S, PN
///     extension headers: length in 4-byte units(1) ... next type(1), while next != 0
///
/// Only G-PDU messages (type 255) carry a user's packet (the T-PDU, IPv4 or IPv6).
public enum GTPU {
    public static let port: UInt16 = 2152
    public static let fixedLength = 8
    static let gPDU: UInt8 = 255
    /// Extension headers followed at most; a crafted chain cannot make the walk long.
    static let maximumExtensions = 8

    /// The TEID and the offset of the carried IP packet of a G-PDU; nil for other
    /// messages and for headers cut short or malformed.
    public static func parse(_ c: ByteCursor, at offset: Int) -> (teid: UInt32, offset: Int)? {
        guard let flags = c.getUInt8(at: offset), flags >> 5 == 1, flags & 0x10 != 0,
              c.getUInt8(at: offset + 1) == gPDU, let teid = c.getUInt32(at: offset + 4) else { return nil }
        var pos = offset + fixedLength
        if flags & 0x07 != 0 {
            guard var next = c.getUInt8(at: pos + 3) else { return nil }
            pos += 4
            if flags & 0x04 != 0 {
                var n = 0
                while next != 0 {
                    guard n < maximumExtensions, let units = c.getUInt8(at: pos), units > 0,
                          let after = c.getUInt8(at: pos + Int(units) * 4 - 1) else { return nil }
                    pos += Int(units) * 4
                    next = after
                    n += 1
                }
            }
        }
        guard let first = c.getUInt8(at: pos), first >> 4 == 4 || first >> 4 == 6 else { return nil }
        return (teid, pos)
    }
}
