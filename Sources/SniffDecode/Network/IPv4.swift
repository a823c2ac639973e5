import SniffCore

/// An IPv4 header (RFC 791) read in place, options skipped.
///
///     ver/ihl(1) tos(1) total length(2) id(2) flags/fragment offset(2) ttl(1)
///     protocol(1) checksum(2) src(4) dst(4) options(ihl*4-20)
public struct IPv4Header: Sendable {
    public let offset: Int
    public let headerLength: Int
    public let totalLength: Int
    public let identification: UInt16
    public let ttl: UInt8
    public let proto: UInt8
    public let src: IPAddress
    public let dst: IPAddress
    /// In 8-byte units.
    public let fragmentOffset: UInt16
    public let moreFragments: Bool
    public let dontFragment: Bool

    public var isFragment: Bool { moreFragments || fragmentOffset != 0 }
    /// Only the first fragment carries the transport header.
    public var carriesTransportHeader: Bool { fragmentOffset == 0 }

    public static func parse(_ c: ByteCursor, at offset: Int) -> HeaderResult<IPv4Header> {
        guard let vihl = c.getUInt8(at: offset) else { return .short(have: 0, need: 20) }
        let version = vihl >> 4
        guard version == 4 else { return .malformed(Malformation(.badVersion, .ipv4, UInt32(version))) }
        let ihl = Int(vihl & 0x0F) * 4
        guard ihl >= 20 else { return .malformed(Malformation(.headerLength, .ipv4, UInt32(ihl), 20)) }
        guard c.has(20, at: offset),
              let total = c.getUInt16(at: offset + 2), let id = c.getUInt16(at: offset + 4),
              let frag = c.getUInt16(at: offset + 6), let ttl = c.getUInt8(at: offset + 8),
              let proto = c.getUInt8(at: offset + 9), let s = c.getUInt32(at: offset + 12),
              let d = c.getUInt32(at: offset + 16) else {
            return .short(have: c.count - offset, need: 20)
        }
        guard Int(total) >= ihl else {
            return .malformed(Malformation(.totalLengthBelowHeader, .ipv4, UInt32(total), UInt32(ihl)))
        }
        guard c.has(ihl, at: offset) else { return .short(have: c.count - offset, need: ihl) }
        return .ok(IPv4Header(
            offset: offset, headerLength: ihl, totalLength: Int(total), identification: id,
            ttl: ttl, proto: proto, src: IPAddress(v4: s), dst: IPAddress(v4: d),
            fragmentOffset: frag & 0x1FFF, moreFragments: frag & 0x2000 != 0,
            dontFragment: frag & 0x4000 != 0))
    }
}
