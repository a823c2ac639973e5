import SniffCore
import SniffDecode
import SniffAnalysis

/// The protocol logs kept in the store: one table each, one row per DNS query and
/// response pair (dns.log), per HTTP request and response pair (http.log), and per
/// flow with a TLS or QUIC handshake (ssl.log). Columns carry Zeek's field names
/// (lower case; `id.orig_h` is `orig_h` as in the flows table); times are nanoseconds.
public enum LogKind: String, Sendable, CaseIterable, Equatable {
    case dns
    case http
    case tls

    /// The table (and the API path's last part).
    public var table: String { rawValue }

    /// The columns after the ones every log has (`LogRow.commonColumns`), in the
    /// order of `LogRow.values`: the one list each backend, the journal and the API
    /// read their shape from.
    public var columns: [LogColumn] {
        switch self {
        case .dns: return LogKind.dnsColumns
        case .http: return LogKind.httpColumns
        case .tls: return LogKind.tlsColumns
        }
    }

    private static let dnsColumns: [LogColumn] = [
        .init("trans_id", .int), .init("rtt_ns", .int), .init("query", .text), .init("qclass", .int),
        .init("qclass_name", .text), .init("qtype", .int), .init("qtype_name", .text), .init("rcode", .int),
        .init("rcode_name", .text), .init("aa", .bool), .init("tc", .bool), .init("rd", .bool), .init("ra", .bool),
        .init("z", .int), .init("answers", .texts), .init("ttls", .ints), .init("rejected", .bool),
    ]
    private static let httpColumns: [LogColumn] = [
        .init("trans_depth", .int), .init("method", .text), .init("host", .text), .init("uri", .text),
        .init("referrer", .text), .init("version", .text), .init("user_agent", .text), .init("origin", .text),
        .init("request_body_len", .int), .init("response_body_len", .int), .init("status_code", .int),
        .init("status_msg", .text), .init("info_code", .int), .init("info_msg", .text),
        .init("orig_mime_types", .texts), .init("resp_mime_types", .texts),
    ]
    private static let tlsColumns: [LogColumn] = [
        .init("version", .text), .init("cipher", .text), .init("server_name", .text), .init("next_protocol", .text),
        .init("ja3", .text), .init("ja3s", .text), .init("ja4", .text), .init("client_versions", .texts),
        .init("client_alpn", .texts), .init("quic_version", .text),
    ] + tlsCertificateColumns
    /// The server certificate's (schema version `Schema.tlsCertificateVersion`): subject
    /// and issuer as RFC 4514 strings, validity in seconds since 1970 (certificates reach
    /// years past what nanoseconds hold).
    static let tlsCertificateColumns: [LogColumn] = [
        .init("subject", .text), .init("issuer", .text), .init("cert_not_valid_before", .int),
        .init("cert_not_valid_after", .int),
    ]

    /// The columns the table was made with (schema 12, ClickHouse's at 14); later
    /// versions add the rest of `columns`.
    var createdColumns: [LogColumn] {
        self == .tls ? Array(columns.dropLast(LogKind.tlsCertificateColumns.count)) : columns
    }

    /// The text column that `LogQuery.text` searches: the DNS query, the HTTP host, the
    /// TLS server name.
    public var textColumn: String {
        switch self {
        case .dns: return "query"
        case .http: return "host"
        case .tls: return "server_name"
        }
    }

    /// The journal's number for the kind.
    var code: UInt8 {
        switch self {
        case .dns: return 0
        case .http: return 1
        case .tls: return 2
        }
    }

    init?(code: UInt8) {
        switch code {
        case 0: self = .dns
        case 1: self = .http
        case 2: self = .tls
        default: return nil
        }
    }
}

/// One column of a protocol log.
public struct LogColumn: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case int
        case text
        case bool
        /// A vector of strings (Zeek's vector[string]).
        case texts
        /// A vector of integers (the DNS TTLs in seconds).
        case ints
    }
    public var name: String
    public var kind: Kind
    public init(_ name: String, _ kind: Kind) { self.name = name; self.kind = kind }
}

