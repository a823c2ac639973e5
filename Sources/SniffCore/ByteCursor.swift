/// A bounds-checked view over borrowed bytes.
///
/// `get*(at:)` reads at an absolute offset and does not move; `read*` consumes from the
/// cursor position; `peek*` looks ahead without consuming. Every accessor returns `nil`
/// on short input instead of trapping, because packets are hostile and short input is a
/// normal outcome (a snaplen cut), not a programming error. Multi-byte reads are
/// big-endian (network order) unless the name says `LE`.
public struct ByteCursor {
    public let bytes: UnsafeRawBufferPointer
    public var position: Int

    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer, position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    @inlinable public var count: Int { bytes.count }
    @inlinable public var remaining: Int { Swift.max(0, bytes.count - position) }

    // MARK: absolute reads

    @inlinable
    public func has(_ n: Int, at offset: Int) -> Bool {
        offset >= 0 && n >= 0 && offset <= bytes.count &- n
    }

    @inlinable
    public func getUInt8(at offset: Int) -> UInt8? {
        guard has(1, at: offset) else { return nil }
        return bytes.load(fromByteOffset: offset, as: UInt8.self)
    }

    @inlinable
    public func getUInt16(at offset: Int) -> UInt16? {
        guard has(2, at: offset) else { return nil }
        return UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inlinable
    public func getUInt32(at offset: Int) -> UInt32? {
        guard has(4, at: offset) else { return nil }
        return UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inlinable
    public func getUInt64(at offset: Int) -> UInt64? {
        guard has(8, at: offset) else { return nil }
        return UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inlinable
    public func getUInt16LE(at offset: Int) -> UInt16? {
        guard has(2, at: offset) else { return nil }
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inlinable
    public func getUInt32LE(at offset: Int) -> UInt32? {
        guard has(4, at: offset) else { return nil }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// A sub-range of the bytes, or `nil` when it does not fit.
    @inlinable
    public func slice(at offset: Int, count n: Int) -> UnsafeRawBufferPointer? {
        guard has(n, at: offset) else { return nil }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
    }

    // MARK: consuming reads

    @inlinable
    public mutating func readUInt8() -> UInt8? {
        guard let v = getUInt8(at: position) else { return nil }
        position &+= 1
        return v
    }

    @inlinable
    public mutating func readUInt16() -> UInt16? {
        guard let v = getUInt16(at: position) else { return nil }
        position &+= 2
        return v
    }

    @inlinable
    public mutating func readUInt32() -> UInt32? {
        guard let v = getUInt32(at: position) else { return nil }
        position &+= 4
        return v
    }

    /// Moves forward by `n` bytes; returns false (and does not move) when fewer remain.
    @inlinable
    public mutating func skip(_ n: Int) -> Bool {
        guard has(n, at: position) else { return false }
        position &+= n
        return true
    }

    @inlinable
    public func peekUInt8() -> UInt8? { getUInt8(at: position) }

    @inlinable
    public func peekUInt16() -> UInt16? { getUInt16(at: position) }
}
