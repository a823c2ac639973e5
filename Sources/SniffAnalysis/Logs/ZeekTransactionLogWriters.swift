import SniffCore
import SniffDecode

/// Writes Zeek's dns.log: one row per query and response pair (`DNSTransaction`), in
/// Zeek's column order. `Z` is RFC 1035's reserved bit; `rejected` is true for an error
/// response that carries no question; TXT answers are their strings joined by spaces.
public struct ZeekDNSLogWriter: ZeekLogWriter {
    public var format: FlowFormat
    public var logFormat: ZeekLogFormat

    public static let fields = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "trans_id",
                                "rtt", "query", "qclass", "qclass_name", "qtype", "qtype_name", "rcode", "rcode_name",
                                "AA", "TC", "RD", "RA", "Z", "answers", "TTLs", "rejected"]
    public static let types = ["time", "string", "addr", "port", "addr", "port", "enum", "count",
                               "interval", "string", "count", "string", "count", "string", "count", "string",
                               "bool", "bool", "bool", "bool", "count", "vector[string]", "vector[interval]", "bool"]

    public static let path: StaticString = "dns"

    public init(format: FlowFormat = FlowFormat(), logFormat: ZeekLogFormat = .tsv) {
        self.format = format
        self.logFormat = logFormat
    }

    public func write(_ t: DNSTransaction, into s: inout ByteSink) {
        writeRow(t.flow, nanos: t.nanos, into: &s) { row in
            dnsFields(t, into: &row)
        }
    }

    private func dnsFields(_ t: DNSTransaction, into row: inout ZeekRow) {
        row.raw("proto", quoted: true) { $0.append(t.flow.transportName) }
        row.raw("trans_id") { $0.append(decimal: UInt64(t.transID)) }
        row.interval("rtt", t.rttNanos)
        row.string("query", t.query)
        row.count("qclass", t.qclass.map(UInt64.init))
        row.string("qclass_name", t.qclass.map(DNSMessage.className))
        row.count("qtype", t.qtype.map(UInt64.init))
        row.string("qtype_name", t.qtype.map(DNSMessage.typeName))
        row.count("rcode", t.rcode.map(UInt64.init))
        row.string("rcode_name", t.rcode.map(DNSMessage.rcodeName))
        row.bool("AA", t.authoritative)
        row.bool("TC", t.truncated)
        row.bool("RD", t.recursionDesired)
        row.bool("RA", t.recursionAvailable)
        row.raw("Z") { $0.append(decimal: UInt64(t.z)) }
        row.vector("answers", t.answers)
        row.intervals("TTLs", t.ttls.map { Int64($0) * 1_000_000_000 })
        row.bool("rejected", t.rejected)
    }
}

/// Writes Zeek's http.log: one row per request and response pair (`HTTPTransaction`).
/// Zeek's file analysis is not done: the fuid and filename columns stay unset, and the
/// mime type columns carry the media type of each side's Content-Type header (Zeek
/// sniffs the body; for a server that labels its content these agree).
public struct ZeekHTTPLogWriter: ZeekLogWriter {
    public var format: FlowFormat
    public var logFormat: ZeekLogFormat

    public static let fields = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "trans_depth",
                                "method", "host", "uri", "referrer", "version", "user_agent", "origin",
                                "request_body_len", "response_body_len", "status_code", "status_msg", "info_code",
                                "info_msg", "tags", "username", "password", "proxied", "orig_fuids", "orig_filenames",
                                "orig_mime_types", "resp_fuids", "resp_filenames", "resp_mime_types"]
    public static let types = ["time", "string", "addr", "port", "addr", "port", "count",
                               "string", "string", "string", "string", "string", "string", "string",
                               "count", "count", "count", "string", "count",
                               "string", "set[enum]", "string", "string", "set[string]", "vector[string]",
                               "vector[string]", "vector[string]", "vector[string]", "vector[string]",
                               "vector[string]"]

    public static let path: StaticString = "http"

    public init(format: FlowFormat = FlowFormat(), logFormat: ZeekLogFormat = .tsv) {
        self.format = format
        self.logFormat = logFormat
    }

    public func write(_ t: HTTPTransaction, into s: inout ByteSink) {
        writeRow(t.flow, nanos: t.nanos, into: &s) { row in
            httpFields(t, into: &row)
        }
    }

    private func httpFields(_ t: HTTPTransaction, into row: inout ZeekRow) {
        row.raw("trans_depth") { $0.append(decimal: UInt64(t.depth)) }
        row.string("method", t.method)
        row.string("host", t.host)
        row.string("uri", t.uri)
        row.string("referrer", t.referrer)
        row.string("version", t.version)
        row.string("user_agent", t.userAgent)
        row.string("origin", t.origin)
        row.raw("request_body_len") { $0.append(decimal: t.requestBodyLength) }
        row.raw("response_body_len") { $0.append(decimal: t.responseBodyLength) }
        row.count("status_code", t.statusCode.map(UInt64.init))
        row.string("status_msg", t.statusMessage)
        row.count("info_code", t.infoCode.map(UInt64.init))
        row.string("info_msg", t.infoMessage)
        row.emptySet("tags")
        for name in ["username", "password", "proxied", "orig_fuids", "orig_filenames"] { row.string(name, nil) }
        row.vector("orig_mime_types", t.requestContentType.map { [$0] } ?? [])
        row.string("resp_fuids", nil)
        row.string("resp_filenames", nil)
        row.vector("resp_mime_types", t.responseContentType.map { [$0] } ?? [])
    }
}

