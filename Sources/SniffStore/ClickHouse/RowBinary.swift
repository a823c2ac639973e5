import NIOCore
import SniffCore

/// ClickHouse's RowBinary input format: each row's values back to back in the order
/// of the INSERT's column list, integers little-endian, strings as a LEB128 length and
/// their bytes, FixedString(N) as exactly N bytes, Nullable(T) as a byte (1: NULL)
/// followed by T's value when not NULL. The server parses it without any text
/// conversion, which is what makes the inserts cheap on both ends.
///
/// Values are stored with one unaligned store each into a fixed 64 KiB chunk, which
/// goes into `buffer` (the `ByteBuffer` the HTTP client sends as it is, not copied) when
/// it fills and at `flush`: a value costs a bounds test and a store, where appending to
/// an array byte by byte, or `ByteBuffer.writeInteger` per value, each tested the
/// storage's uniqueness and capacity. `ClickHouseBuffers` hands `buffer` to the next
/// write call, so a load does not fault in tens of megabytes of new pages per call.
///
/// The struct owns its chunk and is `~Copyable`: a copy would share the chunk (both
/// writing into it, both freeing it), so the compiler allows only moves and borrows.
struct RowBinary: ~Copyable {
    private(set) var buffer: ByteBuffer
    private let chunk = UnsafeMutableRawPointer.allocate(byteCount: RowBinary.chunkSize, alignment: 8)
    private var used = 0

    static let chunkSize = 1 << 16

    deinit { chunk.deallocate() }

    init(capacity: Int = 1 << 16) { buffer = ByteBufferAllocator().buffer(capacity: capacity) }

    /// Starts empty in `buffer`'s memory (a buffer of an earlier call). The buffer must
    /// be its storage's only reference (`consuming`), or `clear` allocates anew.
    init(reusing buffer: consuming ByteBuffer) {
        self.buffer = buffer
        self.buffer.clear()
    }

    var count: Int { buffer.readableBytes + used }

    /// The rows' bytes (tests, small inserts).
    var bytes: [UInt8] {
        Array(buffer.readableBytesView) + Array(UnsafeRawBufferPointer(start: chunk, count: used))
    }

    /// Moves what the chunk holds into `buffer`; call before sending `buffer`.
    mutating func flush() {
        guard used > 0 else { return }
        buffer.writeBytes(UnsafeRawBufferPointer(start: chunk, count: used))
        used = 0
    }

    @inline(__always) private mutating func room(_ n: Int) {
        if used &+ n > RowBinary.chunkSize { flush() }
    }

    @inline(__always) private mutating func store<T: FixedWidthInteger>(_ v: T) {
        room(MemoryLayout<T>.size)
        chunk.storeBytes(of: v.littleEndian, toByteOffset: used, as: T.self)
        used &+= MemoryLayout<T>.size
    }

    @inline(__always) mutating func u8(_ v: UInt8) { store(v) }
    @inline(__always) mutating func u16(_ v: UInt16) { store(v) }
    @inline(__always) mutating func u32(_ v: UInt32) { store(v) }
    @inline(__always) mutating func u64(_ v: UInt64) { store(v) }
    @inline(__always) mutating func i64(_ v: Int64) { store(v) }
    @inline(__always) mutating func i32(_ v: Int32) { store(v) }

    @inline(__always) mutating func length(_ n: Int) {
        if n < 0x80 { store(UInt8(truncatingIfNeeded: n)); return }
        var v = UInt64(n)
        while v >= 0x80 { store(UInt8(truncatingIfNeeded: v) | 0x80); v >>= 7 }
        store(UInt8(v))
    }

    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { string(UnsafeRawBufferPointer($0)) }
    }

    mutating func string(_ b: UnsafeRawBufferPointer) {
        length(b.count)
        if b.count > RowBinary.chunkSize / 4 {
            // A long value (a kept frame) goes straight into the buffer.
            flush()
            buffer.writeBytes(b)
            return
        }
        room(b.count)
        if let from = b.baseAddress { (chunk + used).copyMemory(from: from, byteCount: b.count) }
        used &+= b.count
    }

    /// An address as FixedString(16): IPv6 as its 16 bytes, IPv4 as the IPv4-mapped
    /// IPv6 address (::ffff:a.b.c.d), which ClickHouse's IPv6NumToString prints with a
    /// dotted tail.
    @inline(__always) mutating func address(_ a: IPAddress) {
        let (hi, lo) = ClickHouseSchema.address16(a)
        store(hi.byteSwapped)
        store(lo.byteSwapped)
    }

    // Nullable(T): the NULL flag, then the value.
    @inline(__always) mutating func nullableString(_ s: String?) {
        if let s { u8(0); string(s) } else { u8(1) }
    }
    @inline(__always) mutating func nullableI64(_ v: Int64?) {
        if let v { u8(0); i64(v) } else { u8(1) }
    }
    @inline(__always) mutating func nullableU64(_ v: UInt64?) {
        if let v { u8(0); u64(v) } else { u8(1) }
    }
    @inline(__always) mutating func nullableU32(_ v: UInt32?) {
        if let v { u8(0); u32(v) } else { u8(1) }
    }
    @inline(__always) mutating func nullableU16(_ v: UInt16?) {
        if let v { u8(0); u16(v) } else { u8(1) }
    }
    @inline(__always) mutating func nullableI32(_ v: Int32?) {
        if let v { u8(0); i32(v) } else { u8(1) }
    }
    @inline(__always) mutating func nullableBool(_ v: Bool?) {
        if let v { u8(0); u8(v ? 1 : 0) } else { u8(1) }
    }
}
