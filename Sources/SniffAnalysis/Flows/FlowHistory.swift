import SniffCore

/// Zeek's connection history: a short string of letters kept inline in 17 bytes.
///
/// Upper case for the originator, lower case for the responder. Letters past
/// `capacity` are dropped (Zeek's strings are unbounded; a history this long only
/// comes from pathological connections).
public struct FlowHistory: Sendable, Equatable {
    @usableFromInline var w0: UInt64 = 0
    @usableFromInline var w1: UInt64 = 0
    public private(set) var count: UInt8 = 0

    public static let capacity = 16

    public init() {}

    public init(_ text: String) {
        for b in text.utf8 { append(b) }
    }

    @inlinable
    public subscript(i: Int) -> UInt8 {
        let word = i < 8 ? w0 : w1
        return UInt8(truncatingIfNeeded: word >> UInt64((i & 7) * 8))
    }

    @inlinable
    public var isEmpty: Bool { count == 0 }

    public mutating func append(_ letter: UInt8) {
        let i = Int(count)
        guard i < FlowHistory.capacity else { return }
        let shift = UInt64((i & 7) * 8)
        if i < 8 { w0 |= UInt64(letter) << shift } else { w1 |= UInt64(letter) << shift }
        count += 1
    }

    /// Appends `letter` in upper case for the originator, lower case for the responder.
    @inlinable
    public mutating func append(_ letter: UInt8, originator: Bool) {
        append(originator ? letter : (letter >= 0x41 && letter <= 0x5A ? letter | 0x20 : letter))
    }

    /// Swaps the case of every letter: the roles were flipped after the fact.
    public mutating func swapCase() {
        var copy = FlowHistory()
        for i in 0..<Int(count) {
            let c = self[i]
            if c >= 0x41 && c <= 0x5A {
                copy.append(c | 0x20)
            } else if c >= 0x61 && c <= 0x7A {
                copy.append(c & ~0x20)
            } else {
                copy.append(c)
            }
        }
        self = copy
    }

    public func write(into sink: inout ByteSink) {
        for i in 0..<Int(count) { sink.append(self[i]) }
    }

    /// Built on the stack: a history of up to 15 letters becomes a String without any
    /// allocation (this runs for every flow stored).
    public var string: String {
        let n = Int(count)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(n, 1)) { b in
            for i in 0..<n { b[i] = self[i] }
            return String(decoding: UnsafeBufferPointer(rebasing: b[0..<n]), as: UTF8.self)
        }
    }

    /// Zeek's RSTOS0 test, `/\^?S[^HAFGIQ]*R.*/` matched against the whole history.
    public var matchesRSTOS0: Bool {
        var i = 0
        let n = Int(count)
        if i < n && self[i] == UInt8(ascii: "^") { i += 1 }
        guard i < n, self[i] == UInt8(ascii: "S") else { return false }
        i += 1
        while i < n {
            let c = self[i]
            if c == UInt8(ascii: "R") { return true }
            switch c {
            case UInt8(ascii: "H"), UInt8(ascii: "A"), UInt8(ascii: "F"), UInt8(ascii: "G"),
                 UInt8(ascii: "I"), UInt8(ascii: "Q"):
                return false
            default:
                i += 1
            }
        }
        return false
    }
}
