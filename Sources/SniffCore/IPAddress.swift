/// An IPv4 or IPv6 address stored inline (no allocation), hashable and comparable.
///
/// IPv4 lives in the low 32 bits of `low`, with `high == 0`; the version flag keeps
/// `0.0.0.1` and `::1` apart.
public struct IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64
    public var isIPv6: Bool

    @inlinable
    public init(v4 value: UInt32) {
        high = 0
        low = UInt64(value)
        isIPv6 = false
    }

    @inlinable
    public init(v6High: UInt64, low: UInt64) {
        high = v6High
        self.low = low
        isIPv6 = true
    }

    public static let none = IPAddress(v4: 0)

    @inlinable public var version: Int { isIPv6 ? 6 : 4 }
    @inlinable public var v4: UInt32 { UInt32(truncatingIfNeeded: low) }

    @inlinable
    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        if a.isIPv6 != b.isIPv6 { return !a.isIPv6 }
        if a.high != b.high { return a.high < b.high }
        return a.low < b.low
    }

    /// The 16-bit group `i` (0...7) of an IPv6 address.
    @inlinable
    func group(_ i: Int) -> UInt16 {
        let word = i < 4 ? high : low
        return UInt16(truncatingIfNeeded: word >> UInt64((3 - (i & 3)) * 16))
    }

    /// Appends the textual form: dotted quad, or RFC 5952 for IPv6 (lower case, the
    /// longest run of two or more zero groups compressed, the first on a tie, and
    /// IPv4-mapped addresses with a dotted tail).
    public func write(into sink: inout ByteSink) {
        if !isIPv6 {
            let v = v4
            sink.append(decimal: UInt64(v >> 24)); sink.append(0x2E)
            sink.append(decimal: UInt64((v >> 16) & 0xFF)); sink.append(0x2E)
            sink.append(decimal: UInt64((v >> 8) & 0xFF)); sink.append(0x2E)
            sink.append(decimal: UInt64(v & 0xFF))
            return
        }
        // IPv4-mapped ::ffff:a.b.c.d (RFC 5952 section 5).
        if high == 0 && (low >> 32) == 0xFFFF {
            sink.append("::ffff:" as StaticString)
            IPAddress(v4: UInt32(truncatingIfNeeded: low)).write(into: &sink)
            return
        }
        var bestStart = -1, bestLen = 0, curStart = -1, curLen = 0
        for i in 0..<8 {
            if group(i) == 0 {
                if curStart < 0 { curStart = i; curLen = 0 }
                curLen += 1
                if curLen > bestLen { bestStart = curStart; bestLen = curLen }
            } else {
                curStart = -1
            }
        }
        if bestLen < 2 { bestStart = -1 }
        var i = 0
        while i < 8 {
            if i == bestStart {
                sink.append("::" as StaticString)
                i += bestLen
                continue
            }
            // A group after the "::" already has its separator.
            if i > 0 && i != bestStart + bestLen { sink.append(0x3A) }
            let g = group(i)
            var width = 4
            while width > 1 && (g >> UInt16((width - 1) * 4)) == 0 { width -= 1 }
            sink.appendHex(UInt64(g), width: width)
            i += 1
        }
    }

    public var description: String {
        var s = ByteSink(capacity: 40)
        write(into: &s)
        return s.string
    }

    /// Parses dotted-quad IPv4 or any RFC 4291 textual IPv6 form (with `::` and an
    /// optional dotted IPv4 tail). Returns nil for anything else.
    public init?(_ text: String) {
        if !text.contains(":") {
            guard let v = IPAddress.parseV4(Substring(text)) else { return nil }
            self.init(v4: v)
            return
        }
        guard let (h, l) = IPAddress.parseV6(text) else { return nil }
        self.init(v6High: h, low: l)
    }

    /// Four parts of one to three ASCII digits, each at most 255, read byte by byte:
    /// the store reads every DNS answer through here, and splitting into substrings was
    /// a few percent of its thread.
    static func parseV4(_ text: Substring) -> UInt32? {
        var v: UInt32 = 0, part: UInt32 = 0, digits = 0, dots = 0
        for c in text.utf8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                part = part * 10 + UInt32(c &- UInt8(ascii: "0"))
                digits += 1
                guard digits <= 3, part <= 255 else { return nil }
            case UInt8(ascii: "."):
                guard digits > 0, dots < 3 else { return nil }
                v = v << 8 | part
                part = 0
                digits = 0
                dots += 1
            default:
                return nil
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        return v << 8 | part
    }

    static func parseV6(_ text: String) -> (UInt64, UInt64)? {
        var groups: [UInt16] = []
        var tailGroups: [UInt16] = []
        var sawDouble = false
        // Split on "::" without Foundation.
        var pieces: [String] = []
        var current = ""
        var chars = Array(text)[...]
        while let ch = chars.first {
            if ch == ":" && chars.dropFirst().first == ":" {
                pieces.append(current); current = ""
                chars = chars.dropFirst(2)
            } else {
                current.append(ch)
                chars = chars.dropFirst()
            }
        }
        pieces.append(current)
        guard pieces.count <= 2 else { return nil }
        func parseSide(_ s: String, allowV4Tail: Bool) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            let fields = s.split(separator: ":", omittingEmptySubsequences: false)
            for (idx, f) in fields.enumerated() {
                if f.contains(".") {
                    guard allowV4Tail, idx == fields.count - 1, let v4 = parseV4(f) else { return nil }
                    out.append(UInt16(v4 >> 16)); out.append(UInt16(v4 & 0xFFFF))
                } else {
                    // UInt16(_:radix:) alone would also take "+1" and "-0".
                    guard !f.isEmpty, f.count <= 4, f.allSatisfy({ $0.isASCII && $0.isHexDigit }),
                          let g = UInt16(f, radix: 16) else { return nil }
                    out.append(g)
                }
            }
            return out
        }
        if pieces.count == 2 {
            sawDouble = true
            guard let a = parseSide(pieces[0], allowV4Tail: false),
                  let b = parseSide(pieces[1], allowV4Tail: true) else { return nil }
            groups = a; tailGroups = b
            guard groups.count + tailGroups.count <= 7 else { return nil }
        } else {
            guard let a = parseSide(pieces[0], allowV4Tail: true), a.count == 8 else { return nil }
            groups = a
        }
        if sawDouble {
            groups += Array(repeating: 0, count: 8 - groups.count - tailGroups.count) + tailGroups
        }
        var h: UInt64 = 0, l: UInt64 = 0
        for i in 0..<4 { h = (h << 16) | UInt64(groups[i]) }
        for i in 4..<8 { l = (l << 16) | UInt64(groups[i]) }
        return (h, l)
    }
}

