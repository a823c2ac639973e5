import SniffCore
import SniffDecode

/// How `--logs` writes a Zeek log: TSV with Zeek's `#` header lines, or one JSON object
/// per line as Zeek's JSON writer does (unset fields left out, times as epoch seconds).
public enum ZeekLogFormat: String, Sendable, CaseIterable {
    case tsv
    case json
}

/// Writes Zeek's ssl.log for the flows whose TLS or QUIC handshake was seen: one row per
/// flow, at its end. Zeek's standard columns come first, unset (`-`) where Sniff does not
/// know the value (curve, resumption, alerts, completion, certificate hashes); `subject`
/// and `issuer` (Zeek's names, from the server's leaf certificate, which TLS 1.2 and
/// older send in the clear) as RFC 4514 strings; then `ja3`, `ja3s` and `ja4` (as Zeek's
/// ja3 and ja4 packages add them) and Sniff's `client_versions`, `client_alpn`,
/// `quic_version`, and the certificate's `cert_not_valid_before` and
/// `cert_not_valid_after` (x509.log's certificate.not_valid_before/after, as times).
/// `ts` is the flow's start.
public struct ZeekSSLLogWriter: ZeekLogWriter {
    public var format: FlowFormat
    public var logFormat: ZeekLogFormat

    public static let path: StaticString = "ssl"
    public static let fields = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "version", "cipher",
                                "curve", "server_name", "resumed", "last_alert", "next_protocol", "established",
                                "ssl_history", "cert_chain_fps", "client_cert_chain_fps", "sni_matches_cert",
                                "subject", "issuer", "ja3", "ja3s", "ja4", "client_versions", "client_alpn",
                                "quic_version", "cert_not_valid_before", "cert_not_valid_after"]
    public static let types = ["time", "string", "addr", "port", "addr", "port", "string", "string",
                               "string", "string", "bool", "string", "string", "bool",
                               "string", "vector[string]", "vector[string]", "bool",
                               "string", "string", "string", "string", "string", "vector[string]", "vector[string]",
                               "string", "time", "time"]

    public init(format: FlowFormat = FlowFormat(), logFormat: ZeekLogFormat = .tsv) {
        self.format = format
        self.logFormat = logFormat
    }

    /// True when the flow has something for ssl.log: a ClientHello or a ServerHello.
    public static func hasHandshake(_ f: Flow) -> Bool {
        let d = f.details
        return d.ja3 != nil || d.tlsSNI != nil || d.tlsChosenVersion != 0
    }


    /// Appends the flow's row, or nothing when it had no handshake.
    public func write(_ f: Flow, into s: inout ByteSink) {
        guard Self.hasHandshake(f) else { return }
        writeRow(f, nanos: f.startNanos, into: &s) { row in
            handshakeFields(f.details, into: &row)
        }
    }

    private func handshakeFields(_ d: FlowDetails, into row: inout ZeekRow) {
        row.string("version", d.tlsChosenVersion != 0 ? TLS.logVersionName(d.tlsChosenVersion) : nil)
        row.string("cipher", d.tlsChosenVersion != 0 ? TLS.cipherSuiteName(d.tlsCipher) : nil)
        row.string("curve", nil)
        row.string("server_name", d.tlsSNI)
        row.string("resumed", nil)
        row.string("last_alert", nil)
        row.string("next_protocol", d.tlsALPNChosen)
        for name in ["established", "ssl_history", "cert_chain_fps", "client_cert_chain_fps", "sni_matches_cert"] {
            row.string(name, nil)
        }
        row.string("subject", d.tlsSubject)
        row.string("issuer", d.tlsIssuer)
        row.string("ja3", d.ja3)
        row.string("ja3s", d.ja3s)
        row.string("ja4", d.ja4)
        row.vector("client_versions", d.tlsOfferedVersions.map { TLS.logVersionName($0) })
        row.vector("client_alpn", d.tlsALPNOffered)
        row.string("quic_version", d.quicVersion.map { QUIC.versionName($0) })
        row.seconds("cert_not_valid_before", d.tlsNotBefore)
        row.seconds("cert_not_valid_after", d.tlsNotAfter)
    }
}

/// One row of a Zeek log being written, in TSV (tab-separated, `-` for unset, sets and
/// vectors comma-joined, Zeek's escaping) or JSON (unset fields omitted, vectors as
/// arrays).
struct ZeekRow {
    let json: Bool
    var sink: ByteSink
    private var first = true

    init(json: Bool, sink: ByteSink) {
        self.json = json
        self.sink = sink
    }

    mutating func begin() { if json { sink.append(UInt8(ascii: "{")) } }

    mutating func end() {
        if json { sink.append(UInt8(ascii: "}")) }
        sink.append(0x0A)
    }

    private mutating func key(_ name: String) {
        if json {
            if !first { sink.append(UInt8(ascii: ",")) }
            sink.append(UInt8(ascii: "\""))
            sink.append(name)
            sink.append("\":" as StaticString)
        } else if !first {
            sink.append(0x09)
        }
        first = false
    }

    /// A value rendered by `body`: numbers, addresses and uids (never escaped).
    mutating func raw(_ name: String, quoted: Bool = false, _ body: (inout ByteSink) -> Void) {
        key(name)
        if json && quoted { sink.append(UInt8(ascii: "\"")) }
        body(&sink)
        if json && quoted { sink.append(UInt8(ascii: "\"")) }
    }

    mutating func string(_ name: String, _ v: String?) {
        guard let v else {
            if !json { key(name); sink.append(UInt8(ascii: "-")) }
            return
        }
        key(name)
        if json {
            sink.append(UInt8(ascii: "\""))
            sink.appendJSONEscaped(v)
            sink.append(UInt8(ascii: "\""))
        } else {
            ZeekConnLogWriter.appendEscaped(v, into: &sink)
        }
    }

    /// A time in whole seconds since 1970 (certificates reach past what nanoseconds
    /// in 64 bits hold), written as Zeek writes a time.
    mutating func seconds(_ name: String, _ v: Int64?) {
        guard let v else {
            if !json { key(name); sink.append(UInt8(ascii: "-")) }
            return
        }
        key(name)
        sink.append(decimal: v)
        sink.append(".000000" as StaticString)
    }

    mutating func vector(_ name: String, _ items: [String]) {
        guard !items.isEmpty else {
            if !json { key(name); sink.append(UInt8(ascii: "-")) }
            return
        }
        key(name)
        if json { sink.append(UInt8(ascii: "[")) }
        for (i, item) in items.enumerated() {
            if i > 0 { sink.append(UInt8(ascii: ",")) }
            if json {
                sink.append(UInt8(ascii: "\""))
                sink.appendJSONEscaped(item)
                sink.append(UInt8(ascii: "\""))
            } else {
                // The set separator inside an element is escaped, as Zeek does.
                var escaped = ByteSink(capacity: item.utf8.count + 4)
                ZeekConnLogWriter.appendEscaped(item, into: &escaped)
                for b in escaped.bytes {
                    if b == UInt8(ascii: ",") { sink.append("\\x2c" as StaticString) } else { sink.append(b) }
                }
            }
        }
        if json { sink.append(UInt8(ascii: "]")) }
    }
}
