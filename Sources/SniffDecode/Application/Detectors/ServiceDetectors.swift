import SniffCore

/// Network services over UDP: DHCP, RADIUS, NetBIOS, TFTP, NTP and syslog.
enum ServiceDetectors {
    /// BOOTP/DHCP (RFC 2131 §2): the magic cookie after the fixed 236-byte header.
    static func dhcp(_ c: ByteCursor) -> Bool {
        guard c.count >= 240, let op = c.getUInt8(at: 0), op == 1 || op == 2,
              c.getUInt8(at: 2) == 6, let hops = c.getUInt8(at: 3), hops <= 16 else { return false }
        return c.getUInt32(at: 236) == 0x6382_5363
    }

    /// DHCPv6 (RFC 8415 §8, §9): a client/server message type with its transaction id,
    /// or a relay message with hop count and two addresses, then options (code, length)
    /// that tile the rest exactly, at least one of them.
    static func dhcpv6(_ c: ByteCursor) -> Bool {
        guard let type = c.getUInt8(at: 0), type >= 1, type <= 13 else { return false }
        var pos = type >= 12 ? 34 : 4
        guard c.count >= pos + 4 else { return false }
        if type >= 12, let hops = c.getUInt8(at: 1), hops > 32 { return false }
        while pos < c.count {
            guard let code = c.getUInt16(at: pos), code >= 1, code <= 200, let len = c.getUInt16(at: pos + 2)
            else { return false }
            pos += 4 + Int(len)
        }
        return pos == c.count
    }

    /// RADIUS (RFC 2865 §3): a known code, the length field equal to the datagram, and
    /// attributes that tile the rest exactly.
    static func radius(_ c: ByteCursor) -> Bool {
        guard let code = c.getUInt8(at: 0), let len = c.getUInt16(at: 2), Int(len) == c.count,
              len >= 20, len <= 4096 else { return false }
        switch code {
        case 1...5, 11...13, 40...45: break
        default: return false
        }
        var pos = 20
        while pos < c.count {
            guard let type = c.getUInt8(at: pos), type != 0, let l = c.getUInt8(at: pos + 1), l >= 2 else {
                return false
            }
            pos += Int(l)
        }
        return pos == c.count
    }

    /// A NetBIOS name as it travels (RFC 1002 §4.1): length 32, then 32 letters A...P.
    static func encodedName(_ c: ByteCursor, at offset: Int) -> Bool {
        guard c.getUInt8(at: offset) == 0x20, c.has(33, at: offset) else { return false }
        for i in 1...32 {
            guard let b = c.getUInt8(at: offset + i), b >= 0x41, b <= 0x50 else { return false }
        }
        return true
    }

    /// NetBIOS name service (RFC 1002 §4.2: a DNS-like header whose first record has an
    /// encoded name) or datagram service (§4.4: direct or broadcast datagrams with the
    /// source name at offset 14).
    static func netbios(_ c: ByteCursor) -> Bool {
        if let type = c.getUInt8(at: 0), type >= 0x10, type <= 0x12, let len = c.getUInt16(at: 10),
           Int(len) + 14 <= c.count + 1 {
            return encodedName(c, at: 14)
        }
        guard c.count >= 50, let qd = c.getUInt16(at: 4), let an = c.getUInt16(at: 6),
              let ns = c.getUInt16(at: 8), let ar = c.getUInt16(at: 10),
              qd <= 1, an <= 1, ns <= 1, ar <= 1, qd + an >= 1 else { return false }
        return encodedName(c, at: 12) && c.getUInt8(at: 45) == 0
    }

    static let tftpModes: [StaticString] = ["netascii", "octet", "mail"]
    static let months: [StaticString] = ["Jan ", "Feb ", "Mar ", "Apr ", "May ", "Jun ", "Jul ", "Aug ", "Sep ",
                                         "Oct ", "Nov ", "Dec "]

