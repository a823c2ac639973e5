import SniffCore

/// What a TLS ClientHello says about the connection, as offsets into the buffer it was
/// read from, so that nothing is copied unless someone asks for the name.
public struct TLSClientHello: Sendable, Equatable {
    /// The record layer's version (often 0x0301 even for TLS 1.3).
    public var recordVersion: UInt16 = 0
    /// The hello's `legacy_version` (0x0303 for TLS 1.2 and 1.3).
    public var clientVersion: UInt16 = 0
    /// The highest non-GREASE version in the supported_versions extension, or 0.
    public var supportedVersion: UInt16 = 0
    /// Offset and length of the server_name host name, or -1/0 when absent or cut off.
    public var sniOffset: Int = -1
    public var sniLength: Int = 0
    /// True when the extensions were read to their end (the hello was fully captured).
    public var complete = false
    /// The lists a fingerprint is made of, as the offset of their first byte and their
    /// length in bytes (offset -1 when absent): cipher suites (2 bytes each), the
    /// extensions (type, length, data), and inside them supported_groups (2 bytes each),
    /// ec_point_formats (1 byte each), signature_algorithms (2 bytes each) and the ALPN
    /// protocol_name_list (each name with a 1-byte length).
    public var cipherSuitesOffset = -1
    public var cipherSuitesLength = 0
    public var extensionsOffset = -1
    public var extensionsLength = 0
    public var groupsOffset = -1
    public var groupsLength = 0
    public var pointFormatsOffset = -1
    public var pointFormatsLength = 0
    public var signatureAlgorithmsOffset = -1
    public var signatureAlgorithmsLength = 0
    public var alpnOffset = -1
    public var alpnLength = 0
    /// The supported_versions list (2 bytes each), offset -1 when absent.
    public var supportedVersionsOffset = -1
    public var supportedVersionsLength = 0

    public init() {}

    public var hasSNI: Bool { sniOffset >= 0 }

    /// The version the client offers: supported_versions when present, else legacy_version.
    public var version: UInt16 { supportedVersion != 0 ? supportedVersion : clientVersion }
}

/// What a TLS ServerHello says, as offsets into the buffer it was read from.
public struct TLSServerHello: Sendable, Equatable {
    public var recordVersion: UInt16 = 0
    /// The hello's `legacy_version` (0x0303 for TLS 1.2 and 1.3).
    public var serverVersion: UInt16 = 0
    public var cipherSuite: UInt16 = 0
    /// The version chosen in supported_versions (TLS 1.3), or 0.
    public var supportedVersion: UInt16 = 0
    /// The extensions (type, length, data), offset -1 when there are none.
    public var extensionsOffset = -1
    public var extensionsLength = 0
    /// The protocol name the server chose with ALPN (TLS 1.2 and older; TLS 1.3 sends it
    /// encrypted), offset -1 when absent.
    public var alpnOffset = -1
    public var alpnLength = 0
    public var complete = false

    public init() {}

    /// The negotiated version: supported_versions when present, else legacy_version.
    public var version: UInt16 { supportedVersion != 0 ? supportedVersion : serverVersion }
}

/// TLS records (RFC 8446 section 5.1) and the ClientHello handshake message (section
/// 4.1.2), with the server_name extension (RFC 6066 section 3).
///
///     record: type(1)=22 version(2) length(2)
///     handshake: type(1)=1 length(3) legacy_version(2) random(32) session_id<0..32>
///                cipher_suites<2..2^16-2> compression_methods<1..2^8-1> extensions<0..2^16-1>
public enum TLS {
    public static let recordHeaderLength = 5
    public static let handshakeContentType: UInt8 = 22
    public static let clientHelloType: UInt8 = 1
    public static let serverNameExtension: UInt16 = 0
    public static let serverHelloType: UInt8 = 2
    public static let supportedGroupsExtension: UInt16 = 10
    public static let ecPointFormatsExtension: UInt16 = 11
    public static let signatureAlgorithmsExtension: UInt16 = 13
    public static let alpnExtension: UInt16 = 16
    public static let supportedVersionsExtension: UInt16 = 43

    /// True for the GREASE values of RFC 8701 (0x0A0A, 0x1A1A, ... 0xFAFA).
    @inlinable
    public static func isGREASE(_ v: UInt16) -> Bool { v & 0x0F0F == 0x0A0A && v >> 8 == v & 0xFF }

    /// Parses a ClientHello that starts a TCP payload at `offset`, reading at most
    /// `length` bytes. Returns nil unless the bytes are a handshake record holding a
    /// ClientHello; a hello cut short by the capture still returns what was read.
    public static func parseClientHello(_ c: ByteCursor, at offset: Int, length: Int) -> TLSClientHello? {
        guard let recordVersion = handshakeRecordVersion(c, at: offset, length: length),
              var hello = parseClientHelloMessage(c, at: offset + recordHeaderLength,
                                                  length: length - recordHeaderLength) else { return nil }
        hello.recordVersion = recordVersion
        return hello
    }

