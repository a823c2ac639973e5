/// Frames built byte by byte for tests that need a known packet rather than a recorded one.
public enum Frames {
    /// Ethernet + IPv4 + UDP around `payload`, 192.0.2.1 to 198.51.100.2 (documentation
    /// addresses), padded with zeros to `minimumLength` as a NIC pads short frames;
    /// checksums are left zero because decoders do not check them.
    public static func udp(_ payload: [UInt8] = [], sport: UInt16 = 40000, dport: UInt16 = 40001,
                           minimumLength: Int = 0) -> [UInt8] {
        let udpLength = 8 + payload.count
        let total = 20 + udpLength
        var b: [UInt8] = [0x00, 0x00, 0x5E, 0x00, 0x53, 0x02, 0x00, 0x00, 0x5E, 0x00, 0x53, 0x01, 0x08, 0x00]
        b += [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 1, 0, 0, 64, 17, 0, 0,
              192, 0, 2, 1, 198, 51, 100, 2]
        b += [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF),
              UInt8(udpLength >> 8), UInt8(udpLength & 0xFF), 0, 0]
        b += payload
        if b.count < minimumLength { b += [UInt8](repeating: 0, count: minimumLength - b.count) }
        return b
    }

    /// `udp` with a payload of 0x41 bytes that makes the frame `size` bytes on the wire.
    public static func udp(size: Int, sport: UInt16 = 40000, dport: UInt16 = 40001) -> [UInt8] {
        udp([UInt8](repeating: 0x41, count: max(0, size - 42)), sport: sport, dport: dport)
    }
}
