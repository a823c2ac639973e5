import SniffCore

/// Session and media signalling: STUN, SIP, RTSP and SSDP.
enum MediaDetectors {
    /// STUN (RFC 8489 §5): the top two bits zero, a length that is a multiple of 4 and
    /// fits the payload exactly (over TCP, at least), and the magic cookie.
    static func stun(_ c: ByteCursor) -> Bool {
        guard c.count >= 20, let type = c.getUInt16(at: 0), type & 0xC000 == 0, let len = c.getUInt16(at: 2),
              len % 4 == 0, Int(len) + 20 <= c.count else { return false }
        return c.getUInt32(at: 4) == 0x2112_A442
    }

    static let sipMethods = Keywords(["INVITE ", "REGISTER ", "OPTIONS ", "ACK ", "BYE ", "CANCEL ",
                                      "SUBSCRIBE ", "NOTIFY ", "MESSAGE ", "INFO ", "PRACK ", "UPDATE ",
                                      "REFER ", "PUBLISH "])
    static let rtspMethods = Keywords(["OPTIONS ", "DESCRIBE ", "SETUP ", "PLAY ", "PAUSE ", "TEARDOWN ",
                                       "ANNOUNCE ", "RECORD ", "GET_PARAMETER ", "SET_PARAMETER ",
                                       "REDIRECT "])

    /// A first line "METHOD target VERSION" (one of `methods`, the version at the end of
    /// the line) or "VERSION NNN reason".
    static func startLine(_ p: inout AppPayload, methods: Keywords, version: StaticString) -> Bool {
        let c = p.bytes
        let vlen = version.utf8CodeUnitCount
        if Bytes.has(c, version) {
            guard let end = p.firstLineEnd(limit: 2048) else { return false }
            if c.getUInt8(at: vlen) == 0x20, let (_, n) = Bytes.decimal(c, at: vlen + 1) {
                return n == 3 && (end == vlen + 4 || c.getUInt8(at: vlen + 4) == 0x20)
            }
        }
        // The method first: it rules out almost every payload without finding the line.
        guard let m = methods.first(in: c), let end = p.firstLineEnd(limit: 2048) else {
            return false
        }
        let target = m.utf8CodeUnitCount
        guard end > target + vlen + 1, c.getUInt8(at: target) != 0x20 else { return false }
        return c.getUInt8(at: end - vlen - 1) == 0x20 && Bytes.has(c, version, at: end - vlen)
    }

    /// SIP (RFC 3261 §7.1): a request line ending in SIP/2.0, or a status line.
    static func sip(_ p: inout AppPayload) -> Bool { startLine(&p, methods: sipMethods, version: "SIP/2.0") }

    /// RTSP (RFC 2326 §6.1, RFC 7826): a request line ending in RTSP/1.0 or 2.0, or a
    /// status line.
    static func rtsp(_ p: inout AppPayload) -> Bool {
        startLine(&p, methods: rtspMethods, version: "RTSP/1.0")
            || startLine(&p, methods: rtspMethods, version: "RTSP/2.0")
    }

    /// SSDP (UPnP Device Architecture §1): HTTP over UDP with the "*" target of a search
    /// or an announcement, or a search reply carrying ST or USN.
    static func ssdp(_ c: ByteCursor) -> Bool {
        if Bytes.has(c, "M-SEARCH * HTTP/1.1\r\n") || Bytes.has(c, "NOTIFY * HTTP/1.1\r\n") { return true }
        guard Bytes.has(c, "HTTP/1.1 200 OK\r\n") else { return false }
        let end = Swift.min(c.count, 1024)
        return Bytes.contains(c, "\r\nST:", from: 15, to: end) || Bytes.contains(c, "\r\nUSN:", from: 15, to: end)
    }
}
