import SniffCore

/// Decodes one frame, layer by layer, into a reused `DecodedPacket`.
///
/// Pure and synchronous: it reads the borrowed bytes and writes scalar fields, so that
/// decoding a packet allocates nothing.
public enum PacketDecoder {
    /// Decodes `bytes` captured on `link`. The caller sets the frame fields (number,
    /// timestamp, lengths, interface) after `reset()`; this fills in the rest.
    ///
    /// With `holdFragments`, an IP fragment (other than an atomic one) gets no transport
    /// fields, not even the first: its datagram's are decoded once it is reassembled
    /// (`IPReassembler`), as tshark does. Without it, the first fragment's transport
    /// header is decoded on its own.
    public static func decode(_ bytes: UnsafeRawBufferPointer, link: LinkType, into p: inout DecodedPacket,
                              holdFragments: Bool = false) {
        let c = ByteCursor(bytes)
        p.link = link
        let next: LinkNext
        switch link {
        case .ethernet: next = Ethernet.decode(c, at: 0, into: &p)
        case .null, .loop: next = NullLoopback.decode(c, at: 0, into: &p)
        case .rawOpenBSD, .rawBSDOS, .raw, .ipv4, .ipv6: next = RawIP.decode(c, link: link, into: &p)
        case .linuxSLL: next = LinuxSLL.decode(c, at: 0, into: &p)
        case .linuxSLL2: next = LinuxSLL2.decode(c, at: 0, into: &p)
        default:
            p.undecoded = true
            return
        }
        switch next {
        case .ethertype(let type, let offset):
            decodeNetwork(type, c, at: offset, into: &p, holdFragments: holdFragments)
        case .ipByVersion(let offset):
            guard let first = c.getUInt8(at: offset) else {
                p.markShort(.raw, have: 0, need: 1)
                return
            }
            switch first >> 4 {
            case 4: decodeNetwork(0x0800, c, at: offset, into: &p, holdFragments: holdFragments)
            case 6: decodeNetwork(0x86DD, c, at: offset, into: &p, holdFragments: holdFragments)
            default: p.markMalformed(Malformation(.badVersion, .raw, UInt32(first >> 4)))
            }
        case .end:
            return
        }
    }

    static func decodeNetwork(_ type: UInt16, _ c: ByteCursor, at offset: Int, into p: inout DecodedPacket,
                              holdFragments: Bool) {
        switch type {
        case 0x0800: decodeIPv4(c, at: offset, into: &p, holdFragments: holdFragments)
        case 0x86DD: decodeIPv6(c, at: offset, into: &p, holdFragments: holdFragments)
        case 0x0806, 0x8035: ARP.decode(c, at: offset, into: &p)
        default: return
        }
    }

    static func decodeIPv4(_ c: ByteCursor, at offset: Int, into p: inout DecodedPacket, holdFragments: Bool) {
        switch IPv4Header.parse(c, at: offset) {
        case .short(let have, let need):
            p.ipVersion = 4
            // Addresses may still be there even if options are cut.
            if let s = c.getUInt32(at: offset + 12), let d = c.getUInt32(at: offset + 16) {
                p.src = IPAddress(v4: s); p.dst = IPAddress(v4: d)
                p.ttl = c.getUInt8(at: offset + 8) ?? 0
                p.ipProto = c.getUInt8(at: offset + 9) ?? 0
            } else {
                p.ipVersion = 0
            }
            p.markShort(.ipv4, have: have, need: need)
        case .malformed(let m):
            p.markMalformed(m)
            p.truncated = p.truncated || false
        case .ok(let h):
            p.ipVersion = 4
            p.src = h.src
            p.dst = h.dst
            p.ttl = h.ttl
            p.ipProto = h.proto
            p.isFragment = h.isFragment
            p.ipHeaderLength = UInt16(h.headerLength)
            p.ipTotalLength = UInt32(h.totalLength)
            let available = c.count - offset
            if h.totalLength > available {
                p.truncated = true
                if p.capturedLength >= p.wireLength {
                    p.markMalformed(
                        Malformation(.totalLengthExceedsCaptured, .ipv4, UInt32(h.totalLength), UInt32(available)))
                }
            }
            if h.isFragment {
                p.fragment.id = UInt32(h.identification)
                p.fragment.offset = h.fragmentOffset &* 8
                p.fragment.more = h.moreFragments
                p.fragment.nextHeader = h.proto
                p.fragment.ipOffset = Int32(offset)
                p.fragment.dataOffset = Int32(offset + h.headerLength)
                p.fragment.dataLength = Int32(h.totalLength - h.headerLength)
            }
            let end = Swift.min(c.count, offset + h.totalLength)
            let l4 = ByteCursor(UnsafeRawBufferPointer(rebasing: c.bytes[0..<end]))
            decodeTransport(h.proto, l4, at: offset + h.headerLength,
                            length: h.totalLength - h.headerLength,
                            firstFragment: h.carriesTransportHeader && !(holdFragments && h.isFragment), into: &p)
        }
    }

