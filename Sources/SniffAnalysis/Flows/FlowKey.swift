import SniffCore
import SniffDecode

/// The bidirectional identity of a flow: both addresses and ports in a canonical order,
/// the IP protocol, and the VLAN.
///
/// The endpoint with the smaller (address, port) comes first, so both directions of a
/// conversation give the same key, and therefore the same `fastHash` (the property
/// gopacket's `FastHash` has, used here to pick a shard). ICMP is folded into ports the
/// way Zeek does it: the source "port" is the type and the destination "port" is the
/// counterpart type for request/reply pairs (echo 8 <-> 0), else the code. One-way ICMP
/// messages (unreachable, time exceeded ...) keep their direction, as in Zeek and the
/// Community ID specification.
///
/// Stored in 40 bytes: addresses as four words, one flag byte for the IP version.
public struct FlowKey: Hashable, Sendable {
    public var aHigh: UInt64
    public var aLow: UInt64
    public var bHigh: UInt64
    public var bLow: UInt64
    public var portA: UInt16
    public var portB: UInt16
    public var proto: UInt8
    @usableFromInline var bits: UInt8
    /// The 802.1Q id, 0 when untagged.
    public var vlan: UInt16

    @usableFromInline static let v6Bit: UInt8 = 1
    @usableFromInline static let oneWayBit: UInt8 = 2

    @inlinable public var isIPv6: Bool { bits & FlowKey.v6Bit != 0 }
    /// True for one-way ICMP messages, whose key keeps the sender first.
    @inlinable public var isOneWay: Bool { bits & FlowKey.oneWayBit != 0 }

    @inlinable
    public var a: IPAddress {
        isIPv6 ? IPAddress(v6High: aHigh, low: aLow) : IPAddress(v4: UInt32(truncatingIfNeeded: aLow))
    }
    @inlinable
    public var b: IPAddress {
        isIPv6 ? IPAddress(v6High: bHigh, low: bLow) : IPAddress(v4: UInt32(truncatingIfNeeded: bLow))
    }

    @inlinable
    public init(
        a: IPAddress, portA: UInt16, b: IPAddress, portB: UInt16, proto: UInt8, vlan: UInt16 = 0, oneWay: Bool = false
    ) {
        aHigh = a.high; aLow = a.low; bHigh = b.high; bLow = b.low
        self.portA = portA; self.portB = portB
        self.proto = proto
        bits = (a.isIPv6 ? FlowKey.v6Bit : 0) | (oneWay ? FlowKey.oneWayBit : 0)
        self.vlan = vlan
    }

    /// The canonical key for a packet from `src:sport` to `dst:dport`, and whether the
    /// sender is endpoint A. For ICMP pass the mapped ports (see `icmpPorts`).
    @inlinable
    public static func canonical(src: IPAddress, sport: UInt16, dst: IPAddress, dport: UInt16,
                                 proto: UInt8, vlan: UInt16 = 0, oneWay: Bool = false) -> (key: FlowKey, srcIsA: Bool) {
        if oneWay || endpointLess(src, sport, dst, dport) {
            return (FlowKey(a: src, portA: sport, b: dst, portB: dport, proto: proto, vlan: vlan, oneWay: oneWay), true)
        }
        return (FlowKey(a: dst, portA: dport, b: src, portB: sport, proto: proto, vlan: vlan), false)
    }

    /// (address, port) ordering: addresses as big-endian numbers, then ports; the same
    /// order the Community ID specification uses.
    @inlinable
    public static func endpointLess(_ a: IPAddress, _ ap: UInt16, _ b: IPAddress, _ bp: UInt16) -> Bool {
        if a.high != b.high { return a.high < b.high }
        if a.low != b.low { return a.low < b.low }
        return ap < bp
    }

    /// Zeek's ICMP "ports": (type, counterpart type, false) for request/reply pairs and
    /// (type, code, true) for one-way messages. `v6` selects the ICMPv6 table.
    @inlinable
    public static func icmpPorts(type: UInt8, code: UInt8, v6: Bool) -> (sport: UInt16, dport: UInt16, oneWay: Bool) {
        let counterpart: Int
        if v6 {
            switch type {
            case 128: counterpart = 129
            case 129: counterpart = 128
            case 133: counterpart = 134
            case 134: counterpart = 133
            case 135: counterpart = 136
            case 136: counterpart = 135
            case 130: counterpart = 131
            case 131: counterpart = 130
            case 139: counterpart = 140
            case 140: counterpart = 139
            case 144: counterpart = 145
            case 145: counterpart = 144
            default: counterpart = -1
            }
        } else {
            switch type {
            case 8: counterpart = 0
            case 0: counterpart = 8
            case 13: counterpart = 14
            case 14: counterpart = 13
            case 15: counterpart = 16
            case 16: counterpart = 15
            case 10: counterpart = 9
            case 9: counterpart = 10
            case 17: counterpart = 18
            case 18: counterpart = 17
            default: counterpart = -1
            }
        }
        if counterpart < 0 { return (UInt16(type), UInt16(code), true) }
        return (UInt16(type), UInt16(counterpart), false)
    }

    /// A fast hash of the canonical key; equal for both directions of a flow, so it can
    /// pick a shard as well as a table slot.
    @inlinable
    public var fastHash: UInt64 {
        let misc = UInt64(portA) | UInt64(portB) << 16 | UInt64(proto) << 32 | UInt64(bits) << 40 | UInt64(vlan) << 48
        return FlowKey.mum(aHigh ^ 0xA076_1D64_78BD_642F, aLow ^ 0xE703_7ED1_A0B4_28DB)
            ^ FlowKey.mum(bHigh ^ 0x8EBC_6AF0_9C88_C6E3, bLow ^ 0x5899_65CC_7537_4CC3)
            ^ FlowKey.mum(misc ^ 0x1D8E_4E27_C47D_124F, 0x9E37_79B9_7F4A_7C15)
    }