/// A Zeek log of one kind of record: its `#path`, columns and types, and the header
/// and footer lines that TSV has and JSON lines do not.
public protocol ZeekLogWriter: Sendable {
    static var path: StaticString { get }
    static var fields: [String] { get }
    static var types: [String] { get }
    var format: FlowFormat { get }
    var logFormat: ZeekLogFormat { get }
}

extension ZeekLogWriter {
    /// Appends one row about `flow`: ts (`nanos`), uid and the four id fields, then the
    /// columns `fields` writes.
    func writeRow(_ flow: Flow, nanos: Int64, into s: inout ByteSink, _ fields: (inout ZeekRow) -> Void) {
        var row = ZeekRow(json: logFormat == .json, sink: s)
        s = ByteSink(capacity: 0)
        row.begin()
        row.connection(flow, nanos: nanos, seed: format.uidSeed)
        fields(&row)
        row.end()
        s = row.sink
    }

    public func writeHeader(open: Timestamp, into s: inout ByteSink) {
        guard logFormat == .tsv else { return }
        ZeekConnLogWriter.writeHeader(path: Self.path, fields: Self.fields, types: Self.types, open: open, into: &s)
    }

    public func writeFooter(close: Timestamp, into s: inout ByteSink) {
        guard logFormat == .tsv else { return }
        s.append("#close\t" as StaticString)
        ZeekConnLogWriter.appendLogTime(close, into: &s)
        s.append(0x0A)
    }
}

extension ZeekRow {
    /// ts, uid and the four id fields.
    mutating func connection(_ f: Flow, nanos: Int64, seed: UInt64) {
        raw("ts") { FlowFormat.appendSeconds(nanos, into: &$0) }
        raw("uid", quoted: true) { FlowUID.append(seed: seed, flow: f, into: &$0) }
        raw("id.orig_h", quoted: true) { f.origAddress.write(into: &$0) }
        raw("id.orig_p") { $0.append(decimal: UInt64(f.origPort)) }
        raw("id.resp_h", quoted: true) { f.respAddress.write(into: &$0) }
        raw("id.resp_p") { $0.append(decimal: UInt64(f.respPort)) }
    }

    mutating func count(_ name: String, _ v: UInt64?) {
        guard let v else { string(name, nil); return }
        raw(name) { $0.append(decimal: v) }
    }

    mutating func bool(_ name: String, _ v: Bool) {
        if json {
            raw(name) { $0.append(v ? "true" as StaticString : "false" as StaticString) }
        } else {
            raw(name) { $0.append(v ? UInt8(ascii: "T") : UInt8(ascii: "F")) }
        }
    }

    mutating func interval(_ name: String, _ nanos: Int64?) {
        guard let nanos else { string(name, nil); return }
        raw(name) { FlowFormat.appendSeconds(nanos, into: &$0) }
    }

    mutating func intervals(_ name: String, _ values: [Int64]) {
        guard !values.isEmpty else { string(name, nil); return }
        let json = self.json
        raw(name) { s in
            if json { s.append(UInt8(ascii: "[")) }
            for (i, v) in values.enumerated() {
                if i > 0 { s.append(UInt8(ascii: ",")) }
                FlowFormat.appendSeconds(v, into: &s)
            }
            if json { s.append(UInt8(ascii: "]")) }
        }
    }

    /// A set that is empty, not unset: "(empty)" in TSV, [] in JSON.
    mutating func emptySet(_ name: String) {
        let json = self.json
        raw(name) { $0.append(json ? "[]" as StaticString : "(empty)" as StaticString) }
    }
}
