import SniffCore

/// One application protocol recognised from the payload of a single TCP segment or UDP
/// datagram, whatever its ports.
///
/// A detector is a pure function over the payload's bytes (the cursor covers exactly
/// the captured payload): it reads fixed structure (magic numbers, header fields that
/// must agree with the length, keywords at fixed places) and allocates nothing. It may
/// answer no for a packet of its protocol (a server's reply, a segment in the middle);
/// it must not answer yes for another protocol's packet.
public struct AppDetector: Sendable {
    public enum Transport: UInt8, Sendable {
        case tcp, udp, both

        @inlinable public func includes(udp: Bool) -> Bool { self == .both || (self == .udp) == udp }
    }

    public let app: AppProtocol
    public let transport: Transport
    /// What is checked, for docs/FLOWS.md's table and test messages.
    public let checks: String
    /// Only payloads that open with text (`AppPayload.opensWithText`) can match: the
    /// table skips the detector for the others without calling it.
    @usableFromInline let needsText: Bool
    @usableFromInline let check: @Sendable (inout AppPayload) -> Bool

    /// A detector that reads fixed binary structure.
    public init(_ app: AppProtocol, _ transport: Transport, _ checks: String,
                _ matches: @escaping @Sendable (ByteCursor) -> Bool) {
        self.init(app, transport, checks, opensWithText: false) { matches($0.bytes) }
    }

    /// A detector that may read the payload's first line (`AppPayload.firstLineEnd`),
    /// found once for all the detectors tried on one payload.
    public init(_ app: AppProtocol, _ transport: Transport, _ checks: String, opensWithText: Bool,
                _ matches: @escaping @Sendable (inout AppPayload) -> Bool) {
        self.app = app
        self.transport = transport
        self.checks = checks
        self.needsText = opensWithText
        self.check = matches
    }

    /// True when this detector recognises `payload`.
    public func matches(_ payload: ByteCursor) -> Bool {
        var p = AppPayload(payload)
        return test(&p)
    }

    @inlinable
    func test(_ p: inout AppPayload) -> Bool {
        (!needsText || p.opensWithText) && check(&p)
    }
}

/// One payload as the detectors see it: its bytes, and the end of its first line once a
/// text detector asked for it. Several text detectors need that line; a payload that is
/// printable for a long way without a CRLF (a mid-stream segment of text) would
/// otherwise be scanned up to 2 KB by each of them.
public struct AppPayload {
    public let bytes: ByteCursor
    /// The first three bytes are printable ASCII, as every keyword the text detectors
    /// look for is: a binary or encrypted payload fails this at once (a random one
    /// passes 2 times in 100), and the text detectors are not tried on it.
    public let opensWithText: Bool
    /// -2: not looked for yet; -1: no line; else the CR's index.
    @usableFromInline var lineEnd = -2

    @inlinable public init(_ bytes: ByteCursor) {
        self.bytes = bytes
        var text = bytes.count >= 3
        if text {
            for i in 0..<3 {
                let b = bytes.bytes.load(fromByteOffset: i, as: UInt8.self)
                if b < 0x20 || b > 0x7E { text = false }
            }
        }
        opensWithText = text
    }

    /// The longest first line any detector accepts.
    static let lineLimit = 2048

    /// The end (index of CR) of the first line when it is printable ASCII (tabs allowed)
    /// and ends in CRLF within `limit` (at most `lineLimit`) bytes; nil otherwise.
    mutating func firstLineEnd(limit: Int = 1024) -> Int? {
        if lineEnd == -2 { lineEnd = Bytes.firstLineEnd(bytes, limit: Self.lineLimit) ?? -1 }
        return lineEnd >= 0 && lineEnd < limit ? lineEnd : nil
    }
}

