/// Big-endian integers and bytes written one after another at `base` (the `cold`
/// BLOBs of schema 11, see docs/SCALING.md §2c). The caller sized the
/// buffer: every write is in bounds.
struct BlobWriter {
    let base: UnsafeMutableRawPointer
    private(set) var at = 0

    init(_ base: UnsafeMutableRawPointer) { self.base = base }

    @inline(__always) mutating func u8(_ v: UInt8) {
        base.storeBytes(of: v, toByteOffset: at, as: UInt8.self); at += 1
    }
    @inline(__always) mutating func u16(_ v: UInt16) {
        base.storeBytes(of: v.bigEndian, toByteOffset: at, as: UInt16.self); at += 2
    }
    @inline(__always) mutating func u32(_ v: UInt32) {
        base.storeBytes(of: v.bigEndian, toByteOffset: at, as: UInt32.self); at += 4
    }
    @inline(__always) mutating func u64(_ v: UInt64) {
        base.storeBytes(of: v.bigEndian, toByteOffset: at, as: UInt64.self); at += 8
    }
    /// `v` in 4 bytes, or 8 when `wide`.
    @inline(__always) mutating func word(_ v: UInt64, wide: Bool) {
        if wide { u64(v) } else { u32(UInt32(truncatingIfNeeded: v)) }
    }
    @inline(__always) mutating func bytes(_ b: UnsafeBufferPointer<UInt8>) {
        if let p = b.baseAddress, b.count > 0 { (base + at).copyMemory(from: p, byteCount: b.count) }
        at += b.count
    }
}

/// Reads what `BlobWriter` wrote. A BLOB shorter than its flags say (a damaged or
/// foreign file) reads as zeros and empty text, never past its end.
struct BlobReader {
    let bytes: UnsafeRawBufferPointer
    var at = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    @inline(__always) mutating func uint(_ width: Int) -> UInt64 {
        defer { at += width }
        guard at >= 0, at + width <= bytes.count else { return 0 }
        var v: UInt64 = 0
        for i in 0..<width { v = v << 8 | UInt64(bytes[at + i]) }
        return v
    }
    @inline(__always) mutating func u8() -> UInt8 { UInt8(truncatingIfNeeded: uint(1)) }
    @inline(__always) mutating func u16() -> UInt16 { UInt16(truncatingIfNeeded: uint(2)) }
    @inline(__always) mutating func u32() -> UInt32 { UInt32(truncatingIfNeeded: uint(4)) }
    @inline(__always) mutating func word(wide: Bool) -> UInt64 { uint(wide ? 8 : 4) }

    /// The UTF-8 text of bytes `from..<to`, clamped to the BLOB.
    func text(from: Int, to: Int) -> String {
        let lo = min(max(from, 0), bytes.count), hi = min(max(to, lo), bytes.count)
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[lo..<hi]), as: UTF8.self)
    }
}

/// SQL that decodes the cold BLOBs with SQLite's built-in functions only (hex, substr,
/// instr), so that the `packets_v` and `flows_v` views work in any sqlite3 shell, with
/// no function of Sniff's loaded. SQLite has no built-in that turns BLOB bytes into an
/// integer, hence the hex digits of each field's own bytes.
enum ColdSQL {
    /// The big-endian unsigned integer of `width` bytes at 0-based `offset` of `blob`.
    static func uint(_ blob: String, _ offset: String, _ width: Int) -> String {
        let hex = "hex(substr(\(blob), \(offset) + 1, \(width)))"
        let digits = (0..<(2 * width)).map { k in
            "((instr('0123456789ABCDEF', substr(\(hex), \(k + 1), 1)) - 1) << \(4 * (2 * width - 1 - k)))"
        }
        return "(" + digits.joined(separator: " | ") + ")"
    }

    /// 1 when bit `bit` of the column `flags` is set, else 0.
    static func bit(_ flags: String, _ bit: Int) -> String { "((\(flags) >> \(bit)) & 1)" }
}