    @inlinable
    static func mum(_ x: UInt64, _ y: UInt64) -> UInt64 {
        let r = x.multipliedFullWidth(by: y)
        return r.high ^ r.low
    }

    @inlinable
    public static func == (l: FlowKey, r: FlowKey) -> Bool {
        l.aLow == r.aLow && l.bLow == r.bLow && l.aHigh == r.aHigh && l.bHigh == r.bHigh
            && l.portA == r.portA && l.portB == r.portB && l.proto == r.proto && l.bits == r.bits && l.vlan == r.vlan
    }

    public func hash(into h: inout Hasher) { h.combine(fastHash) }
}

extension FlowKey {
    /// The canonical key of a packet's flow, or nil when the packet belongs to none (see
    /// `canonical(packet:)`): the one rule of the flow table, its shards and the store.
    @inlinable
    public init?(packet p: DecodedPacket) {
        guard let k = FlowKey.canonical(packet: p) else { return nil }
        self = k.key
    }

    /// The canonical key of a packet's flow and whether its sender is endpoint A; nil
    /// without an IP header, for TCP or UDP without ports, for a later ICMP fragment
    /// and for a fragment held for reassembly (its datagram counts on the frame that
    /// completes it). Other protocols key on the addresses alone.
    @inlinable
    public static func canonical(packet p: DecodedPacket) -> (key: FlowKey, srcIsA: Bool)? {
        guard p.ipVersion != 0 else { return nil }
        var sport: UInt16 = 0, dport: UInt16 = 0, oneWay = false
        switch p.ipProto {
        case IPProtocol.tcp, IPProtocol.udp:
            guard p.hasPorts else { return nil }
            sport = p.sport
            dport = p.dport
        case IPProtocol.icmp, IPProtocol.icmpv6:
            if p.hasICMP {
                let m = FlowKey.icmpPorts(
                    type: p.icmpType, code: p.icmpCode, v6: p.ipProto == IPProtocol.icmpv6.rawValue)
                sport = m.sport
                dport = m.dport
                oneWay = m.oneWay
            } else if p.isFragment {
                return nil
            }
        default:
            if p.heldFragment { return nil }
        }
        return FlowKey.canonical(src: p.src, sport: sport, dst: p.dst, dport: dport, proto: p.ipProto,
                                 vlan: p.vlans.primary ?? 0, oneWay: oneWay)
    }
}

extension FlowKey {
    /// The `fastHash` of the flow a raw frame will belong to, read straight from its
    /// headers without decoding it: Ethernet (untagged or one 802.1Q tag) or raw IP,
    /// IPv4 without fragmentation or IPv6 without extension headers, TCP or UDP. Nil for
    /// anything else. Only `FlowTable.prefetch` uses it, as a hint: a frame it misreads
    /// costs a useless fetch, never a different flow, since the table looks every packet
    /// up by its decoded key.
    @inline(__always)
    static func peekHash(_ f: UnsafeRawBufferPointer, link: LinkType) -> UInt64? {
        @inline(__always) func u16(_ o: Int) -> UInt16 { UInt16(bigEndian: f.loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
        @inline(__always) func u32(_ o: Int) -> UInt32 { UInt32(bigEndian: f.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
        @inline(__always) func u64(_ o: Int) -> UInt64 { UInt64(bigEndian: f.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
        var ip = 0
        var vlan: UInt16 = 0
        let version: UInt8
        switch link {
        case .ethernet:
            guard f.count >= 14 + 20 else { return nil }
            var type = u16(12)
            ip = 14
            if type == 0x8100 {
                guard f.count >= 18 + 20 else { return nil }
                vlan = u16(14) & 0x0FFF
                type = u16(16)
                ip = 18
            }
            switch type {
            case 0x0800: version = 4
            case 0x86DD: version = 6
            default: return nil
            }
            guard f[ip] >> 4 == version else { return nil }
        case .raw, .ipv4, .ipv6:
            guard f.count >= 20 else { return nil }
            version = f[0] >> 4
        default:
            return nil
        }
        let src: IPAddress, dst: IPAddress, proto: UInt8, l4: Int
        if version == 4 {
            let ihl = Int(f[ip] & 0x0F) * 4
            // A fragment (more to come, or an offset) keys on what reassembly decides.
            guard ihl >= 20, u16(ip + 6) & 0x3FFF == 0 else { return nil }
            proto = f[ip + 9]
            src = IPAddress(v4: u32(ip + 12))
            dst = IPAddress(v4: u32(ip + 16))
            l4 = ip + ihl
        } else if version == 6 {
            guard f.count >= ip + 40 else { return nil }
            proto = f[ip + 6]
            src = IPAddress(v6High: u64(ip + 8), low: u64(ip + 16))
            dst = IPAddress(v6High: u64(ip + 24), low: u64(ip + 32))
            l4 = ip + 40
        } else {
            return nil
        }
        guard proto == 6 || proto == 17, f.count >= l4 + 4 else { return nil }
        return FlowKey.canonical(src: src, sport: u16(l4), dst: dst, dport: u16(l4 + 2), proto: proto, vlan: vlan)
            .key.fastHash
    }
}