/// The payload detectors, in the order they are tried: the single list the flow table
/// uses, the tests cross-check and docs/FLOWS.md describes. TLS, HTTP, SSH, QUIC and
/// DNS are read by their own parsers first (they also yield details such as the SNI);
/// this table names the rest. Stronger checks (magic numbers, exact lengths) come before
/// text keywords, so that a weak rule never gets to claim a packet a strong one knows.
public enum AppDetectors {
    public static let all: [AppDetector] = [
        // Binary headers with a magic number or an exact length.
        AppDetector(.dhcp, .udp, "BOOTP op 1/2, hlen 6, magic cookie 0x63825363 at offset 236", ServiceDetectors.dhcp),
        AppDetector(
            .stun, .both,
            "message type with the top two bits 0, length = payload - 20, "
                + "magic cookie 0x2112A442", MediaDetectors.stun),
        AppDetector(
            .pptp, .tcp, "length = payload, message type 1 or 2, magic cookie 0x1A2B3C4D", TunnelDetectors.pptp),
        AppDetector(.bgp, .tcp, "16-byte 0xFF marker, length 19...4096, type 1...5", RoutingDetectors.bgp),
        AppDetector(.babel, .udp, "magic 42, version 2, body length within the datagram", RoutingDetectors.babel),
        AppDetector(.postgresql, .tcp, "length then protocol 3.0, SSLRequest, GSSENCRequest or CancelRequest code",
                    DatabaseDetectors.postgresql),
        AppDetector(.mysql, .tcp, "3-byte length = payload - 4, sequence 0, protocol 10, "
                    + "NUL-terminated version starting with a digit", DatabaseDetectors.mysql),
        AppDetector(.mqtt, .tcp, "CONNECT fixed header, remaining length = payload, protocol name MQTT/MQIsdp, "
                    + "level 3...5", MessagingDetectors.mqtt),
        AppDetector(.isakmp, .udp, "initiator SPI non-zero, version 1.0 or 2.0, known exchange type, "
                    + "length = payload (after a non-ESP marker on 4500)", TunnelDetectors.isakmp),
        AppDetector(.vxlan, .udp, "flags 0x08 with zero reserved bytes around the VNI, an Ethernet frame after",
                    TunnelDetectors.vxlan),
        AppDetector(.dhcpv6, .udp, "message type 1...13 with transaction id (or relay header), options tiling "
                    + "the rest", ServiceDetectors.dhcpv6),
        AppDetector(.radius, .udp, "known code, length = payload, attributes fill the rest exactly",
                    ServiceDetectors.radius),
        AppDetector(.snmp, .udp, "BER SEQUENCE, INTEGER version 0/1/3, then community OCTET STRING and PDU tag "
                    + "(v1/v2c) or header SEQUENCE (v3)", DirectoryDetectors.snmp),
        AppDetector(.ldap, .tcp, "BER SEQUENCE = payload, INTEGER message id, LDAP application tag "
                    + "with its length inside", DirectoryDetectors.ldap),
        AppDetector(.kerberos, .both, "APPLICATION 10...13 or 30 covering the message (after a 4-byte record "
                    + "length on TCP), SEQUENCE, pvno 5, msg-type = the tag's number", DirectoryDetectors.kerberos),
        AppDetector(.bittorrent, .tcp, "handshake: 19, \"BitTorrent protocol\", reserved bytes, info hash",
                    MessagingDetectors.bittorrent),
        AppDetector(.netbios, .udp, "NetBIOS name service header and a 32-byte encoded name (A...P), "
                    + "or a datagram service header with one", ServiceDetectors.netbios),
        AppDetector(.openvpn, .udp, "hard-reset opcode and key id, session id, ack array, packet id 0",
                    TunnelDetectors.openvpn),
        AppDetector(.tftp, .udp, "RRQ/WRQ with a NUL-terminated file name and mode netascii/octet/mail, "
                    + "or DATA block 1 / ACK block 0 / OACK", ServiceDetectors.tftp),
        AppDetector(.ntp, .udp, "48-byte header (plus extensions), version 1...4, mode 1...5, stratum <= 16, "
                    + "poll and precision in range", ServiceDetectors.ntp),
        AppDetector(.coap, .udp, "version 1, token length <= 8, a request or response code, options that end "
                    + "at the payload marker or the end", MessagingDetectors.coap),
        AppDetector(.redis, .tcp, "RESP array of bulk strings: *N CRLF $N CRLF", DatabaseDetectors.redis),
        AppDetector(.socks, .tcp, "SOCKS5 greeting (version 5, method count = payload - 2) or SOCKS4 "
                    + "CONNECT/BIND ending in a NUL user id", TunnelDetectors.socks),
        AppDetector(.telnet, .tcp, "starts with two option negotiations: IAC (0xFF), DO/DONT/WILL/WONT or SB",
                    TextDetectors.telnet),
        // Text protocols: a command or greeting line, ending in CRLF, at the start.
        AppDetector(.http, .tcp, "HTTP/2 connection preface \"PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n\" "
                    + "(HTTP/1.x requests are read by the HTTP parser first)", TextDetectors.http2),
        AppDetector(.sip, .both, "request line \"METHOD sip:... SIP/2.0\" or status line \"SIP/2.0 NNN \"",
                    opensWithText: true, MediaDetectors.sip),
        AppDetector(.rtsp, .tcp, "request line \"METHOD URI RTSP/1.0\" or status line \"RTSP/1.0 NNN \"",
                    opensWithText: true, MediaDetectors.rtsp),
        AppDetector(.ssdp, .udp, "\"M-SEARCH * HTTP/1.1\" or \"NOTIFY * HTTP/1.1\" request line", MediaDetectors.ssdp),
        AppDetector(.syslog, .udp, "<PRI> (0...191) then RFC 5424 version 1 or an RFC 3164 month",
                    ServiceDetectors.syslog),
        AppDetector(.smtp, .tcp, "\"EHLO \"/\"HELO \" command line, or a 220 greeting naming SMTP", opensWithText: true,
                    TextDetectors.smtp),
        AppDetector(.ftp, .tcp, "a 220 greeting naming FTP, 331/230/257 replies, or PASV/EPSV/PWD/SYST/FEAT/TYPE",
                    opensWithText: true, TextDetectors.ftp),
        AppDetector(.imap, .tcp, "\"* OK \"/\"* PREAUTH \" greeting, or tag + CAPABILITY/LOGIN/AUTHENTICATE/"
                    + "STARTTLS/SELECT", opensWithText: true, TextDetectors.imap),
        AppDetector(.pop, .tcp, "\"+OK \" greeting line, or CAPA/STLS/STAT/UIDL/APOP", opensWithText: true,
                    TextDetectors.pop3),
        AppDetector(.irc, .tcp, "\"NICK \"/\"CAP LS\"/\"CAP REQ \" line, or \":prefix\" then a 3-digit reply or "
                    + "NOTICE on a CRLF line", opensWithText: true, MessagingDetectors.irc),
        AppDetector(.xmpp, .tcp, "\"<stream:stream\" (after an optional <?xml ...?>) declaring jabber:client or "
                    + "jabber:server", MessagingDetectors.xmpp),
        AppDetector(.memcached, .tcp, "text command (get/set/stats/version...) or reply (VALUE/STAT/VERSION) line, "
                    + "or binary magic 0x80/0x81 with a 24-byte header", opensWithText: false,
                    DatabaseDetectors.memcached),
    ]

