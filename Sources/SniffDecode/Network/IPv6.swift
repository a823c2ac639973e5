import SniffCore

/// An IPv6 header (RFC 8200) and its extension-header chain, read in place.
///
///     ver/class/flow(4) payload length(2) next header(1) hop limit(1) src(16) dst(16)
public struct IPv6Header: Sendable {
    public static let fixedLength = 40

    public let offset: Int
    public let payloadLength: Int
    /// The next-header value of the fixed header (what tshark reports as ipv6.nxt).
    public let firstNextHeader: UInt8
    public let hopLimit: UInt8
    public let src: IPAddress
    public let dst: IPAddress
    /// The upper-layer protocol after all extension headers, and where it starts.
    public let upperProtocol: UInt8
    public let upperOffset: Int
    public let isFragment: Bool
    /// False for a non-first fragment: its payload does not start with a transport header.
    public let carriesTransportHeader: Bool
    /// The first Fragment header, when `isFragment`: where it is, where the next-header
    /// byte naming it is, and its fields (offset in bytes).
    public let fragmentHeaderOffset: Int
    public let fragmentNextHeaderField: Int
    public let fragmentNextHeader: UInt8
    public let fragmentOffset: UInt16
    public let moreFragments: Bool
    public let fragmentID: UInt32

    @inlinable
    static func isExtension(_ nh: UInt8) -> Bool {
        switch nh {
        case 0, 43, 44, 51, 60, 135, 139, 140, 253, 254: return true
        default: return false
        }
    }

    /// Reads the fixed header and walks extension headers up to `end` (the end of the
    /// IPv6 payload within the captured bytes). A chain cut by the capture is `.short`.
    public static func parse(_ c: ByteCursor, at offset: Int) -> HeaderResult<IPv6Header> {
        guard let first = c.getUInt8(at: offset) else { return .short(have: 0, need: fixedLength) }
        let version = first >> 4
        guard version == 6 else { return .malformed(Malformation(.badVersion, .ipv6, UInt32(version))) }
        guard c.has(fixedLength, at: offset),
              let plen = c.getUInt16(at: offset + 4), let nh = c.getUInt8(at: offset + 6),
              let hop = c.getUInt8(at: offset + 7),
              let sh = c.getUInt64(at: offset + 8), let sl = c.getUInt64(at: offset + 16),
              let dh = c.getUInt64(at: offset + 24), let dl = c.getUInt64(at: offset + 32) else {
            return .short(have: c.count - offset, need: fixedLength)
        }
        var next = nh
        var pos = offset + fixedLength
        var fragment = false
        var transportHere = true
        var fragAt = -1, fragField = -1, fragNext: UInt8 = 0, fragOffset: UInt16 = 0, fragMore = false
        var fragID: UInt32 = 0
        // Where the byte naming the header at `pos` is: the fixed header's next header,
        // then the first byte of each extension header.
        var field = offset + 6
        // A jumbogram (payload length 0 with hop-by-hop) or a cut capture: bound the
        // walk by what was captured; each header is at least 8 bytes, so it ends.
        let declaredEnd = plen == 0 ? c.count : offset + fixedLength + Int(plen)
        let end = Swift.min(declaredEnd, c.count)
        while isExtension(next) {
            guard let hdrNext = c.getUInt8(at: pos), pos < end else {
                return .short(have: Swift.max(0, end - pos), need: 8)
            }
            let len: Int
            if next == 44 {
                guard let fo = c.getUInt16(at: pos + 2), let id = c.getUInt32(at: pos + 4), pos + 8 <= end else {
                    return .short(have: end - pos, need: 8)
                }
                if !fragment {
                    fragAt = pos; fragField = field; fragNext = hdrNext
                    fragOffset = fo & 0xFFF8; fragMore = fo & 1 != 0; fragID = id
                }
                fragment = true
                if fo & 0xFFF8 != 0 { transportHere = false }
                len = 8
            } else {
                guard let l = c.getUInt8(at: pos + 1) else { return .short(have: end - pos, need: 2) }
                len = next == 51 ? (Int(l) + 2) * 4 : (Int(l) + 1) * 8
            }
            guard pos + len <= end else {
                if pos + len > declaredEnd {
                    return .malformed(
                        Malformation(
                            .lengthExceedsFrame, .ipv6ext, UInt32(len), UInt32(Swift.max(0, declaredEnd - pos))))
                }
                return .short(have: end - pos, need: len)
            }
            next = hdrNext
            field = pos
            pos += len
            if !transportHere { break }
        }
        return .ok(IPv6Header(
            offset: offset, payloadLength: Int(plen), firstNextHeader: nh, hopLimit: hop,
            src: IPAddress(v6High: sh, low: sl), dst: IPAddress(v6High: dh, low: dl),
            upperProtocol: next, upperOffset: pos, isFragment: fragment,
            carriesTransportHeader: transportHere, fragmentHeaderOffset: fragAt, fragmentNextHeaderField: fragField,
            fragmentNextHeader: fragNext, fragmentOffset: fragOffset, moreFragments: fragMore, fragmentID: fragID))
    }
}
