import SniffCore

/// An SSH identification string, as offsets into the buffer.
public struct SSHBanner: Sendable, Equatable {
    /// "2.0", "1.99" or "1.5".
    public var protocolOffset: Int
    public var protocolLength: Int
    /// The software version (up to the first space or the end of the line).
    public var softwareOffset: Int
    public var softwareLength: Int
    /// The whole line without CR LF ("SSH-2.0-OpenSSH_9.2 Debian-2").
    public var lineOffset: Int
    public var lineLength: Int
}

/// The SSH protocol version exchange (RFC 4253 section 4.2):
/// `SSH-protoversion-softwareversion SP comments CR LF`, at most 255 bytes.
public enum SSH {
    public static let maximumLineLength = 255

    /// Parses a banner that starts a TCP payload at `offset`. A line cut off by the
    /// capture is accepted once the software version has started.
    public static func parseBanner(_ c: ByteCursor, at offset: Int, length: Int) -> SSHBanner? {
        let end = Swift.min(offset + Swift.min(length, maximumLineLength), c.count)
        guard offset >= 0, end - offset >= 9, c.getUInt32(at: offset) == 0x5353_482D else { return nil }  // "SSH-"
        let protoStart = offset + 4
        var pos = protoStart
        while pos < end, let b = c.getUInt8(at: pos), (b >= 0x30 && b <= 0x39) || b == 0x2E { pos += 1 }
        let protoLength = pos - protoStart
        guard protoLength >= 3, c.getUInt8(at: pos) == 0x2D else { return nil }
        pos += 1
        let softwareStart = pos
        while pos < end, let b = c.getUInt8(at: pos), b > 0x20, b < 0x7F { pos += 1 }
        let softwareLength = pos - softwareStart
        guard softwareLength > 0 else { return nil }
        var lineEnd = pos
        while lineEnd < end, let b = c.getUInt8(at: lineEnd), b != 0x0D, b != 0x0A {
            guard b >= 0x20, b < 0x7F else { return nil }
            lineEnd += 1
        }
        return SSHBanner(protocolOffset: protoStart, protocolLength: protoLength,
                         softwareOffset: softwareStart, softwareLength: softwareLength,
                         lineOffset: offset, lineLength: lineEnd - offset)
    }
}
