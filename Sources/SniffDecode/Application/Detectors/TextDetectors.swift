import SniffCore

/// Line-based protocols that greet or are commanded in text: Telnet's negotiation,
/// SMTP, FTP, IMAP and POP3. Each needs a keyword its protocol owns: a bare "220 "
/// greeting or "USER name" could be SMTP, FTP or POP3 and decides nothing.
enum TextDetectors {
    /// Telnet (RFC 854, 855): the payload opens with option negotiation, IAC followed by
    /// WILL/WONT/DO/DONT and an option, or a subnegotiation closed by IAC SE; a single
    /// 3-byte command or at least two commands.
    /// The client connection preface of HTTP/2 with prior knowledge (RFC 9113 section
    /// 3.4); HTTP/2 over TLS is named TLS, its ALPN (`h2`) says the rest.
    static func http2(_ c: ByteCursor) -> Bool { Bytes.has(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") }

    static func telnet(_ c: ByteCursor) -> Bool {
        guard c.count >= 3, c.getUInt8(at: 0) == 0xFF, let cmd = c.getUInt8(at: 1) else { return false }
        switch cmd {
        case 0xFB...0xFE:
            return c.count == 3 || c.getUInt8(at: 3) == 0xFF
        case 0xFA:
            // IAC SB option ... IAC SE, within the first 64 bytes.
            var i = 3
            while i + 1 < Swift.min(c.count, 64) {
                if c.getUInt8(at: i) == 0xFF && c.getUInt8(at: i + 1) == 0xF0 { return true }
                i += 1
            }
            return false
        default:
            return false
        }
    }

    /// A reply line "NNN text" or "NNN-text" with code `code`, ending in CRLF.
    static func reply(_ p: inout AppPayload, _ code: StaticString) -> Int? {
        let c = p.bytes
        guard Bytes.has(c, code), let sep = c.getUInt8(at: 3), sep == 0x20 || sep == 0x2D else { return nil }
        return p.firstLineEnd()
    }

    /// A command alone on its line ("PWD\r\n") or followed by arguments ("TYPE I\r\n").
    static func command(_ p: inout AppPayload, _ words: Keywords, arguments: Bool) -> Bool {
        let c = p.bytes
        // The keyword first: it rules out almost every payload without finding the line.
        guard let w = words.first(in: c),
              let end = p.firstLineEnd(limit: 512) else { return false }
        let n = w.utf8CodeUnitCount
        if arguments { return c.getUInt8(at: n) == 0x20 && end > n + 1 }
        return end == n
    }

    static let smtpHello = Keywords(["EHLO", "HELO"], caseless: true)

    /// SMTP (RFC 5321): the client's EHLO/HELO, or a 220 greeting that names SMTP.
    static func smtp(_ p: inout AppPayload) -> Bool {
        if command(&p, smtpHello, arguments: true) { return true }
        guard let end = reply(&p, "220") else { return false }
        return Bytes.contains(p.bytes, "SMTP", from: 4, to: end)
    }

    static let ftpAlone = Keywords(["PASV", "EPSV", "PWD", "XPWD", "SYST", "FEAT"], caseless: true)
    static let ftpWithArgument = Keywords(["TYPE", "EPRT", "PORT", "CWD", "RETR", "STOR", "MLSD"], caseless: true)

    /// FTP (RFC 959): a 220 greeting naming FTP, the replies only FTP sends (331 user
    /// okay, need password; 257 "path"), or a command only FTP has.
    static func ftp(_ p: inout AppPayload) -> Bool {
        if let end = reply(&p, "220") { return Bytes.contains(p.bytes, "FTP", from: 4, to: end) }
        if reply(&p, "331") != nil { return true }
        if reply(&p, "257") != nil { return p.bytes.getUInt8(at: 4) == 0x22 }
        return command(&p, ftpAlone, arguments: false) || command(&p, ftpWithArgument, arguments: true)
    }

    static let imapCommands = Keywords(["CAPABILITY", "LOGIN ", "AUTHENTICATE ", "STARTTLS", "SELECT ",
                                        "EXAMINE ", "ID "])

    /// IMAP (RFC 9051): the server's untagged OK/PREAUTH greeting, or a tagged command
    /// (tag of 1...20 letters and digits) IMAP owns.
    static func imap(_ p: inout AppPayload) -> Bool {
        let c = p.bytes
        if Bytes.has(c, "* OK ") || Bytes.has(c, "* PREAUTH ") { return p.firstLineEnd() != nil }
        var tag = 0
        while tag < 20, let b = c.getUInt8(at: tag),
              (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) || b == 0x2E { tag += 1 }
        guard tag >= 1, c.getUInt8(at: tag) == 0x20 else { return false }
        // Upper case only: clients send commands so, and FTP's "230 Login successful"
        // would otherwise read as tag 230 and LOGIN.
        guard let w = imapCommands.first(in: c, at: tag + 1),
              let end = p.firstLineEnd() else { return false }
        let after = tag + 1 + w.utf8CodeUnitCount
        return after == end || c.getUInt8(at: after - 1) == 0x20 || c.getUInt8(at: after) == 0x20
    }

    static let pop3Alone = Keywords(["CAPA", "STLS", "STAT", "UIDL"], caseless: true)
    static let pop3WithArgument = Keywords(["APOP"], caseless: true)

    /// POP3 (RFC 1939, 2449): a "+OK " greeting line, or a command only POP3 has.
    static func pop3(_ p: inout AppPayload) -> Bool {
        if Bytes.has(p.bytes, "+OK ") { return p.firstLineEnd() != nil }
        return command(&p, pop3Alone, arguments: false) || command(&p, pop3WithArgument, arguments: true)
    }
}