    /// The detectors tried on TCP and on UDP payloads, in `all`'s order.
    public static let tcp: [AppDetector] = all.filter { $0.transport.includes(udp: false) }
    public static let udp: [AppDetector] = all.filter { $0.transport.includes(udp: true) }

    /// The protocols this table names (for docs and tests).
    public static var protocols: [AppProtocol] { all.map(\.app) }

    /// The first detector that recognises `payload`, or nil.
    @inlinable
    public static func detect(_ payload: ByteCursor, udp: Bool) -> AppProtocol? {
        guard payload.count > 0 else { return nil }
        var p = AppPayload(payload)
        // Read in place: `for d in` copied each detector, a retain and a release of its
        // description and its closure per detector tried, per payload.
        return (udp ? AppDetectors.udp : AppDetectors.tcp).withUnsafeBufferPointer { table in
            for i in table.indices where table[i].test(&p) { return table[i].app }
            return nil
        }
    }
}

/// Byte helpers shared by the detectors: nothing here traps on short input.
enum Bytes {
    /// True when the payload has `s` at `offset`.
    @inline(__always)
    static func has(_ c: ByteCursor, _ s: StaticString, at offset: Int = 0) -> Bool {
        let n = s.utf8CodeUnitCount
        guard offset >= 0, c.has(n, at: offset) else { return false }
        return s.withUTF8Buffer { bytes in
            for i in 0..<n where c.getUInt8(at: offset + i) != bytes[i] { return false }
            return true
        }
    }

