import SniffCore

/// A QUIC long header (RFC 9000 section 17.2, RFC 8999 for the invariants).
public struct QUICLongHeader: Sendable, Equatable {
    public var version: UInt32
    /// The two type bits of the first byte (their meaning depends on the version).
    public var typeBits: UInt8
    public var dcidOffset: Int
    public var dcidLength: Int
    public var scidOffset: Int
    public var scidLength: Int

    /// True for a Version Negotiation packet (version 0).
    public var isVersionNegotiation: Bool { version == 0 }

    /// True for an Initial packet of QUIC v1 (type 0) or v2 (type 1, RFC 9369).
    public var isInitial: Bool {
        switch version {
        case QUIC.version1: return typeBits == 0
        case QUIC.version2: return typeBits == 1
        default: return QUIC.isDraft(version) && typeBits == 0
        }
    }
}

///     first byte: 1(form) 1(fixed) TT(type) XXXX; version(4); dcid_len(1) dcid;
///     scid_len(1) scid; type-specific fields
public enum QUIC {
    public static let version1: UInt32 = 0x0000_0001
    public static let version2: UInt32 = 0x6B33_43CF
    public static let maximumCIDLength = 20

    @inlinable
    public static func isDraft(_ v: UInt32) -> Bool { v & 0xFFFF_FF00 == 0xFF00_0000 }

    /// Google QUIC versions "Q043" ... "Q099" (0x51 0x30 digit digit).
    @inlinable
    public static func isGoogle(_ v: UInt32) -> Bool {
        v >> 16 == 0x5130 && (v >> 8) & 0xFF >= 0x30 && (v >> 8) & 0xFF <= 0x39 && v & 0xFF >= 0x30 && v & 0xFF <= 0x39
    }

    /// Versions worth recognising a flow by: v1, v2, IETF drafts, Google QUIC and
    /// Facebook's mvfst (0xfaceb00X).
    @inlinable
    public static func isKnownVersion(_ v: UInt32) -> Bool {
        v == version1 || v == version2 || isDraft(v) || isGoogle(v) || v & 0xFFFF_FFF0 == 0xFACE_B000
    }

    /// Parses a long header at the start of a UDP payload. Returns nil for short headers,
    /// bad connection ID lengths, a clear fixed bit, or unknown versions; a Version
    /// Negotiation packet is accepted when it lists a known version.
    public static func parseLongHeader(_ c: ByteCursor, at offset: Int, length: Int) -> QUICLongHeader? {
        let end = Swift.min(offset + length, c.count)
        guard offset >= 0, end - offset >= 7, let first = c.getUInt8(at: offset), first & 0x80 != 0,
              let version = c.getUInt32(at: offset + 1),
              let dcidLength = c.getUInt8(at: offset + 5), Int(dcidLength) <= maximumCIDLength else { return nil }
        let dcidOffset = offset + 6
        let scidLengthAt = dcidOffset + Int(dcidLength)
        guard scidLengthAt < end, let scidLength = c.getUInt8(at: scidLengthAt),
              Int(scidLength) <= maximumCIDLength, scidLengthAt + 1 + Int(scidLength) <= end else { return nil }
        let header = QUICLongHeader(version: version, typeBits: (first >> 4) & 0x3,
                                    dcidOffset: dcidOffset, dcidLength: Int(dcidLength),
                                    scidOffset: scidLengthAt + 1, scidLength: Int(scidLength))
        if version == 0 {
            var pos = header.scidOffset + header.scidLength
            var any = false
            while pos + 4 <= end {
                if let v = c.getUInt32(at: pos), isKnownVersion(v) { any = true }
                pos += 4
            }
            return any ? header : nil
        }
        guard first & 0x40 != 0, isKnownVersion(version) else { return nil }
        return header
    }

    /// "1", "2", "draft-29", "Q050", "mvfst-1", else "0x" and eight hex digits.
    public static func versionName(_ v: UInt32) -> String {
        if v == version1 { return "1" }
        if v == version2 { return "2" }
        if isDraft(v) { return "draft-\(v & 0xFF)" }
        if isGoogle(v) {
            let bytes = [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
            return String(decoding: bytes, as: UTF8.self)
        }
        if v & 0xFFFF_FFF0 == 0xFACE_B000 { return "mvfst-\(v & 0xF)" }
        var s = ByteSink(capacity: 10)
        s.append("0x" as StaticString)
        s.appendHex(UInt64(v), width: 8)
        return s.string
    }
}
