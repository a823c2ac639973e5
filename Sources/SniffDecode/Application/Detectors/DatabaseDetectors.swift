import SniffCore

/// Databases and caches: PostgreSQL, MySQL/MariaDB, Redis and Memcached.
enum DatabaseDetectors {
    /// PostgreSQL's first client messages (protocol §55.7): a StartupMessage for
    /// protocol 3.0 whose length is the payload and which ends in NUL, or the 8-byte
    /// SSLRequest/GSSENCRequest, or the 16-byte CancelRequest.
    static func postgresql(_ c: ByteCursor) -> Bool {
        guard c.count >= 8, let len = c.getUInt32(at: 0), let code = c.getUInt32(at: 4) else { return false }
        switch code {
        case 80_877_103, 80_877_104: return len == 8 && c.count == 8
        case 80_877_102: return len == 16 && c.count == 16
        case 196_608:
            guard Int(len) == c.count, len <= 10_000, let first = c.getUInt8(at: 8) else { return false }
            return c.getUInt8(at: c.count - 1) == 0 && first >= 0x61 && first <= 0x7A
        default: return false
        }
    }

    /// The MySQL/MariaDB server greeting (Protocol::HandshakeV10): a 3-byte length equal
    /// to the rest, sequence 0, protocol 10, a NUL-terminated version that starts with a
    /// digit, the connection id, 8 bytes of scramble and a zero filler.
    static func mysql(_ c: ByteCursor) -> Bool {
        guard c.count >= 40, let l0 = c.getUInt8(at: 0), let l1 = c.getUInt8(at: 1), let l2 = c.getUInt8(at: 2),
              Int(l0) | Int(l1) << 8 | Int(l2) << 16 == c.count - 4, c.getUInt8(at: 3) == 0,
              c.getUInt8(at: 4) == 10, let v = c.getUInt8(at: 5), v >= 0x30, v <= 0x39 else { return false }
        var pos = 6
        while pos < Swift.min(c.count, 70), let b = c.getUInt8(at: pos), b != 0 {
            guard b >= 0x20, b < 0x7F else { return false }
            pos += 1
        }
        guard c.getUInt8(at: pos) == 0 else { return false }
        return c.getUInt8(at: pos + 1 + 4 + 8) == 0
    }

    /// A Redis command as clients send it (RESP): an array of bulk strings,
    /// "*N\r\n$L\r\n".
    static func redis(_ c: ByteCursor) -> Bool {
        guard c.getUInt8(at: 0) == 0x2A, let (n, nd) = Bytes.decimal(c, at: 1), n >= 1, n <= 1_000_000,
              Bytes.has(c, "\r\n$", at: 1 + nd), let (_, ld) = Bytes.decimal(c, at: 4 + nd) else { return false }
        return Bytes.has(c, "\r\n", at: 4 + nd + ld)
    }

    static let memcachedAlone = Keywords(["version", "stats", "flush_all", "END", "STORED", "NOT_STORED",
                                          "DELETED"])
    static let memcachedWithArguments = Keywords(["get ", "gets ", "set ", "add ", "replace ", "append ",
                                                  "prepend ", "cas ", "delete ", "incr ", "decr ", "touch ",
                                                  "gat ", "VALUE ", "STAT ", "VERSION "])

    /// Memcached: a text command or reply line (protocol.txt) ending in CRLF, or the
    /// binary protocol's 24-byte header with magic 0x80/0x81 and a body length equal to
    /// the rest.
    static func memcached(_ p: inout AppPayload) -> Bool {
        let c = p.bytes
        if let magic = c.getUInt8(at: 0), magic == 0x80 || magic == 0x81 {
            guard c.count >= 24, let keyLen = c.getUInt16(at: 2), let extras = c.getUInt8(at: 4),
                  c.getUInt8(at: 5) == 0, let body = c.getUInt32(at: 8), Int(body) == c.count - 24 else { return false }
            return Int(keyLen) + Int(extras) <= Int(body)
        }
        // Commands alone on their line, then those followed by arguments; the keyword
        // before the line, which most payloads lack.
        guard p.opensWithText else { return false }
        if let w = memcachedAlone.first(in: c) {
            guard let end = p.firstLineEnd(limit: 512) else { return false }
            return end == w.utf8CodeUnitCount || c.getUInt8(at: w.utf8CodeUnitCount) == 0x20
        }
        guard let w = memcachedWithArguments.first(in: c),
              let end = p.firstLineEnd(limit: 512) else { return false }
        return end > w.utf8CodeUnitCount
    }
}
