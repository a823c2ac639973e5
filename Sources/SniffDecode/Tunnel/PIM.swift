import SniffCore

/// PIM (IP protocol 103). Only Register messages (RFC 7761 §4.9.3) are looked into: a
/// designated router sends the rendezvous point each multicast data packet it has no
/// tree for inside one, so the packet they carry is a flow of its own.
///
///     ver(4)=2 type(4)=1 | reserved(1) | checksum(2) | B N reserved(30) | the IP packet
///
/// A Null-Register (N set) carries only the data packet's IP header.
public enum PIM {
    public static let registerHeaderLength = 8
    static let versionAndRegister: UInt8 = 0x21

    /// The offset of the IP packet a Register carries; nil for other PIM messages.
    public static func registerPayload(_ c: ByteCursor, at offset: Int) -> Int? {
        guard c.getUInt8(at: offset) == versionAndRegister, c.has(registerHeaderLength, at: offset),
              let first = c.getUInt8(at: offset + registerHeaderLength),
              first >> 4 == 4 || first >> 4 == 6 else { return nil }
        return offset + registerHeaderLength
    }
}
