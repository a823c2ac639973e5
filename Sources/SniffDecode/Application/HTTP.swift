import SniffCore

/// The request methods recognised at the start of a TCP payload.
public enum HTTPMethod: UInt8, Sendable, CaseIterable {
    case get = 1, post, head, put, delete, options, patch, connect, trace

    public var name: StaticString {
        switch self {
        case .get: return "GET"
        case .post: return "POST"
        case .head: return "HEAD"
        case .put: return "PUT"
        case .delete: return "DELETE"
        case .options: return "OPTIONS"
        case .patch: return "PATCH"
        case .connect: return "CONNECT"
        case .trace: return "TRACE"
        }
    }
}

/// An HTTP/1.x request line and its Host header, as offsets into the buffer.
public struct HTTPRequest: Sendable, Equatable {
    public var method: HTTPMethod
    public var pathOffset: Int
    public var pathLength: Int
    /// 0 or 1 for HTTP/1.0 and HTTP/1.1.
    public var minorVersion: UInt8
    /// Offset and length of the Host header's value (trimmed), or -1/0 when not seen in
    /// the captured bytes.
    public var hostOffset: Int = -1
    public var hostLength: Int = 0

    public var hasHost: Bool { hostOffset >= 0 }
}

/// HTTP/1.x requests (RFC 9112 section 3): `method SP request-target SP HTTP/1.x CRLF`,
/// then header fields up to an empty line.
public enum HTTP {
    /// Headers are searched for Host within this many bytes of the payload start.
    public static let headerScanLimit = 4096

    /// Parses a request that starts a TCP payload at `offset`. Returns nil unless the
    /// whole request line is there and names a known method and HTTP/1.0 or 1.1.
    public static func parseRequest(_ c: ByteCursor, at offset: Int, length: Int) -> HTTPRequest? {
        let end = Swift.min(offset + Swift.min(length, headerScanLimit), c.count)
        guard offset >= 0, end - offset >= 14, let method = matchMethod(c, at: offset) else { return nil }
        var pos = offset + Int(method.name.utf8CodeUnitCount)
        guard c.getUInt8(at: pos) == 0x20 else { return nil }
        pos += 1
        let pathStart = pos
        // request-target: visible ASCII up to the next space.
        while pos < end, let b = c.getUInt8(at: pos), b > 0x20, b < 0x7F { pos += 1 }
        let pathLength = pos - pathStart
        guard pathLength > 0, c.getUInt8(at: pos) == 0x20 else { return nil }
        pos += 1
        // "HTTP/1." then one digit, then CRLF (a bare LF is tolerated).
        guard pos + 8 <= end,
              c.getUInt32(at: pos) == 0x4854_5450,          // "HTTP"
              c.getUInt8(at: pos + 4) == 0x2F,              // "/"
              c.getUInt8(at: pos + 5) == 0x31,              // "1"
              c.getUInt8(at: pos + 6) == 0x2E,              // "."
              let minor = c.getUInt8(at: pos + 7), minor == 0x30 || minor == 0x31 else { return nil }
        pos += 8
        if c.getUInt8(at: pos) == 0x0D { pos += 1 }
        guard c.getUInt8(at: pos) == 0x0A else { return nil }
        pos += 1
        var request = HTTPRequest(
            method: method, pathOffset: pathStart, pathLength: pathLength, minorVersion: minor &- 0x30)
        findHost(c, from: pos, to: end, into: &request)
        return request
    }

    static func matchMethod(_ c: ByteCursor, at offset: Int) -> HTTPMethod? {
        guard let first = c.getUInt8(at: offset), first >= 0x41, first <= 0x54 else { return nil }
        for m in HTTPMethod.allCases {
            let name = m.name
            let n = name.utf8CodeUnitCount
            guard c.has(n + 1, at: offset) else { continue }
            var equal = true
            name.withUTF8Buffer { bytes in
                for i in 0..<n where c.getUInt8(at: offset + i) != bytes[i] { equal = false; break }
            }
            if equal && c.getUInt8(at: offset + n) == 0x20 { return m }
        }
        return nil
    }

    /// Walks header lines until an empty line or `end`, looking for `Host:`.
    static func findHost(_ c: ByteCursor, from start: Int, to end: Int, into request: inout HTTPRequest) {
        var lineStart = start
        while lineStart < end {
            var lineEnd = lineStart
            while lineEnd < end, c.getUInt8(at: lineEnd) != 0x0A { lineEnd += 1 }
            guard lineEnd < end else { return }  // the line is cut off
            var contentEnd = lineEnd
            if contentEnd > lineStart, c.getUInt8(at: contentEnd - 1) == 0x0D { contentEnd -= 1 }
            if contentEnd == lineStart { return }  // end of headers
            if contentEnd - lineStart >= 5, isHostName(c, at: lineStart) {
                var v = lineStart + 5
                while v < contentEnd, let b = c.getUInt8(at: v), b == 0x20 || b == 0x09 { v += 1 }
                var e = contentEnd
                while e > v, let b = c.getUInt8(at: e - 1), b == 0x20 || b == 0x09 { e -= 1 }
                request.hostOffset = v
                request.hostLength = e - v
                return
            }
            lineStart = lineEnd + 1
        }
    }

    /// "host:" in any letter case.
    static func isHostName(_ c: ByteCursor, at p: Int) -> Bool {
        guard let h = c.getUInt8(at: p), let o = c.getUInt8(at: p + 1), let s = c.getUInt8(at: p + 2),
              let t = c.getUInt8(at: p + 3), c.getUInt8(at: p + 4) == 0x3A else { return false }
        return h | 0x20 == 0x68 && o | 0x20 == 0x6F && s | 0x20 == 0x73 && t | 0x20 == 0x74
    }
}