    /// The version of the handshake record that starts at `offset`, or nil when the bytes
    /// are not one (content type 22, version 3.x, room for a handshake header).
    static func handshakeRecordVersion(_ c: ByteCursor, at offset: Int, length: Int) -> UInt16? {
        guard length >= recordHeaderLength + 4, c.getUInt8(at: offset) == handshakeContentType,
              let version = c.getUInt16(at: offset + 1), version >> 8 == 3, version & 0xFF <= 4,
              let recordLength = c.getUInt16(at: offset + 3), recordLength >= 4 else { return nil }
        return version
    }

    /// The body of the hello of `type` at `offset`: where it starts, where its captured part
    /// ends (never past the buffer or `length`) and where it should end; nil unless the type
    /// matches and the declared length holds version and random.
    static func helloBody(_ c: ByteCursor, at offset: Int, length: Int,
                          type: UInt8) -> (start: Int, end: Int, declaredEnd: Int)? {
        guard length >= 4, offset >= 0, c.getUInt8(at: offset) == type,
              let hsHigh = c.getUInt8(at: offset + 1), let hsLow = c.getUInt16(at: offset + 2) else { return nil }
        let handshakeLength = Int(hsHigh) << 16 | Int(hsLow)
        guard handshakeLength >= 38 else { return nil }
        let start = offset + 4
        return (start, Swift.min(offset + Swift.min(length, c.count - offset), start + handshakeLength),
                start + handshakeLength)
    }

    /// Parses a ClientHello handshake message (no record header, as QUIC carries it in
    /// CRYPTO frames) at `offset`, reading at most `length` bytes.
    public static func parseClientHelloMessage(_ c: ByteCursor, at offset: Int, length: Int) -> TLSClientHello? {
        // The body ends where the handshake says, but never past the captured bytes.
        guard let (bodyStart, end, declaredEnd) = helloBody(c, at: offset, length: length, type: clientHelloType) else {
            return nil
        }
        var hello = TLSClientHello()
        guard let clientVersion = c.getUInt16(at: bodyStart), clientVersion >> 8 == 3 else { return nil }
        hello.clientVersion = clientVersion
        var pos = bodyStart + 2 + 32
        guard pos < end, let sidLength = c.getUInt8(at: pos), sidLength <= 32 else { return hello }
        pos += 1 + Int(sidLength)
        guard pos + 2 <= end, let csLength = c.getUInt16(at: pos), csLength & 1 == 0 else { return hello }
        if pos + 2 + Int(csLength) <= end {
            hello.cipherSuitesOffset = pos + 2
            hello.cipherSuitesLength = Int(csLength)
        }
        pos += 2 + Int(csLength)
        guard pos + 1 <= end, let compLength = c.getUInt8(at: pos) else { return hello }
        pos += 1 + Int(compLength)
        guard let ext = walkExtensions(c, at: pos, end: end, { type, dataStart, dataEnd in
            switch type {
            case serverNameExtension:
                readServerName(c, from: dataStart, to: dataEnd, into: &hello)
            case supportedVersionsExtension:
                readSupportedVersions(c, from: dataStart, to: dataEnd, into: &hello)
            case supportedGroupsExtension:
                if let (o, n) = list16(c, from: dataStart, to: dataEnd) {
                    (hello.groupsOffset, hello.groupsLength) = (o, n)
                }
            case signatureAlgorithmsExtension:
                if let (o, n) = list16(c, from: dataStart, to: dataEnd) {
                    (hello.signatureAlgorithmsOffset, hello.signatureAlgorithmsLength) = (o, n)
                }
            case alpnExtension:
                if let (o, n) = list16(c, from: dataStart, to: dataEnd, even: false) {
                    (hello.alpnOffset, hello.alpnLength) = (o, n)
                }
            case ecPointFormatsExtension:
                if let n = c.getUInt8(at: dataStart), dataStart + 1 + Int(n) <= dataEnd {
                    (hello.pointFormatsOffset, hello.pointFormatsLength) = (dataStart + 1, Int(n))
                }
            default:
                break
            }
        }) else {
            // A hello without extensions is legal (TLS 1.2 and older).
            if pos == declaredEnd { hello.complete = true }
            return hello
        }
        (hello.extensionsOffset, hello.extensionsLength) = (ext.offset, ext.length)
        if ext.complete { hello.complete = true }
        return hello
    }

