import SniffCore

/// Messaging, chat, IoT and peer-to-peer: MQTT, CoAP, IRC, XMPP and BitTorrent.
enum MessagingDetectors {
    /// MQTT CONNECT (3.1.1 §3.1, 5.0 §3.1): packet type 1 with zero flags, a remaining
    /// length, then the protocol name "MQTT" (level 4 or 5) or "MQIsdp" (level 3) and
    /// connect flags with the reserved bit clear.
    static func mqtt(_ c: ByteCursor) -> Bool {
        guard c.getUInt8(at: 0) == 0x10 else { return false }
        var pos = 1, remaining = 0, shift = 0
        while true {
            guard pos <= 4, let b = c.getUInt8(at: pos) else { return false }
            remaining |= Int(b & 0x7F) << shift
            pos += 1
            if b & 0x80 == 0 { break }
            shift += 7
        }
        guard remaining >= 10 else { return false }
        let level: UInt8, flagsAt: Int
        if Bytes.has(c, "\0\u{4}MQTT", at: pos) {
            guard let l = c.getUInt8(at: pos + 6), l == 4 || l == 5 else { return false }
            level = l; flagsAt = pos + 7
        } else if Bytes.has(c, "\0\u{6}MQIsdp", at: pos) {
            level = c.getUInt8(at: pos + 8) ?? 0; flagsAt = pos + 9
            guard level == 3 else { return false }
        } else {
            return false
        }
        guard let flags = c.getUInt8(at: flagsAt) else { return false }
        return flags & 1 == 0
    }

    /// True for a registered option number (RFC 7252 §5.10, 7641, 7959, 7967, 9175) with
    /// a length its format allows: random bytes that tile like options rarely pass.
    static func coapOption(_ number: Int, length: Int) -> Bool {
        switch number {
        case 1, 4, 292: return length <= 8 && (number != 4 || length >= 1)     // If-Match, ETag, Request-Tag
        case 3, 39: return length >= 1 && length <= 255                       // Uri-Host, Proxy-Scheme
        case 5: return length == 0                                            // If-None-Match
        case 6, 23, 27: return length <= 3                                    // Observe, Block2, Block1
        case 7, 12, 17: return length <= 2                                    // Uri-Port, Content-Format, Accept
        case 8, 11, 15, 20: return length <= 255                              // paths and queries
        case 14, 28, 60: return length <= 4                                   // Max-Age, Size2, Size1
        case 35: return length >= 1 && length <= 1034                         // Proxy-Uri
        case 258: return length <= 1                                          // No-Response
        default: return false
        }
    }

    /// CoAP (RFC 7252 §3): version 1, token length <= 8, a request method or response
    /// code (or an empty message of 4 bytes), then registered options of valid lengths
    /// that end exactly at the payload marker (with a payload after it) or at the end.
    static func coap(_ c: ByteCursor) -> Bool {
        guard c.count >= 4, let b0 = c.getUInt8(at: 0), b0 >> 6 == 1, let code = c.getUInt8(at: 1) else { return false }
        let tkl = Int(b0 & 0x0F)
        guard tkl <= 8 else { return false }
        let cls = code >> 5, detail = code & 0x1F
        switch cls {
        case 0:
            if detail == 0 { return c.count == 4 && tkl == 0 }
            guard detail <= 7 else { return false }
        case 2: guard detail >= 1, detail <= 5 || detail == 31 else { return false }
        case 4: guard detail <= 15 else { return false }
        case 5: guard detail <= 5 else { return false }
        default: return false
        }
        var pos = 4 + tkl, number = 0
        guard pos <= c.count else { return false }
        while pos < c.count {
            guard let b = c.getUInt8(at: pos) else { return false }
            if b == 0xFF { return pos + 1 < c.count }
            var delta = Int(b >> 4), length = Int(b & 0x0F)
            pos += 1
            for field in 0..<2 {
                let v = field == 0 ? delta : length
                switch v {
                case 13:
                    guard let e = c.getUInt8(at: pos) else { return false }
                    if field == 0 { delta = 13 + Int(e) } else { length = 13 + Int(e) }
                    pos += 1
                case 14:
                    guard let e = c.getUInt16(at: pos) else { return false }
                    if field == 0 { delta = 269 + Int(e) } else { length = 269 + Int(e) }
                    pos += 2
                case 15: return false
                default: break
                }
            }
            number += delta
            guard coapOption(number, length: length) else { return false }
            pos += length
        }
        return pos == c.count
    }

    static let ircCommands = Keywords(["NICK ", "CAP LS", "CAP REQ "])

    /// IRC (RFC 2812 §2.3): a client's registration ("NICK name", or the capability
    /// negotiation of IRCv3 "CAP LS"/"CAP REQ") or a server's message: ":prefix", then
    /// a three-digit reply or NOTICE, on a CRLF-terminated line. "USER" and "PASS" are
    /// left out: FTP and POP3 have them too.
    static func irc(_ p: inout AppPayload) -> Bool {
        let c = p.bytes
        if c.getUInt8(at: 0) != 0x3A {
            guard ircCommands.first(in: c) != nil, let end = p.firstLineEnd(limit: 512) else {
                return false
            }
            return end > 5
        }
        var i = 1
        while i < 64, let b = c.getUInt8(at: i), b > 0x20, b < 0x7F { i += 1 }
        guard i > 1, c.getUInt8(at: i) == 0x20 else { return false }
        let command = i + 1
        let reply = Bytes.decimal(c, at: command).map { $0.count == 3 } ?? false
        guard (reply || Bytes.has(c, "NOTICE ", at: command)), let end = p.firstLineEnd(limit: 512) else {
            return false
        }
        return end > command + 4 && (!reply || c.getUInt8(at: command + 3) == 0x20)
    }

    /// XMPP (RFC 6120 §4.2, 4.7): the stream header, "<stream:stream" after an optional
    /// XML declaration, declaring the jabber:client or jabber:server namespace.
    static func xmpp(_ c: ByteCursor) -> Bool {
        var start = 0
        if Bytes.has(c, "<?xml ") {
            var i = 6
            while i < 100, c.has(2, at: i), !Bytes.has(c, "?>", at: i) { i += 1 }
            guard Bytes.has(c, "?>", at: i) else { return false }
            start = i + 2
            while let b = c.getUInt8(at: start), b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { start += 1 }
        }
        guard Bytes.has(c, "<stream:stream", at: start), let after = c.getUInt8(at: start + 14),
              after == 0x20 || after == 0x0A || after == 0x0D || after == 0x09 else { return false }
        let end = Swift.min(c.count, start + 512)
        return Bytes.contains(c, "jabber:client", from: start + 15, to: end)
            || Bytes.contains(c, "jabber:server", from: start + 15, to: end)
    }

    /// BitTorrent (BEP 3): the peer handshake, a length byte 19, "BitTorrent protocol",
    /// 8 reserved bytes and the 20-byte info hash (the peer id may follow later).
    static func bittorrent(_ c: ByteCursor) -> Bool {
        c.count >= 48 && c.getUInt8(at: 0) == 19 && Bytes.has(c, "BitTorrent protocol", at: 1)
    }
}
