import SniffCore

/// ClickHouse's RowBinary input format: each row's values back to back in the order
/// of the INSERT's column list, integers little-endian, strings as a LEB128 length and
/// their bytes, FixedString(N) as exactly N bytes, Nullable(T) as a byte (1: NULL)
/// followed by T's value when not NULL. The server parses it without any text
/// conversion, which is what makes the inserts cheap on both ends.
struct RowBinary {
    var bytes: [UInt8] = []

    init(capacity: Int = 1 << 16) { bytes.reserveCapacity(capacity) }

    var count: Int { bytes.count }
    mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    @inline(__always) mutating func u8(_ v: UInt8) { bytes.append(v) }
    @inline(__always) mutating func u16(_ v: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: v)); bytes.append(UInt8(truncatingIfNeeded: v >> 8))
    }
    @inline(__always) mutating func u32(_ v: UInt32) {
        for s in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) }
    }
    @inline(__always) mutating func u64(_ v: UInt64) {
        for s in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) }
    }
    @inline(__always) mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    @inline(__always) mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }

    mutating func length(_ n: Int) {
        var v = UInt64(n)
        while v >= 0x80 { bytes.append(UInt8(truncatingIfNeeded: v) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }

    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { b in
            length(b.count)
            bytes.append(contentsOf: b)
        }
    }

    mutating func string(_ b: UnsafeRawBufferPointer) {
        length(b.count)
        bytes.append(contentsOf: b)
    }

    /// An address as FixedString(16): IPv6 as its 16 bytes, IPv4 as the IPv4-mapped
    /// IPv6 address (::ffff:a.b.c.d), which ClickHouse's IPv6NumToString prints with a
    /// dotted tail.
    mutating func address(_ a: IPAddress) {
        let (hi, lo) = ClickHouseSchema.address16(a)
        for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: hi >> UInt64(s))) }
        for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: lo >> UInt64(s))) }
    }

    // Nullable(T): the NULL flag, then the value.
    mutating func nullableString(_ s: String?) {
        if let s { u8(0); string(s) } else { u8(1) }
    }
    mutating func nullableI64(_ v: Int64?) {
        if let v { u8(0); i64(v) } else { u8(1) }
    }
    mutating func nullableU64(_ v: UInt64?) {
        if let v { u8(0); u64(v) } else { u8(1) }
    }
    mutating func nullableU32(_ v: UInt32?) {
        if let v { u8(0); u32(v) } else { u8(1) }
    }
    mutating func nullableU16(_ v: UInt16?) {
        if let v { u8(0); u16(v) } else { u8(1) }
    }
    mutating func nullableI32(_ v: Int32?) {
        if let v { u8(0); i32(v) } else { u8(1) }
    }
    mutating func nullableBool(_ v: Bool?) {
        if let v { u8(0); u8(v ? 1 : 0) } else { u8(1) }
    }
}