    static func decodeIPv6(_ c: ByteCursor, at offset: Int, into p: inout DecodedPacket, holdFragments: Bool) {
        // The fixed header first, so that a broken extension chain still reports addresses.
        guard c.has(IPv6Header.fixedLength, at: offset), c.getUInt8(at: offset).map({ $0 >> 4 }) == 6,
              let sh = c.getUInt64(at: offset + 8), let sl = c.getUInt64(at: offset + 16),
              let dh = c.getUInt64(at: offset + 24), let dl = c.getUInt64(at: offset + 32) else {
            if let v = c.getUInt8(at: offset), v >> 4 != 6 {
                p.markMalformed(Malformation(.badVersion, .ipv6, UInt32(v >> 4)))
            } else {
                p.markShort(.ipv6, have: c.count - offset, need: IPv6Header.fixedLength)
            }
            return
        }
        p.ipVersion = 6
        p.src = IPAddress(v6High: sh, low: sl)
        p.dst = IPAddress(v6High: dh, low: dl)
        p.ttl = c.getUInt8(at: offset + 7) ?? 0
        p.ipProto = c.getUInt8(at: offset + 6) ?? 0
        p.ipHeaderLength = UInt16(IPv6Header.fixedLength)
        let plen = Int(c.getUInt16(at: offset + 4) ?? 0)
        p.ipTotalLength = UInt32(IPv6Header.fixedLength + plen)
        let available = c.count - offset - IPv6Header.fixedLength
        if plen > available {
            p.truncated = true
            if p.capturedLength >= p.wireLength {
                p.markMalformed(Malformation(.totalLengthExceedsCaptured, .ipv6, UInt32(plen), UInt32(available)))
            }
        }
        switch IPv6Header.parse(c, at: offset) {
        case .short(let have, let need):
            p.markShort(.ipv6ext, have: have, need: need)
        case .malformed(let m):
            p.markMalformed(m)
        case .ok(let h):
            p.ipProto = h.upperProtocol
            p.isFragment = h.isFragment
            p.ipHeaderLength = UInt16(clamping: h.upperOffset - offset)
            let declaredEnd = plen == 0 ? c.count : offset + IPv6Header.fixedLength + plen
            var held = false
            if h.isFragment {
                p.fragment.id = h.fragmentID
                p.fragment.offset = h.fragmentOffset
                p.fragment.more = h.moreFragments
                p.fragment.nextHeader = h.fragmentNextHeader
                p.fragment.ipOffset = Int32(offset)
                p.fragment.dataOffset = Int32(h.fragmentHeaderOffset + 8)
                p.fragment.dataLength = Int32(declaredEnd - h.fragmentHeaderOffset - 8)
                p.fragment.nextHeaderField = Int32(h.fragmentNextHeaderField)
                held = holdFragments && !p.fragment.isAtomic
            }
            let end = Swift.min(c.count, declaredEnd)
            let l4 = ByteCursor(UnsafeRawBufferPointer(rebasing: c.bytes[0..<Swift.max(end, h.upperOffset)]))
            decodeTransport(h.upperProtocol, l4, at: h.upperOffset,
                            length: declaredEnd - h.upperOffset,
                            firstFragment: h.carriesTransportHeader && !held, into: &p)
        }
    }

