import SniffCore

/// VXLAN (RFC 7348) on UDP 4789: flags(1) reserved(3) VNI(3) reserved(1), then an
/// Ethernet frame.
public enum VXLAN {
    public static let port: UInt16 = 4789
    public static let headerLength = 8

    /// The offset of the inner Ethernet frame, when the I flag says the VNI is valid.
    public static func innerOffset(_ c: ByteCursor, at offset: Int) -> Int? {
        guard c.has(headerLength, at: offset), let flags = c.getUInt8(at: offset), flags & 0x08 != 0 else { return nil }
        return offset + headerLength
    }

    public static func vni(_ c: ByteCursor, at offset: Int) -> UInt32? {
        c.getUInt32(at: offset + 4).map { $0 >> 8 }
    }
}
