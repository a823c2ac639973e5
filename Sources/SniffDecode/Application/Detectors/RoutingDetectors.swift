import SniffCore

/// Routing protocols carried by TCP/UDP: BGP and Babel.
enum RoutingDetectors {
    /// BGP-4 (RFC 4271 §4.1): the all-ones marker, a length of 19...4096 and a type 1...5.
    static func bgp(_ c: ByteCursor) -> Bool {
        guard c.count >= 19, c.getUInt64(at: 0) == .max, c.getUInt64(at: 8) == .max,
              let len = c.getUInt16(at: 16), len >= 19, len <= 4096, let type = c.getUInt8(at: 18) else { return false }
        return type >= 1 && type <= 5
    }

    /// Babel (RFC 8966 §4.2): magic 42, version 2, and TLVs that tile the body exactly.
    /// A datagram cut by the snaplen is not judged (two fixed bytes are too little).
    static func babel(_ c: ByteCursor) -> Bool {
        guard c.getUInt8(at: 0) == 42, c.getUInt8(at: 1) == 2, let len = c.getUInt16(at: 2),
              4 + Int(len) <= c.count else { return false }
        let end = 4 + Int(len)
        var pos = 4
        while pos < end {
            guard let type = c.getUInt8(at: pos) else { return false }
            if type == 0 { pos += 1; continue }  // Pad1
            guard let l = c.getUInt8(at: pos + 1) else { return false }
            pos += 2 + Int(l)
        }
        return pos == end
    }
}