    /// True when the payload has `s` at `offset`, ignoring ASCII case.
    static func hasCaseless(_ c: ByteCursor, _ s: StaticString, at offset: Int) -> Bool {
        let n = s.utf8CodeUnitCount
        guard offset >= 0, c.has(n, at: offset) else { return false }
        return s.withUTF8Buffer { bytes in
            for i in 0..<n {
                guard let b = c.getUInt8(at: offset + i), b | 0x20 == bytes[i] | 0x20 else { return false }
            }
            return true
        }
    }

    /// The end (index of CR) of the first line when it is printable ASCII (tabs allowed)
    /// and ends in CRLF within `limit` bytes; nil otherwise.
    static func firstLineEnd(_ c: ByteCursor, from start: Int = 0, limit: Int = 1024) -> Int? {
        var i = start
        let end = Swift.min(c.count, start + limit)
        while i < end, let b = c.getUInt8(at: i) {
            if b == 0x0D { return c.getUInt8(at: i + 1) == 0x0A ? i : nil }
            guard (b >= 0x20 && b < 0x7F) || b == 0x09 else { return nil }
            i += 1
        }
        return nil
    }

    /// True when `s` occurs in bytes [from, to), ignoring ASCII case.
    static func contains(_ c: ByteCursor, _ s: StaticString, from: Int, to: Int) -> Bool {
        let n = s.utf8CodeUnitCount
        var i = from
        while i + n <= to {
            if hasCaseless(c, s, at: i) { return true }
            i += 1
        }
        return false
    }

    /// Decimal digits at `offset`: their value and count (at most 9 digits), or nil.
    static func decimal(_ c: ByteCursor, at offset: Int) -> (value: Int, count: Int)? {
        var v = 0, n = 0
        while n < 9, let b = c.getUInt8(at: offset + n), b >= 0x30, b <= 0x39 {
            v = v * 10 + Int(b - 0x30)
            n += 1
        }
        return n > 0 ? (v, n) : nil
    }

    /// A BER length at `offset`: the value and the number of bytes it took (definite
    /// form, at most 4 length bytes).
    static func berLength(_ c: ByteCursor, at offset: Int) -> (value: Int, size: Int)? {
        guard let first = c.getUInt8(at: offset) else { return nil }
        if first < 0x80 { return (Int(first), 1) }
        let n = Int(first & 0x7F)
        guard n >= 1, n <= 4 else { return nil }
        var v = 0
        for i in 1...n {
            guard let b = c.getUInt8(at: offset + i) else { return nil }
            v = v << 8 | Int(b)
        }
        return (v, 1 + n)
    }
}

/// Keywords a detector looks for at one place, with a bitmap of the bytes they can
/// begin with: a payload whose byte there begins none of them (nearly every payload)
/// is ruled out by one test, before any keyword is compared. The answer is the same as
/// comparing each keyword in order.
struct Keywords {
    let words: [StaticString]
    let caseless: Bool
    /// Bit b of word b >> 6: some keyword can match a payload whose byte is b.
    private let firstBytes: (UInt64, UInt64, UInt64, UInt64)

    init(_ words: [StaticString], caseless: Bool = false) {
        self.words = words
        self.caseless = caseless
        var m: [UInt64] = [0, 0, 0, 0]
        func mark(_ b: UInt8) { m[Int(b >> 6)] |= 1 << UInt64(b & 63) }
        for w in words where w.utf8CodeUnitCount > 0 {
            let b = w.utf8Start.pointee
            mark(b)
            // `Bytes.hasCaseless` compares b | 0x20: both bytes that give the same
            // value (a letter's two cases) match it.
            if caseless { mark(b | 0x20); mark((b | 0x20) & ~0x20) }
        }
        firstBytes = (m[0], m[1], m[2], m[3])
    }

    /// The first keyword (in order) at `offset`, or nil.
    @inline(__always)
    func first(in c: ByteCursor, at offset: Int = 0) -> StaticString? {
        guard let b = c.getUInt8(at: offset) else { return nil }
        let word: UInt64
        switch b >> 6 {
        case 0: word = firstBytes.0
        case 1: word = firstBytes.1
        case 2: word = firstBytes.2
        default: word = firstBytes.3
        }
        guard word & (1 << UInt64(b & 63)) != 0 else { return nil }
        for w in words where caseless ? Bytes.hasCaseless(c, w, at: offset) : Bytes.has(c, w, at: offset) {
            return w
        }
        return nil
    }
}