/// A value of a protocol log's column. Vectors are kept in the databases as their items
/// joined by commas, a comma inside an item written `\x2c` and a backslash `\\` (as
/// Zeek's TSV writes a set), NULL when empty.
public enum LogValue: Sendable, Equatable {
    case null
    case int(Int64)
    case text(String)
    case bool(Bool)
    case list([String])

    public var intValue: Int64? { if case .int(let v) = self { return v } else { return nil } }
    public var textValue: String? { if case .text(let v) = self { return v } else { return nil } }
    public var boolValue: Bool? { if case .bool(let v) = self { return v } else { return nil } }
    public var listValue: [String] { if case .list(let v) = self { return v } else { return [] } }

    static func number<T: BinaryInteger>(_ v: T?) -> LogValue { v.map { .int(Int64(clamping: $0)) } ?? .null }
    /// Packet-derived text is cleaned as every stored string is (`StoreText.clean`).
    static func string(_ v: String?) -> LogValue { v.map { .text(StoreText.clean($0)) } ?? .null }
    static func strings(_ v: [String]) -> LogValue {
        guard !v.isEmpty else { return .null }
        // Lists seldom hold a NUL: kept as they are then, without a new array per row.
        return v.contains(where: { $0.utf8.contains(0) }) ? .list(v.map(StoreText.clean)) : .list(v)
    }

    /// The database's text for a vector.
    static func joined(_ items: [String]) -> String {
        var out = ByteSink(capacity: 64)
        append(joined: items, into: &out)
        return out.string
    }

    /// `joined`'s bytes, appended to `out`. Byte by byte: the two bytes escaped are
    /// ASCII, which UTF-8 never uses inside a longer sequence.
    static func append(joined items: [String], into out: inout ByteSink) {
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            for b in item.utf8 {
                switch b {
                case UInt8(ascii: "\\"): out.append("\\\\" as StaticString)
                case UInt8(ascii: ","): out.append("\\x2c" as StaticString)
                default: out.append(b)
                }
            }
        }
    }

    /// A vector back from its database text.
    static func split(_ text: String) -> [String] {
        guard !text.isEmpty else { return [] }
        var items: [String] = []
        var item = ""
        var scalars = text.unicodeScalars.makeIterator()
        while let c = scalars.next() {
            if c == "," {
                items.append(item); item = ""
            } else if c == "\\" {
                guard let n = scalars.next() else { item.unicodeScalars.append(c); break }
                if n == "x" {
                    // Only "\x2c" is written; anything else is kept as it stands.
                    let a = scalars.next(), b = scalars.next()
                    if a == "2" && b == "c" {
                        item += ","
                    } else {
                        item += "\\x"
                        if let a { item.unicodeScalars.append(a) }
                        if let b { item.unicodeScalars.append(b) }
                    }
                } else {
                    item.unicodeScalars.append(n)
                }
            } else {
                item.unicodeScalars.append(c)
            }
        }
        items.append(item)
        return items
    }
}

/// One row of a protocol log: the connection it belongs to, then `kind.columns`'
/// values in order.
public struct LogRow: Sendable, Equatable {
    /// Every log's first columns, after `capture_id` and `sensor`.
    public static let commonColumns = ["ts", "uid", "orig_h", "orig_p", "resp_h", "resp_p", "proto"]

    public var kind: LogKind
    public var ts: Int64
    public var uid: String
    public var origH: IPAddress
    public var origP: UInt16
    public var respH: IPAddress
    public var respP: UInt16
    /// "tcp" or "udp".
    public var proto: String
    public var values: [LogValue]

    public init(kind: LogKind, ts: Int64, uid: String, origH: IPAddress, origP: UInt16, respH: IPAddress, respP: UInt16,
                proto: String, values: [LogValue]) {
        self.kind = kind; self.ts = ts; self.uid = uid; self.origH = origH; self.origP = origP
        self.respH = respH; self.respP = respP; self.proto = proto; self.values = values
    }