    /// Walks the extensions block whose 2-byte length is at `pos` (both hellos have one):
    /// `body` gets the type and data range of each extension that fits both the list and
    /// the captured bytes, in order. Returns where the block's data starts, how much of it
    /// was captured, and whether its extensions ended exactly at its declared length; nil
    /// when the capture ends before the length.
    static func walkExtensions(_ c: ByteCursor, at pos: Int, end: Int,
                               _ body: (_ type: UInt16, _ dataStart: Int, _ dataEnd: Int) -> Void)
        -> (offset: Int, length: Int, complete: Bool)? {
        guard pos + 2 <= end, let total = c.getUInt16(at: pos) else { return nil }
        let start = pos + 2
        let extEnd = start + Int(total)
        let captured = Swift.min(extEnd, end) - start
        var at = start
        while at + 4 <= Swift.min(end, extEnd) {
            guard let type = c.getUInt16(at: at), let length = c.getUInt16(at: at + 2) else { break }
            let dataStart = at + 4
            let dataEnd = dataStart + Int(length)
            // An extension that overruns the list, or is cut off by the capture, ends the walk.
            guard dataEnd <= extEnd, dataEnd <= end else { return (start, captured, false) }
            body(type, dataStart, dataEnd)
            at = dataEnd
        }
        return (start, captured, at == extEnd)
    }

    /// A list with a 2-byte length prefix inside an extension: where its elements start and
    /// their byte length, or nil when it does not fit (or has an odd length for 2-byte items).
    static func list16(_ c: ByteCursor, from start: Int, to end: Int, even: Bool = true) -> (Int, Int)? {
        guard let n = c.getUInt16(at: start), start + 2 + Int(n) <= end, !even || n & 1 == 0 else { return nil }
        return (start + 2, Int(n))
    }

    /// Parses a ServerHello that starts a TCP payload at `offset` (a record header first).
    public static func parseServerHello(_ c: ByteCursor, at offset: Int, length: Int) -> TLSServerHello? {
        guard let recordVersion = handshakeRecordVersion(c, at: offset, length: length),
              var hello = parseServerHelloMessage(c, at: offset + recordHeaderLength,
                                                  length: length - recordHeaderLength) else { return nil }
        hello.recordVersion = recordVersion
        return hello
    }

    /// Parses a ServerHello handshake message (RFC 8446 section 4.1.3) at `offset`:
    ///
    ///     legacy_version(2) random(32) legacy_session_id_echo<0..32> cipher_suite(2)
    ///     legacy_compression_method(1) extensions<6..2^16-1>
    public static func parseServerHelloMessage(_ c: ByteCursor, at offset: Int, length: Int) -> TLSServerHello? {
        guard let (bodyStart, end, declaredEnd) = helloBody(c, at: offset, length: length, type: serverHelloType) else {
            return nil
        }
        guard let version = c.getUInt16(at: bodyStart), version >> 8 == 3 else { return nil }
        var hello = TLSServerHello()
        hello.serverVersion = version
        var pos = bodyStart + 2 + 32
        guard pos < end, let sidLength = c.getUInt8(at: pos), sidLength <= 32 else { return hello }
        pos += 1 + Int(sidLength)
        guard pos + 3 <= end, let suite = c.getUInt16(at: pos) else { return hello }
        hello.cipherSuite = suite
        pos += 3
        guard let ext = walkExtensions(c, at: pos, end: end, { type, dataStart, dataEnd in
            if type == supportedVersionsExtension, dataEnd - dataStart == 2, let v = c.getUInt16(at: dataStart) {
                hello.supportedVersion = v
            }
            // The server names the one protocol it chose (RFC 7301 section 3.1).
            if type == alpnExtension, let (o, n) = list16(c, from: dataStart, to: dataEnd, even: false),
               n >= 2, let nameLength = c.getUInt8(at: o), Int(nameLength) + 1 == n {
                (hello.alpnOffset, hello.alpnLength) = (o + 1, Int(nameLength))
            }
        }) else {
            if pos == declaredEnd { hello.complete = true }
            return hello
        }
        (hello.extensionsOffset, hello.extensionsLength) = (ext.offset, ext.length)
        if ext.complete { hello.complete = true }
        return hello
    }

    /// server_name_list<1..2^16-1> of { name_type(1) HostName<1..2^16-1> }; the first
    /// host_name (type 0) wins.
    static func readServerName(_ c: ByteCursor, from start: Int, to end: Int, into hello: inout TLSClientHello) {
        guard let listLength = c.getUInt16(at: start), start + 2 + Int(listLength) <= end else { return }
        var pos = start + 2
        let listEnd = pos + Int(listLength)
        while pos + 3 <= listEnd {
            guard let nameType = c.getUInt8(at: pos), let nameLength = c.getUInt16(at: pos + 1) else { return }
            let nameStart = pos + 3
            guard nameStart + Int(nameLength) <= listEnd else { return }
            if nameType == 0 && nameLength > 0 {
                hello.sniOffset = nameStart
                hello.sniLength = Int(nameLength)
                return
            }
            pos = nameStart + Int(nameLength)
        }
    }