/// An address prefix such as 10.0.0.0/8 or fd00::/8.
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let a = IPAddress(String(parts[0])) else { return nil }
        let maxLen = a.isIPv6 ? 128 : 32
        var len = maxLen
        if parts.count == 2 {
            guard let l = Int(parts[1]), l >= 0, l <= maxLen, parts[1].allSatisfy(\.isNumber) else { return nil }
            len = l
        }
        self.init(address: a, prefixLength: len)
    }

    /// A length outside 0...32 (IPv4) or 0...128 (IPv6) is clamped: masking with it
    /// would otherwise trap.
    public init(address: IPAddress, prefixLength: Int) {
        let length = Swift.min(Swift.max(prefixLength, 0), address.isIPv6 ? 128 : 32)
        self.prefixLength = length
        self.address = IPNetwork.masked(address, length)
    }

    @usableFromInline
    static func masked(_ a: IPAddress, _ len: Int) -> IPAddress {
        if !a.isIPv6 {
            let mask: UInt32 = len == 0 ? 0 : ~UInt32(0) << UInt32(32 - len)
            return IPAddress(v4: a.v4 & mask)
        }
        let hm: UInt64 = len >= 64 ? ~0 : (len == 0 ? 0 : ~UInt64(0) << UInt64(64 - len))
        let lm: UInt64 = len <= 64 ? 0 : (len >= 128 ? ~0 : ~UInt64(0) << UInt64(128 - len))
        return IPAddress(v6High: a.high & hm, low: a.low & lm)
    }

    @inlinable
    public func contains(_ a: IPAddress) -> Bool {
        a.isIPv6 == address.isIPv6 && IPNetwork.masked(a, prefixLength) == address
    }

    public var description: String { "\(address)/\(prefixLength)" }
}