    /// TFTP (RFC 1350, 2347): a read or write request with a file name and a mode, the
    /// first DATA block or the ACK of block 0, an option ACK, or an error.
    static func tftp(_ c: ByteCursor) -> Bool {
        guard c.count >= 4, let op = c.getUInt16(at: 0) else { return false }
        switch op {
        case 1, 2:
            var pos = 2
            while pos < c.count, let b = c.getUInt8(at: pos), b != 0 {
                guard b >= 0x20, b < 0x7F, pos - 2 < 255 else { return false }
                pos += 1
            }
            guard pos > 2, c.getUInt8(at: pos) == 0 else { return false }
            pos += 1
            for mode in tftpModes where Bytes.hasCaseless(c, mode, at: pos) {
                return c.getUInt8(at: pos + mode.utf8CodeUnitCount) == 0
            }
            return false
        case 3: return c.getUInt16(at: 2) == 1 && c.count <= 516
        case 4: return c.count == 4 && c.getUInt16(at: 2) == 0
        case 5:
            // At least the message's NUL after the code (4 bytes would make 4..<3 trap).
            guard c.count >= 5, let code = c.getUInt16(at: 2), code <= 8, c.getUInt8(at: c.count - 1) == 0
            else { return false }
            for i in 4..<(c.count - 1) {
                guard let b = c.getUInt8(at: i), b >= 0x20, b < 0x7F else { return false }
            }
            return true
        case 6:
            // Option ACK: NUL-terminated printable strings in pairs, to the end.
            var strings = 0, pos = 2
            while pos < c.count {
                let start = pos
                while pos < c.count, let b = c.getUInt8(at: pos), b != 0 {
                    guard b >= 0x20, b < 0x7F else { return false }
                    pos += 1
                }
                guard pos > start, pos < c.count else { return false }
                pos += 1
                strings += 1
            }
            return strings >= 2 && strings % 2 == 0
        default: return false
        }
    }

    /// NTP (RFC 5905 §7.3): the 48-byte header, possibly followed by extension fields
    /// or a MAC, with version, mode, stratum, poll and precision in their ranges.
    static func ntp(_ c: ByteCursor) -> Bool {
        guard c.count >= 48, c.count <= 512, (c.count - 48) % 4 == 0, let b0 = c.getUInt8(at: 0),
              let stratum = c.getUInt8(at: 1), let poll = c.getUInt8(at: 2), let precision = c.getUInt8(at: 3)
        else { return false }
        let version = (b0 >> 3) & 7, mode = b0 & 7
        guard version >= 1, version <= 4, mode >= 1, mode <= 5, stratum <= 16 else { return false }
        // poll is log2 seconds (a client may send 0), precision a negative log2 (or 0).
        guard Int8(bitPattern: poll) >= 0, Int8(bitPattern: poll) <= 17 else { return false }
        let p = Int8(bitPattern: precision)
        guard p <= 0, p >= -32 else { return false }
        // Root delay and dispersion (16.16 seconds) under 256 s: a short QUIC header of
        // 48 bytes passes the first byte's checks but not these.
        guard let delay = c.getUInt16(at: 4), delay < 0x100, let dispersion = c.getUInt16(at: 8), dispersion < 0x100
        else { return false }
        // A server's reply carries a transmit time.
        return mode != 4 || c.getUInt64(at: 40) != 0
    }

    /// Syslog over UDP: "<PRI>" (0...191) then RFC 5424's version "1 " or RFC 3164's
    /// timestamp month.
    static func syslog(_ c: ByteCursor) -> Bool {
        guard c.getUInt8(at: 0) == 0x3C, let (pri, n) = Bytes.decimal(c, at: 1), n <= 3, pri <= 191,
              c.getUInt8(at: 1 + n) == 0x3E else { return false }
        let pos = 2 + n
        if Bytes.has(c, "1 ", at: pos) { return true }
        for month in months where Bytes.has(c, month, at: pos) {
            return true
        }
        return false
    }
}