    /// The value of a column of `kind.columns` by name (nil for another name).
    public subscript(_ name: String) -> LogValue? {
        guard let i = kind.columns.firstIndex(where: { $0.name == name }), i < values.count else { return nil }
        return values[i]
    }
}

/// A stored protocol log row with the capture it came from.
public struct StoredLog: Sendable, Equatable {
    public var sensor: String
    public var captureID: Int64
    public var row: LogRow
    public init(sensor: String, captureID: Int64, row: LogRow) {
        self.sensor = sensor; self.captureID = captureID; self.row = row
    }
}

extension RowBuilder {
    /// `uid` is the flow's uid when the caller has it already (it is made otherwise).
    private func connection(_ kind: LogKind, _ f: Flow, ts: Int64, uid: String? = nil, _ values: [LogValue]) -> LogRow {
        LogRow(kind: kind, ts: ts, uid: uid ?? FlowUID.string(seed: format.uidSeed, flow: f), origH: f.origAddress,
               origP: f.origPort, respH: f.respAddress, respP: f.respPort,
               proto: f.transportName.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }, values: values)
    }

    /// dns.log's row, with the values `ZeekDNSLogWriter` writes; `uid` as for `connection`.
    public func row(from t: DNSTransaction, uid: String? = nil) -> LogRow {
        connection(.dns, t.flow, ts: t.nanos, uid: uid, [
            .number(Int64(t.transID)), .number(t.rttNanos), .string(t.query),
            .number(t.qclass), .string(t.qclass.map(DNSMessage.className)),
            .number(t.qtype), .string(t.qtype.map(DNSMessage.typeName)),
            .number(t.rcode), .string(t.rcode.map(DNSMessage.rcodeName)),
            .bool(t.authoritative), .bool(t.truncated), .bool(t.recursionDesired), .bool(t.recursionAvailable),
            .number(Int64(t.z)), .strings(t.answers), .strings(t.ttls.map { String($0) }), .bool(t.rejected),
        ])
    }

    /// http.log's row, with the values `ZeekHTTPLogWriter` writes; `uid` as for `connection`.
    public func row(from t: HTTPTransaction, uid: String? = nil) -> LogRow {
        connection(.http, t.flow, ts: t.nanos, uid: uid, [
            .number(Int64(t.depth)), .string(t.method), .string(t.host), .string(t.uri), .string(t.referrer), .string(t.version),
            .string(t.userAgent), .string(t.origin), .number(t.requestBodyLength), .number(t.responseBodyLength),
            .number(t.statusCode), .string(t.statusMessage), .number(t.infoCode), .string(t.infoMessage),
            .strings(t.requestContentType.map { [$0] } ?? []), .strings(t.responseContentType.map { [$0] } ?? []),
        ])
    }

    /// ssl.log's row for a flow whose handshake was seen (nil otherwise), with the
    /// values `ZeekSSLLogWriter` writes.
    public func tlsRow(from f: Flow) -> LogRow? {
        guard ZeekSSLLogWriter.hasHandshake(f) else { return nil }
        let d = f.details
        return connection(.tls, f, ts: f.startNanos, [
            .string(d.tlsChosenVersion != 0 ? TLS.logVersionName(d.tlsChosenVersion) : nil),
            .string(d.tlsChosenVersion != 0 ? TLS.cipherSuiteName(d.tlsCipher) : nil),
            .string(d.tlsSNI), .string(d.tlsALPNChosen), .string(d.ja3), .string(d.ja3s), .string(d.ja4),
            .strings(d.tlsOfferedVersions.map { TLS.logVersionName($0) }), .strings(d.tlsALPNOffered),
            .string(d.quicVersion.map { QUIC.versionName($0) }),
            .string(d.tlsSubject), .string(d.tlsIssuer), .number(d.tlsNotBefore), .number(d.tlsNotAfter),
        ])
    }
}
