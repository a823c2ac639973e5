/// A 48-bit Ethernet address held in an integer, so that packets carry it without
/// allocating (sniffnet's String per MAC is the pattern to avoid).
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public var value: UInt64

    @inlinable public init(_ value: UInt64) { self.value = value & 0xFFFF_FFFF_FFFF }

    /// Reads six bytes at `offset`; nil when they are not all there.
    @inlinable
    public init?(_ c: ByteCursor, at offset: Int) {
        guard let hi = c.getUInt16(at: offset), let lo = c.getUInt32(at: offset + 2) else { return nil }
        self.init(UInt64(hi) << 32 | UInt64(lo))
    }

    public func write(into sink: inout ByteSink) {
        for i in 0..<6 {
            if i > 0 { sink.append(0x3A) }
            sink.appendHex((value >> UInt64((5 - i) * 8)) & 0xFF, width: 2)
        }
    }

    public var description: String {
        var s = ByteSink(capacity: 17)
        write(into: &s)
        return s.string
    }
}