    /// `c` ends where the IP payload ends (padding excluded); `length` is the transport
    /// length the IP header states, which can exceed what was captured.
    static func decodeTransport(
        _ proto: UInt8, _ c: ByteCursor, at offset: Int, length: Int, firstFragment: Bool, into p: inout DecodedPacket
    ) {
        switch proto {
        case IPProtocol.tcp: p.transport = .tcp
        case IPProtocol.udp: p.transport = .udp
        case IPProtocol.icmp: p.transport = .icmp
        case IPProtocol.icmpv6: p.transport = .icmpv6
        case IPProtocol.gre: p.transport = .gre
        default: p.transport = .other
        }
        guard firstFragment else { return }
        switch proto {
        case IPProtocol.tcp:
            TCP.decode(c, at: offset, ipPayloadLength: length, into: &p)
            if p.hasPorts { classify(c, overTCP: true, into: &p) }
        case IPProtocol.udp:
            UDP.decode(c, at: offset, ipPayloadLength: length, into: &p)
            if p.hasPorts {
                classify(c, overTCP: false, into: &p)
                // Only with the whole UDP header: before that, payloadOffset is still 0
                // and the tunnel header would be read from the start of the frame.
                if p.hasPayloadLength { decodeUDPTunnel(c, into: &p) }
            }
        case IPProtocol.icmp:
            ICMP.decode(c, at: offset, ipPayloadLength: length, into: &p)
        case IPProtocol.icmpv6:
            ICMPv6.decode(c, at: offset, ipPayloadLength: length, into: &p)
        case IPProtocol.gre:
            // The outer GRE header's problems are the packet's (an unknown version, a
            // header cut short); those of headers inside the tunnel are not reported.
            switch GRE.parse(c, at: offset) {
            case .ok(let g):
                if let t = InnerDecoder.fromEthertype(g.ethertype, c, at: g.offset, depth: 1) {
                    p.setTunnel(
                        .gre, inner: t, at: g.offset, ethernet: g.ethertype == 0x6558, id: GRE.key(c, at: offset))
                }
            case .short(let have, let need):
                p.markShort(.gre, have: have, need: need)
            case .malformed(let m):
                p.markMalformed(m)
            }
        case IPProtocol.ipip, IPProtocol.ipv6:
            if let t = InnerDecoder.fromIP(c, at: offset, depth: 1) {
                p.setTunnel(proto == IPProtocol.ipip.rawValue ? .ipip : .ip6in4, inner: t, at: offset)
            }
        case IPProtocol.pim:
            if let inner = PIM.registerPayload(c, at: offset), let t = InnerDecoder.fromIP(c, at: inner, depth: 1) {
                p.setTunnel(.pim, inner: t, at: inner)
            }
        default:
            return
        }
    }

    /// The port guess, then DNS from the payload: on DNS ports it is decoded (and its
    /// errors reported); on other UDP ports only a strictly valid message counts.
    static func classify(_ c: ByteCursor, overTCP: Bool, into p: inout DecodedPacket) {
        p.app = AppProtocol.forPorts(p.sport, p.dport, udp: !overTCP)
        guard p.payloadCaptured > 0 else { return }
        let dnsPort = AppProtocol.isDNSPort(p.sport) || AppProtocol.isDNSPort(p.dport)
        if dnsPort {
            _ = DNS.decode(c, overTCP: overTCP, strict: false, into: &p)
            if p.app == .unknown { p.app = .dns }
        } else if !overTCP && p.app == .unknown && p.payloadCaptured >= DNS.headerLength + 5 {
            if DNS.decode(c, overTCP: false, strict: true, into: &p) { p.app = .dns }
        }
    }

    static func decodeUDPTunnel(_ c: ByteCursor, into p: inout DecodedPacket) {
        if p.dport == VXLAN.port, let inner = VXLAN.innerOffset(c, at: p.payloadOffset),
           let t = InnerDecoder.fromEthernet(c, at: inner, depth: 1) {
            p.setTunnel(.vxlan, inner: t, at: inner, ethernet: true, id: VXLAN.vni(c, at: p.payloadOffset))
        } else if p.dport == Geneve.port, let g = Geneve.parse(c, at: p.payloadOffset),
            let t = InnerDecoder.fromEthertype(g.ethertype, c, at: g.offset, depth: 1) {
            p.setTunnel(
                .geneve, inner: t, at: g.offset, ethernet: g.ethertype == 0x6558, id: Geneve.vni(c, at: p.payloadOffset)
            )
        } else if p.dport == GTPU.port, let g = GTPU.parse(c, at: p.payloadOffset),
                  let t = InnerDecoder.fromIP(c, at: g.offset, depth: 1) {
            p.setTunnel(.gtpu, inner: t, at: g.offset, id: g.teid)
        }
    }
}
