import SniffCore

/// The start line and the header fields of one HTTP/1.x message that http.log needs,
/// read from a complete header block (RFC 9112 sections 2 to 6). Made once per message.
public struct HTTPMessageHead: Sendable, Equatable {
    public var isRequest = true
    /// Request: method token and request-target. Response: status code and reason.
    public var method: String?
    public var uri: String?
    public var statusCode: UInt16 = 0
    public var statusMessage: String?
    /// "1.0" or "1.1".
    public var version: String?
    public var host: String?
    public var userAgent: String?
    public var referrer: String?
    public var origin: String?
    /// The media type of Content-Type, without parameters, lower-cased.
    public var contentType: String?
    public var contentLength: Int64?
    public var chunked = false

    /// Longest value kept from a header line or the request-target.
    public static let maximumValue = 4096

    public init() {}

    /// Parses `block`, which holds the start line and header lines up to (and
    /// possibly including) the empty line. Nil when the start line is not HTTP/1.x.
    public static func parse(_ block: UnsafeRawBufferPointer) -> HTTPMessageHead? {
        var lines = LineReader(block)
        guard let start = lines.next() else { return nil }
        var h = HTTPMessageHead()
        guard h.readStartLine(start) else { return nil }
        while let line = lines.next(), !line.isEmpty {
            h.readField(line)
        }
        return h
    }

    private mutating func readStartLine(_ l: UnsafeRawBufferPointer) -> Bool {
        if l.count >= 12, Self.hasPrefix(l, "HTTP/1.") {
            // status-line: HTTP/1.x SP 3DIGIT SP [reason]
            let minor = l[7]
            guard minor == 0x30 || minor == 0x31, l[8] == 0x20 else { return false }
            var code: UInt16 = 0
            for i in 9..<12 {
                guard l[i] >= 0x30 && l[i] <= 0x39 else { return false }
                code = code * 10 + UInt16(l[i] - 0x30)
            }
            isRequest = false
            version = minor == 0x30 ? "1.0" : "1.1"
            statusCode = code
            statusMessage = l.count > 13 ? Self.text(UnsafeRawBufferPointer(rebasing: l[13...])) : nil
            return true
        }
        // request-line: method SP request-target SP HTTP/1.x
        guard let sp1 = l.firstIndex(of: 0x20), sp1 > 0, sp1 <= 32,
              let sp2 = l[(sp1 + 1)...].firstIndex(of: 0x20), sp2 > sp1 + 1 else { return false }
        for i in 0..<sp1 {
            let c = l[i]
            guard (c >= 0x41 && c <= 0x5A) || c == 0x2D || c == 0x5F else { return false }
        }
        let v = UnsafeRawBufferPointer(rebasing: l[(sp2 + 1)...])
        guard v.count == 8, Self.hasPrefix(v, "HTTP/1."), v[7] == 0x30 || v[7] == 0x31 else { return false }
        isRequest = true
        method = Self.text(UnsafeRawBufferPointer(rebasing: l[0..<sp1]))
        uri = Self.text(UnsafeRawBufferPointer(rebasing: l[(sp1 + 1)..<sp2]))
        version = v[7] == 0x30 ? "1.0" : "1.1"
        return true
    }

    private mutating func readField(_ l: UnsafeRawBufferPointer) {
        guard let colon = l.firstIndex(of: 0x3A), colon > 0 else { return }
        let name = UnsafeRawBufferPointer(rebasing: l[0..<colon])
        var a = colon + 1, b = l.count
        while a < b && (l[a] == 0x20 || l[a] == 0x09) { a += 1 }
        while b > a && (l[b - 1] == 0x20 || l[b - 1] == 0x09) { b -= 1 }
        let value = UnsafeRawBufferPointer(rebasing: l[a..<b])
        // The first of repeated fields wins, as Zeek's http.log keeps it.
        if Self.equalsLower(name, "host") { if host == nil { host = Self.text(value) } }
        else if Self.equalsLower(name, "user-agent") { if userAgent == nil { userAgent = Self.text(value) } }
        else if Self.equalsLower(name, "referer") { if referrer == nil { referrer = Self.text(value) } }
        else if Self.equalsLower(name, "origin") { if origin == nil { origin = Self.text(value) } }
        else if Self.equalsLower(name, "content-length") {
            var n: Int64 = 0
            var digits = 0
            for c in value {
                guard c >= 0x30 && c <= 0x39, digits < 18 else { return }
                n = n * 10 + Int64(c - 0x30)
                digits += 1
            }
            if digits > 0 && contentLength == nil { contentLength = n }
        } else if Self.equalsLower(name, "transfer-encoding") {
            // chunked is the last coding when present (RFC 9112 section 6.1).
            let t = Self.text(value).lowercased()
            chunked = t.hasSuffix("chunked")
        } else if Self.equalsLower(name, "content-type"), contentType == nil {
            let semi = value.firstIndex(of: 0x3B) ?? value.count
            var e = semi
            while e > 0 && (value[e - 1] == 0x20 || value[e - 1] == 0x09) { e -= 1 }
            if e > 0 { contentType = Self.text(UnsafeRawBufferPointer(rebasing: value[0..<e])).lowercased() }
        }
    }

    static func hasPrefix(_ b: UnsafeRawBufferPointer, _ p: StaticString) -> Bool {
        let n = p.utf8CodeUnitCount
        guard b.count >= n else { return false }
        return p.withUTF8Buffer { q in (0..<n).allSatisfy { b[$0] == q[$0] } }
    }

    static func equalsLower(_ b: UnsafeRawBufferPointer, _ p: StaticString) -> Bool {
        let n = p.utf8CodeUnitCount
        guard b.count == n else { return false }
        return p.withUTF8Buffer { q in (0..<n).allSatisfy { b[$0] | 0x20 == q[$0] | 0x20 } }
    }

    static func text(_ b: UnsafeRawBufferPointer) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: b[0..<Swift.min(b.count, maximumValue)]), as: UTF8.self)
    }
}

/// Lines of a header block, without their CRLF (a bare LF is accepted); the last line
/// without a line end is returned too.
struct LineReader {
    let b: UnsafeRawBufferPointer
    var at = 0

    init(_ b: UnsafeRawBufferPointer) { self.b = b }

    mutating func next() -> UnsafeRawBufferPointer? {
        guard at < b.count else { return nil }
        var e = at
        while e < b.count && b[e] != 0x0A { e += 1 }
        var end = e
        if end > at && b[end - 1] == 0x0D { end -= 1 }
        let line = UnsafeRawBufferPointer(rebasing: b[at..<end])
        at = e + 1
        return line
    }
}
