import SniffCore

/// A TCP header (RFC 9293) with its options.
///
///     sport(2) dport(2) seq(4) ack(4) offset/flags(2) window(2) checksum(2) urgent(2) options
public enum TCP {
    public static let minimumLength = 20

    public static let fin: UInt16 = 0x001
    public static let syn: UInt16 = 0x002
    public static let rst: UInt16 = 0x004
    public static let psh: UInt16 = 0x008
    public static let ack: UInt16 = 0x010
    public static let urg: UInt16 = 0x020
    public static let ece: UInt16 = 0x040
    public static let cwr: UInt16 = 0x080
    public static let ae: UInt16 = 0x100

    /// Decodes the header at `offset`; `ipPayloadLength` is the transport length the IP
    /// header states, used for `payload_len`.
    public static func decode(_ c: ByteCursor, at offset: Int, ipPayloadLength: Int, into p: inout DecodedPacket) {
        guard UDP.decodePorts(c, at: offset, transport: .tcp, layer: .tcp, headerLength: minimumLength, into: &p) else {
            return
        }
        guard c.has(minimumLength, at: offset),
              let seq = c.getUInt32(at: offset + 4), let ackNum = c.getUInt32(at: offset + 8),
              let offFlags = c.getUInt16(at: offset + 12), let window = c.getUInt16(at: offset + 14) else {
            p.markShort(.tcp, have: c.count - offset, need: minimumLength)
            return
        }
        p.hasTCP = true
        p.tcp.seq = seq
        p.tcp.ack = ackNum
        p.tcp.flags = offFlags & 0x01FF
        p.tcp.window = window
        let headerLength = Int(offFlags >> 12) * 4
        p.tcp.headerLength = UInt8(headerLength)
        guard headerLength >= minimumLength else {
            p.markMalformed(Malformation(.headerLength, .tcp, UInt32(headerLength), 20))
            return
        }
        p.hasPayloadLength = true
        p.payloadLength = UInt32(Swift.max(0, ipPayloadLength - headerLength))
        guard c.has(headerLength, at: offset) else {
            p.markShort(.tcp, have: c.count - offset, need: headerLength)
            return
        }
        if ipPayloadLength < headerLength {
            p.markMalformed(Malformation(.totalLengthBelowHeader, .tcp, UInt32(ipPayloadLength), UInt32(headerLength)))
        }
        p.payloadOffset = offset + headerLength
        p.payloadCaptured = Swift.max(0, Swift.min(c.count, offset + ipPayloadLength) - p.payloadOffset)
        parseOptions(c, from: offset + minimumLength, to: offset + headerLength, into: &p)
    }

    /// Reads MSS, window scale, SACK-permitted, SACK blocks and timestamps. A length
    /// byte that overruns the header marks the packet malformed and stops the walk.
    static func parseOptions(_ c: ByteCursor, from start: Int, to end: Int, into p: inout DecodedPacket) {
        var pos = start
        while pos < end {
            guard let kind = c.getUInt8(at: pos) else { return }
            if kind == 0 { return }            // end of option list
            if kind == 1 { pos += 1; continue } // no-operation
            guard let len8 = c.getUInt8(at: pos + 1) else {
                p.markMalformed(Malformation(.badOption, .tcp, UInt32(kind), 0))
                return
            }
            let len = Int(len8)
            guard len >= 2, pos + len <= end else {
                p.markMalformed(Malformation(.badOption, .tcp, UInt32(kind), UInt32(len)))
                return
            }
            switch kind {
            case 2 where len == 4:
                p.tcp.mss = c.getUInt16(at: pos + 2) ?? 0
            case 3 where len == 3:
                p.tcp.windowScale = c.getUInt8(at: pos + 2) ?? 0xFF
            case 4 where len == 2:
                p.tcp.sackPermitted = true
            case 5:
                p.tcp.sackBlocks = UInt8((len - 2) / 8)
            case 8 where len == 10:
                p.tcp.hasTimestamps = true
                p.tcp.tsVal = c.getUInt32(at: pos + 2) ?? 0
                p.tcp.tsEcr = c.getUInt32(at: pos + 6) ?? 0
            default:
                break
            }
            pos += len
        }
    }

    /// tcpdump's flag letters: F S R P . U E W e, in that order; "none" when empty.
    public static func writeFlagLetters(_ flags: UInt16, into s: inout ByteSink) {
        if flags & 0x1FF == 0 { s.append("none" as StaticString); return }
        if flags & fin != 0 { s.append(UInt8(ascii: "F")) }
        if flags & syn != 0 { s.append(UInt8(ascii: "S")) }
        if flags & rst != 0 { s.append(UInt8(ascii: "R")) }
        if flags & psh != 0 { s.append(UInt8(ascii: "P")) }
        if flags & ack != 0 { s.append(UInt8(ascii: ".")) }
        if flags & urg != 0 { s.append(UInt8(ascii: "U")) }
        if flags & ece != 0 { s.append(UInt8(ascii: "E")) }
        if flags & cwr != 0 { s.append(UInt8(ascii: "W")) }
        if flags & ae != 0 { s.append(UInt8(ascii: "e")) }
    }

    public static func flagLetters(_ flags: UInt16) -> String {
        var s = ByteSink(capacity: 12)
        writeFlagLetters(flags, into: &s)
        return s.string
    }
}
