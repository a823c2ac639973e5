import SniffCore

/// Tunnels, VPNs and proxies: PPTP, IKE/ISAKMP, OpenVPN and SOCKS.
enum TunnelDetectors {
    /// PPTP control connection (RFC 2637 §2): length, message type 1 or 2, the magic
    /// cookie and a control message type 1...15 with a zero reserved field.
    static func pptp(_ c: ByteCursor) -> Bool {
        guard c.count >= 16, let len = c.getUInt16(at: 0), len >= 16, let type = c.getUInt16(at: 2),
              type == 1 || type == 2, c.getUInt32(at: 4) == 0x1A2B_3C4D,
              let ctrl = c.getUInt16(at: 8), ctrl >= 1, ctrl <= 15 else { return false }
        return c.getUInt16(at: 10) == 0
    }

    /// IKEv1/IKEv2 (RFC 2408 §3.1, RFC 7296 §3.1): the fixed 28-byte header, with the
    /// 4-byte non-ESP marker in front on UDP 4500.
    static func isakmp(_ c: ByteCursor) -> Bool {
        let base = c.getUInt32(at: 0) == 0 && c.count >= 32 ? 4 : 0
        guard c.count - base >= 28, let ispi = c.getUInt64(at: base), ispi != 0,
              let next = c.getUInt8(at: base + 16), let version = c.getUInt8(at: base + 17),
              let exchange = c.getUInt8(at: base + 18), let len = c.getUInt32(at: base + 24),
              Int(len) == c.count - base else { return false }
        switch version {
        case 0x10:
            switch exchange {
            case 1, 2, 4, 5, 6, 32: return next <= 13
            default: return false
            }
        case 0x20: return (next == 0 || (next >= 33 && next <= 53)) && exchange >= 34 && exchange <= 43
        default: return false
        }
    }

    /// VXLAN (RFC 7348 §5): flags with only the I bit, zero reserved fields around the
    /// 24-bit VNI, then an Ethernet header (at least 14 bytes).
    static func vxlan(_ c: ByteCursor) -> Bool {
        guard c.count >= 22, c.getUInt32(at: 0) == 0x0800_0000 else { return false }
        return c.getUInt8(at: 7) == 0
    }

    /// OpenVPN over UDP (no tls-auth/tls-crypt): a hard-reset opcode with key id 0, the
    /// session id, the ack array (with the peer's session id when not empty) and
    /// packet id 0, nothing after.
    static func openvpn(_ c: ByteCursor) -> Bool {
        guard let b0 = c.getUInt8(at: 0), b0 & 7 == 0 else { return false }
        let opcode = b0 >> 3
        guard opcode == 7 || opcode == 8 || opcode == 10, let acks = c.getUInt8(at: 9), acks <= 8 else { return false }
        let idAt = 10 + 4 * Int(acks) + (acks > 0 ? 8 : 0)
        return c.count == idAt + 4 && c.getUInt32(at: idAt) == 0
    }

    /// SOCKS (RFC 1928 §3, SOCKS4/4a): a version 5 greeting whose method count matches
    /// the payload, or a SOCKS4 CONNECT/BIND ending in a NUL-terminated user id (and
    /// host name for 4a).
    static func socks(_ c: ByteCursor) -> Bool {
        switch c.getUInt8(at: 0) {
        case 5:
            guard let n = c.getUInt8(at: 1), n >= 1, n <= 9, c.count == 2 + Int(n) else { return false }
            for i in 2..<c.count {
                guard let m = c.getUInt8(at: i), m <= 3 || (m >= 0x80 && m <= 0xFE) else { return false }
            }
            return true
        case 4:
            guard c.count >= 9, let cmd = c.getUInt8(at: 1), cmd == 1 || cmd == 2,
                  c.getUInt8(at: c.count - 1) == 0 else { return false }
            var strings = 0
            for i in 8..<c.count {
                guard let b = c.getUInt8(at: i) else { return false }
                if b == 0 { strings += 1 } else if b < 0x20 || b >= 0x7F { return false }
            }
            let socks4a = c.getUInt8(at: 4) == 0 && c.getUInt8(at: 5) == 0 && c.getUInt8(at: 6) == 0
            return strings == (socks4a ? 2 : 1)
        default:
            return false
        }
    }
}
