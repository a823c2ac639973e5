import SniffCore

/// Finds the innermost 5-tuple inside tunnels and ICMP quotes, without touching the
/// outer fields. Nesting is bounded so that a crafted packet cannot recurse deeply.
public enum InnerDecoder {
    public static let maximumDepth = 4

    public static func fromEthernet(_ c: ByteCursor, at offset: Int, depth: Int) -> InnerTuple? {
        guard var type = c.getUInt16(at: offset + 12) else { return nil }
        var pos = offset + 14
        var tags = 0
        while Ethernet.isTag(type) && tags < VLANStack.capacity {
            guard let t = c.getUInt16(at: pos + 2) else { return nil }
            type = t
            pos += 4
            tags += 1
        }
        return fromEthertype(type, c, at: pos, depth: depth)
    }

    public static func fromEthertype(_ type: UInt16, _ c: ByteCursor, at offset: Int, depth: Int) -> InnerTuple? {
        switch type {
        case 0x0800, 0x86DD: return fromIP(c, at: offset, depth: depth)
        case 0x6558: return depth < maximumDepth ? fromEthernet(c, at: offset, depth: depth + 1) : nil
        default: return nil
        }
    }

    /// Parses an IPv4 or IPv6 packet at `offset`; if it is itself a tunnel, goes one
    /// level deeper and prefers that result.
    public static func fromIP(_ c: ByteCursor, at offset: Int, depth: Int) -> InnerTuple? {
        guard let first = c.getUInt8(at: offset) else { return nil }
        var tuple: InnerTuple
        var l4: Int
        var carries: Bool
        var end: Int
        switch first >> 4 {
        case 4:
            guard case .ok(let h) = IPv4Header.parse(c, at: offset) else { return nil }
            tuple = InnerTuple(src: h.src, dst: h.dst, proto: h.proto)
            l4 = offset + h.headerLength
            carries = h.carriesTransportHeader
            end = Swift.min(c.count, offset + h.totalLength)
        case 6:
            guard case .ok(let h) = IPv6Header.parse(c, at: offset) else { return nil }
            tuple = InnerTuple(src: h.src, dst: h.dst, proto: h.upperProtocol)
            l4 = h.upperOffset
            carries = h.carriesTransportHeader
            end = Swift.min(c.count, offset + IPv6Header.fixedLength + h.payloadLength)
        default:
            return nil
        }
        guard carries else { return tuple }
        let sub = ByteCursor(UnsafeRawBufferPointer(rebasing: c.bytes[0..<Swift.max(l4, end)]))
        switch tuple.proto {
        case IPProtocol.tcp, IPProtocol.udp, IPProtocol.sctp:
            if let sp = sub.getUInt16(at: l4), let dp = sub.getUInt16(at: l4 + 2) {
                tuple.sport = sp; tuple.dport = dp; tuple.hasPorts = true
                if depth < maximumDepth && tuple.proto == IPProtocol.udp.rawValue {
                    if dp == VXLAN.port, let inner = VXLAN.innerOffset(sub, at: l4 + 8),
                       let t = fromEthernet(sub, at: inner, depth: depth + 1) { return t }
                    if dp == Geneve.port, let g = Geneve.parse(sub, at: l4 + 8),
                       let t = fromEthertype(g.ethertype, sub, at: g.offset, depth: depth + 1) { return t }
                    if dp == GTPU.port, let g = GTPU.parse(sub, at: l4 + 8),
                       let t = fromIP(sub, at: g.offset, depth: depth + 1) { return t }
                }
            }
        case 4, 41:
            if depth < maximumDepth, let t = fromIP(sub, at: l4, depth: depth + 1) { return t }
        case 47:
            if depth < maximumDepth, case .ok(let g) = GRE.parse(sub, at: l4),
               let t = fromEthertype(g.ethertype, sub, at: g.offset, depth: depth + 1) { return t }
        case IPProtocol.pim:
            if depth < maximumDepth, let inner = PIM.registerPayload(sub, at: l4),
               let t = fromIP(sub, at: inner, depth: depth + 1) { return t }
        default:
            break
        }
        return tuple
    }

    /// The IPv4 header quoted by an ICMP error, and its ports when the 8 quoted
    /// transport bytes are there. No recursion: a quote is one level.
    public static func quotedIPv4(_ c: ByteCursor, at offset: Int) -> InnerTuple? {
        guard case .ok(let h) = IPv4Header.parse(c, at: offset) else { return nil }
        var t = InnerTuple(src: h.src, dst: h.dst, proto: h.proto)
        let l4 = offset + h.headerLength
        if h.carriesTransportHeader, h.proto == 6 || h.proto == 17 || h.proto == 132,
           let sp = c.getUInt16(at: l4), let dp = c.getUInt16(at: l4 + 2) {
            t.sport = sp; t.dport = dp; t.hasPorts = true
        }
        return t
    }

    public static func quotedIPv6(_ c: ByteCursor, at offset: Int) -> InnerTuple? {
        guard c.has(IPv6Header.fixedLength, at: offset),
              let sh = c.getUInt64(at: offset + 8), let sl = c.getUInt64(at: offset + 16),
              let dh = c.getUInt64(at: offset + 24), let dl = c.getUInt64(at: offset + 32),
              let nh = c.getUInt8(at: offset + 6) else { return nil }
        var t = InnerTuple(src: IPAddress(v6High: sh, low: sl), dst: IPAddress(v6High: dh, low: dl), proto: nh)
        // A quote is often cut short, so the chain walk is best effort.
        if case .ok(let h) = IPv6Header.parse(c, at: offset) {
            t.proto = h.upperProtocol
            if h.carriesTransportHeader, h.upperProtocol == 6 || h.upperProtocol == 17,
               let sp = c.getUInt16(at: h.upperOffset), let dp = c.getUInt16(at: h.upperOffset + 2) {
                t.sport = sp; t.dport = dp; t.hasPorts = true
            }
        }
        return t
    }
}
