import SniffCore

/// ASN.1 BER protocols: SNMP, LDAP and Kerberos.
enum DirectoryDetectors {
    /// SNMP (RFC 3416, 3412): SEQUENCE covering the datagram, INTEGER version 0, 1 or 3;
    /// then a printable community and a PDU tag for v1/v2c, or the header SEQUENCE for v3.
    static func snmp(_ c: ByteCursor) -> Bool {
        guard c.getUInt8(at: 0) == 0x30, let (len, size) = Bytes.berLength(c, at: 1), 1 + size + len == c.count
        else { return false }
        let v = 1 + size
        guard c.getUInt8(at: v) == 0x02, c.getUInt8(at: v + 1) == 1, let version = c.getUInt8(at: v + 2)
        else { return false }
        switch version {
        case 0, 1:
            guard c.getUInt8(at: v + 3) == 0x04, let (clen, csize) = Bytes.berLength(c, at: v + 4), clen <= 255
            else { return false }
            let start = v + 4 + csize
            for i in start..<(start + clen) {
                guard let b = c.getUInt8(at: i), b >= 0x20, b < 0x7F else { return false }
            }
            guard let pdu = c.getUInt8(at: start + clen) else { return false }
            return pdu >= 0xA0 && pdu <= 0xA8
        case 3:
            return c.getUInt8(at: v + 3) == 0x30
        default:
            return false
        }
    }

    /// LDAP (RFC 4511 §4.1.1): an LDAPMessage SEQUENCE that fits the segment, an
    /// INTEGER message id of 1...4 bytes, and an LDAP protocolOp application tag whose
    /// length fits the message.
    static func ldap(_ c: ByteCursor) -> Bool {
        guard c.getUInt8(at: 0) == 0x30, let (len, size) = Bytes.berLength(c, at: 1), len >= 5 else { return false }
        let end = 1 + size + len
        guard end <= c.count, c.getUInt8(at: 1 + size) == 0x02, let idLen = c.getUInt8(at: 2 + size),
              idLen >= 1, idLen <= 4 else { return false }
        let op = 3 + size + Int(idLen)
        guard let tag = c.getUInt8(at: op) else { return false }
        switch tag {
        case 0x60, 0x61, 0x63...0x79: break  // constructed operations
        case 0x42, 0x4A, 0x50: break         // unbind, delete, abandon
        default: return false
        }
        guard let (opLen, opSize) = Bytes.berLength(c, at: op + 1) else { return false }
        return op + 1 + opSize + opLen <= end
    }

    /// Kerberos V5 (RFC 4120 §5.4.1, 5.4.2, 5.9.1): an AS-REQ, AS-REP, TGS-REQ, TGS-REP
    /// or KRB-ERROR, that is an APPLICATION tag whose length covers the message, a
    /// SEQUENCE, pvno 5 and a msg-type equal to the tag's number (their context tags
    /// are [1] and [2] in requests, [0] and [1] in the others). Over TCP (§7.2.2) a
    /// 4-byte record length comes first; the record may go on in later segments.
    static func kerberos(_ c: ByteCursor) -> Bool {
        if let first = c.getUInt8(at: 0), first & 0xE0 == 0x60 { return kerberosMessage(c, at: 0, length: c.count) }
        guard c.getUInt16(at: 0) == 0, let record = c.getUInt32(at: 0), record >= 16,
              Int(record) >= c.count - 4 else { return false }
        return kerberosMessage(c, at: 4, length: Int(record))
    }

    static func kerberosMessage(_ c: ByteCursor, at start: Int, length: Int) -> Bool {
        guard let tag = c.getUInt8(at: start) else { return false }
        let number = tag & 0x1F
        let pvnoTag: UInt8
        switch (tag & 0xE0, number) {
        case (0x60, 10), (0x60, 12): pvnoTag = 0xA1
        case (0x60, 11), (0x60, 13), (0x60, 30): pvnoTag = 0xA0
        default: return false
        }
        guard let (len, size) = Bytes.berLength(c, at: start + 1), 1 + size + len == length,
              c.getUInt8(at: start + 1 + size) == 0x30, let (_, seqSize) = Bytes.berLength(c, at: start + 2 + size)
        else { return false }
        let fields = start + 2 + size + seqSize
        // [pvno] INTEGER 5, then [msg-type] INTEGER number: 5 bytes each.
        guard c.getUInt8(at: fields) == pvnoTag, Bytes.has(c, "\u{03}\u{02}\u{01}\u{05}", at: fields + 1),
              c.getUInt8(at: fields + 5) == pvnoTag + 1 else { return false }
        return Bytes.has(c, "\u{03}\u{02}\u{01}", at: fields + 6) && c.getUInt8(at: fields + 9) == number
    }
}