    /// versions<2..254> in a ClientHello: the highest that is not GREASE.
    static func readSupportedVersions(_ c: ByteCursor, from start: Int, to end: Int, into hello: inout TLSClientHello) {
        guard let listLength = c.getUInt8(at: start), start + 1 + Int(listLength) <= end else { return }
        var pos = start + 1
        let listEnd = pos + Int(listLength)
        hello.supportedVersionsOffset = pos
        hello.supportedVersionsLength = Int(listLength)
        var best: UInt16 = 0
        while pos + 2 <= listEnd {
            if let v = c.getUInt16(at: pos), !isGREASE(v), v > best { best = v }
            pos += 2
        }
        hello.supportedVersion = best
    }

    /// The name of a protocol version: "SSLv3", "TLSv1.0" ... "TLSv1.3", else hex.
    public static func versionName(_ v: UInt16) -> String {
        switch v {
        case 0x0200: return "SSLv2"
        case 0x0300: return "SSLv3"
        case 0x0301: return "TLSv1.0"
        case 0x0302: return "TLSv1.1"
        case 0x0303: return "TLSv1.2"
        case 0x0304: return "TLSv1.3"
        default:
            var s = ByteSink(capacity: 8)
            s.append("0x" as StaticString)
            s.appendHex(UInt64(v), width: 4)
            return s.string
        }
    }
}

/// Where a server's leaf certificate lies in its handshake messages.
public enum TLSCertificateSearch: Sendable, Equatable {
    /// More bytes of the stream are needed.
    case pending
    /// No certificate in the clear: the message after the ServerHello is not a
    /// Certificate (a resumed session, an anonymous suite), or the handshake records
    /// ended before one.
    case absent
    /// The Certificate message does not hold together.
    case malformed
    /// The first certificate_list entry: offset and length of its DER encoding.
    case found(offset: Int, length: Int)
}

extension TLS {
    public static let certificateType: UInt8 = 11

    /// Copies the contents of the handshake records that begin a server's stream (at
    /// `offset`, `length` bytes) into `out`, so that a message split over records reads
    /// as one (RFC 5246 section 6.2.1). True when a record of another type follows them:
    /// the handshake messages in the clear are then all there.
    public static func handshakeBytes(_ c: ByteCursor, at offset: Int, length: Int, into out: inout [UInt8]) -> Bool {
        out.removeAll(keepingCapacity: true)
        let end = Swift.min(offset + length, c.count)
        var pos = offset
        while pos + recordHeaderLength <= end {
            guard c.getUInt8(at: pos) == handshakeContentType, let recordLength = c.getUInt16(at: pos + 3) else {
                return true
            }
            let body = pos + recordHeaderLength
            let bodyEnd = body + Int(recordLength)
            if let b = c.slice(at: body, count: Swift.min(bodyEnd, end) - body) { out.append(contentsOf: b) }
            if bodyEnd > end { return false }
            pos = bodyEnd
        }
        return false
    }

    /// The leaf certificate in a server's handshake messages (as `handshakeBytes` gathers
    /// them, the ServerHello first) of TLS 1.2 and older, where the Certificate message
    /// (RFC 5246 section 7.4.2) directly follows the ServerHello:
    ///
    ///     Certificate: type(1)=11 length(3) certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>
    ///
    /// `ended` says that no more handshake bytes will come.
    public static func leafCertificate(_ h: ByteCursor, ended: Bool) -> TLSCertificateSearch {
        let more: TLSCertificateSearch = ended ? .absent : .pending
        guard let first = h.getUInt8(at: 0), let helloLength = uint24(h, at: 1) else { return more }
        guard first == serverHelloType else { return .absent }
        let next = 4 + helloLength
        guard let type = h.getUInt8(at: next), let messageLength = uint24(h, at: next + 1) else { return more }
        guard type == certificateType else { return .absent }
        let body = next + 4
        guard let listLength = uint24(h, at: body) else { return ended ? .malformed : .pending }
        if listLength == 0 { return .absent }  // a server may send none (RFC 5246 7.4.2)
        guard let certLength = uint24(h, at: body + 3) else { return ended ? .malformed : .pending }
        guard listLength + 3 <= messageLength, certLength > 0, certLength + 3 <= listLength else { return .malformed }
        let start = body + 6
        guard start + certLength <= h.count else { return ended ? .malformed : .pending }
        return .found(offset: start, length: certLength)
    }

    static func uint24(_ c: ByteCursor, at offset: Int) -> Int? {
        guard let high = c.getUInt8(at: offset), let low = c.getUInt16(at: offset + 1) else { return nil }
        return Int(high) << 16 | Int(low)
    }
}
