#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An append-only byte buffer for text output (NDJSON, reports, CSV).
///
/// Output is built as bytes rather than `String` so that the per-packet writers can
/// reuse one buffer with its capacity and never allocate once it has grown.
public struct ByteSink: Sendable {
    public var bytes: [UInt8]

    public init(capacity: Int = 4096) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inlinable public var count: Int { bytes.count }
    @inlinable public var isEmpty: Bool { bytes.isEmpty }
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    @inlinable
    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    @inlinable
    public mutating func append(_ byte: UInt8) { bytes.append(byte) }

    @inlinable
    public mutating func append(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    @inlinable
    public mutating func append(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    @inlinable
    public mutating func append(bytes other: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: other)
    }

    /// Appends an unsigned decimal without going through `String`.
    @inlinable
    public mutating func append(decimal value: UInt64) {
        if value < 10 { bytes.append(0x30 &+ UInt8(value)); return }
        var v = value
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for 20 digits
        let n: Int = withUnsafeMutableBytes(of: &tmp) { buf in
            var i = 24
            while v > 0 {
                i -= 1
                buf[i] = 0x30 &+ UInt8(v % 10)
                v /= 10
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[i..<24]))
            return 24 - i
        }
        _ = n
    }

    @inlinable
    public mutating func append(decimal value: Int64) {
        if value < 0 {
            bytes.append(0x2D)
            append(decimal: UInt64(bitPattern: 0 &- value))
        } else {
            append(decimal: UInt64(value))
        }
    }

    @inlinable
    public mutating func append(decimal value: Int) { append(decimal: Int64(value)) }

    /// Appends `value` zero-padded to `width` digits.
    @inlinable
    public mutating func append(decimal value: UInt64, width: Int) {
        var digits = 1
        var v = value
        while v >= 10 { v /= 10; digits += 1 }
        if digits < width {
            for _ in 0..<(width - digits) { bytes.append(0x30) }
        }
        append(decimal: value)
    }

    @inlinable
    public mutating func appendHex(_ value: UInt64, width: Int) {
        var shift = (width - 1) * 4
        while shift >= 0 {
            let nibble = UInt8((value >> UInt64(shift)) & 0xF)
            bytes.append(nibble < 10 ? 0x30 &+ nibble : 0x57 &+ nibble)
            shift -= 4
        }
    }

    /// Seconds since the epoch with exactly nine fractional digits.
    @inlinable
    public mutating func appendEpoch(_ ts: Timestamp) {
        if ts.seconds < 0 && ts.nanoseconds > 0 && ts.nanoseconds < 1_000_000_000 {
            // The value is seconds + nanoseconds/1e9, so -1 s + 999999999 ns is
            // -0.000000001, not "-1.999999999": print the magnitude with one sign.
            bytes.append(0x2D)
            append(decimal: UInt64(bitPattern: 0 &- ts.seconds) &- 1)
            bytes.append(0x2E)
            append(decimal: UInt64(1_000_000_000 - ts.nanoseconds), width: 9)
            return
        }
        append(decimal: ts.seconds)
        bytes.append(0x2E)
        append(decimal: UInt64(ts.nanoseconds), width: 9)
    }

    /// Appends `s` as the contents of a JSON string (without quotes), escaping as RFC 8259
    /// requires. Invalid UTF-8 from packets is replaced rather than emitted raw.
    public mutating func appendJSONEscaped(_ raw: UnsafeRawBufferPointer) {
        var i = 0
        let n = raw.count
        while i < n {
            // A run of bytes that need no escaping (most of any name or URI) goes in with
            // one copy rather than one append per byte.
            var end = i
            while end < n {
                let c = raw[end]
                if c < 0x20 || c >= 0x7F || c == 0x22 || c == 0x5C { break }
                end += 1
            }
            if end > i {
                bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[i..<end]))
                i = end
                if i == n { break }
            }
            let b = raw[i]
            if b >= 0x80 {
                // Validate one UTF-8 sequence; invalid bytes become U+FFFD.
                let len = ByteSink.utf8SequenceLength(raw, at: i)
                if len == 0 {
                    append("\\ufffd" as StaticString)
                    i += 1
                } else {
                    bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[i..<(i + len)]))
                    i += len
                }
                continue
            }
            switch b {
            case 0x22: append("\\\"" as StaticString)
            case 0x5C: append("\\\\" as StaticString)
            case 0x0A: append("\\n" as StaticString)
            case 0x0D: append("\\r" as StaticString)
            case 0x09: append("\\t" as StaticString)
            case 0x00..<0x20, 0x7F:
                append("\\u00" as StaticString)
                appendHex(UInt64(b), width: 2)
            default: bytes.append(b)
            }
            i += 1
        }
    }

    public mutating func appendJSONEscaped(_ s: String) {
        var s = s
        s.withUTF8 { appendJSONEscaped(UnsafeRawBufferPointer($0)) }
    }

    /// Length of a valid UTF-8 sequence starting at `i`, or 0 if invalid (overlong forms,
    /// surrogates and values past U+10FFFF are invalid). The stores' text cleaning uses
    /// the same rule, so a string is valid or not alike in JSON and in the database.
    public static func utf8SequenceLength(_ raw: UnsafeRawBufferPointer, at i: Int) -> Int {
        let b0 = raw[i]
        let need: Int
        let minValue: UInt32
        var value: UInt32
        switch b0 {
        case 0xC2...0xDF: need = 1; minValue = 0x80; value = UInt32(b0 & 0x1F)
        case 0xE0...0xEF: need = 2; minValue = 0x800; value = UInt32(b0 & 0x0F)
        case 0xF0...0xF4: need = 3; minValue = 0x10000; value = UInt32(b0 & 0x07)
        default: return 0
        }
        guard i + need < raw.count else { return 0 }
        for k in 1...need {
            let c = raw[i + k]
            guard c & 0xC0 == 0x80 else { return 0 }
            value = (value << 6) | UInt32(c & 0x3F)
        }
        if value < minValue || value > 0x10FFFF || (0xD800...0xDFFF).contains(value) { return 0 }
        return need + 1
    }

    /// Writes everything to `fd` and empties the buffer. Retries on EINTR and short writes.
    @discardableResult
    public mutating func flush(to fd: Int32) -> Bool {
        var ok = true
        bytes.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    ok = false
                    return
                }
                off += n
            }
        }
        bytes.removeAll(keepingCapacity: true)
        return ok
    }
}
