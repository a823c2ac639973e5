import SniffCore
import SniffDecode
import SniffCapture

/// Writes Zeek's tab-separated conn.log: the `#separator` ... `#types` header, one row
/// per flow, and `#close`, so that zeek-cut and Zeek log parsers read it. Zeek's
/// standard columns come first (`tunnel_parents` set for flows carried in a tunnel), then
/// `community_id` (as the zeek-community-id package adds it) and Sniff's extras, the
/// last of them the names, countries and ASNs of both ends (unset when unknown).
public struct ZeekConnLogWriter: Sendable {
    public var format: FlowFormat

    public static let fields = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service",
                                "duration", "orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp",
                                "missed_bytes", "history", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes",
                                "tunnel_parents", "community_id", "vlan", "app", "app_source", "dns_query", "tls_sni",
                                "http_host", "pid", "process", "user", "container", "orig_name", "resp_name", "orig_cc",
                                "resp_cc", "orig_asn", "resp_asn", "orig_org", "resp_org"]
    public static let types = ["time", "string", "addr", "port", "addr", "port", "enum", "string",
                               "interval", "count", "count", "string", "bool", "bool",
                               "count", "string", "count", "count", "count", "count",
                               "set[string]", "string", "int", "string", "string", "string", "string",
                               "string", "count", "string", "string", "string",
                               "string", "string", "string", "string", "count", "count", "string", "string"]

    public init(format: FlowFormat = FlowFormat()) { self.format = format }

    /// "#open" / "#close" time as Zeek writes it: 2024-01-31-13-45-07 (UTC here).
    static func appendLogTime(_ t: Timestamp, into s: inout ByteSink) {
        var tmp = ByteSink(capacity: 24)
        t.writeUTC(into: &tmp, fractionDigits: 0, suffix: false)
        for b in tmp.bytes { s.append(b == 0x20 || b == 0x3A ? 0x2D : b) }
    }

    public func writeHeader(open: Timestamp, into s: inout ByteSink) {
        ZeekConnLogWriter.writeHeader(path: "conn", fields: ZeekConnLogWriter.fields, types: ZeekConnLogWriter.types,
                                      open: open, into: &s)
    }

    /// The `#` lines Zeek's ASCII writer starts a log with (conn.log, ssl.log ...).
    static func writeHeader(path: StaticString, fields: [String], types: [String], open: Timestamp,
                            into s: inout ByteSink) {
        s.append("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t" as StaticString)
        s.append(path)
        s.append("\n#open\t" as StaticString)
        ZeekConnLogWriter.appendLogTime(open, into: &s)
        s.append("\n#fields" as StaticString)
        for f in fields { s.append(0x09); s.append(f) }
        s.append("\n#types" as StaticString)
        for t in types { s.append(0x09); s.append(t) }
        s.append(0x0A)
    }

    public func writeFooter(close: Timestamp, into s: inout ByteSink) {
        s.append("#close\t" as StaticString)
        ZeekConnLogWriter.appendLogTime(close, into: &s)
        s.append(0x0A)
    }

    /// One row; `process` (live capture) fills the last four columns, else they are unset.
    public func write(_ f: Flow, process: LocalProcess? = nil, into s: inout ByteSink) {
        let tab: UInt8 = 0x09
        FlowFormat.appendSeconds(f.startNanos, into: &s); s.append(tab)
        FlowUID.append(seed: format.uidSeed, flow: f, into: &s); s.append(tab)
        f.origAddress.write(into: &s); s.append(tab)
        s.append(decimal: UInt64(f.origPort)); s.append(tab)
        f.respAddress.write(into: &s); s.append(tab)
        s.append(decimal: UInt64(f.respPort)); s.append(tab)
        s.append(f.transportName); s.append(tab)
        if let service = f.service { s.append(service) } else { s.append(UInt8(ascii: "-")) }
        s.append(tab)
        if FlowFormat.hasDuration(f) {
            FlowFormat.appendSeconds(f.durationNanos, into: &s); s.append(tab)
            s.append(decimal: f.origBytes); s.append(tab)
            s.append(decimal: f.respBytes); s.append(tab)
        } else {
            s.append("-\t-\t-\t" as StaticString)
        }
        s.append(f.connState.name); s.append(tab)
        if format.localNetworks.isEmpty {
            s.append("-\t-\t" as StaticString)
        } else {
            s.append(format.localNetworks.contains(f.origAddress) ? UInt8(ascii: "T") : UInt8(ascii: "F"));
            s.append(tab)
            s.append(format.localNetworks.contains(f.respAddress) ? UInt8(ascii: "T") : UInt8(ascii: "F"));
            s.append(tab)
        }
        s.append(decimal: f.missedBytes); s.append(tab)
        if f.history.isEmpty { s.append(UInt8(ascii: "-")) } else { f.history.write(into: &s) }
        s.append(tab)
        s.append(decimal: UInt64(f.orig.packets)); s.append(tab)
        s.append(decimal: f.orig.ipBytes); s.append(tab)
        s.append(decimal: UInt64(f.resp.packets)); s.append(tab)
        s.append(decimal: f.resp.ipBytes); s.append(tab)
        let d = f.details
        if let t = d.tunnel {
            FlowUID.appendParents(seed: format.uidSeed, t, separator: ",", into: &s)
        } else {
            s.append(UInt8(ascii: "-"))
        }
        s.append(tab)
        CommunityID.append(f.key, seed: format.communityIDSeed, into: &s); s.append(tab)
        if f.key.vlan != 0 { s.append(decimal: UInt64(f.key.vlan)) } else { s.append(UInt8(ascii: "-")) }
        s.append(tab)
        ZeekConnLogWriter.appendEscaped(f.app.name, into: &s); s.append(tab)
        s.append(f.appSource.name); s.append(tab)
        ZeekConnLogWriter.appendOptional(d.dnsQuery, into: &s); s.append(tab)
        ZeekConnLogWriter.appendOptional(d.tlsSNI, into: &s); s.append(tab)
        ZeekConnLogWriter.appendOptional(d.httpHost, into: &s); s.append(tab)
        if let p = process {
            s.append(decimal: UInt64(UInt32(bitPattern: p.pid))); s.append(tab)
            ZeekConnLogWriter.appendEscaped(p.command, into: &s); s.append(tab)
            ZeekConnLogWriter.appendEscaped(p.user, into: &s); s.append(tab)
            ZeekConnLogWriter.appendOptional(p.container, into: &s)
        } else {
            s.append("-\t-\t-\t-" as StaticString)
        }
        let hosts = format.hostPair(f)
        let o = hosts?.orig, r = hosts?.resp
        func asn(_ v: UInt32?) {
            s.append(tab)
            if let v { s.append(decimal: UInt64(v)) } else { s.append(UInt8(ascii: "-")) }
        }
        s.append(tab); ZeekConnLogWriter.appendOptional(o?.displayName, into: &s)
        s.append(tab); ZeekConnLogWriter.appendOptional(r?.displayName, into: &s)
        s.append(tab); ZeekConnLogWriter.appendOptional(o?.geo.countryCode, into: &s)
        s.append(tab); ZeekConnLogWriter.appendOptional(r?.geo.countryCode, into: &s)
        asn(o?.geo.asn)
        asn(r?.geo.asn)
        s.append(tab); ZeekConnLogWriter.appendOptional(o?.geo.organization, into: &s)
        s.append(tab); ZeekConnLogWriter.appendOptional(r?.geo.organization, into: &s)
        s.append(0x0A)
    }

    /// Exposed for tests: the escaping of one string value.
    public static func appendEscapedForTest(_ v: String, into s: inout ByteSink) { appendEscaped(v, into: &s) }

    static func appendOptional(_ v: String?, into s: inout ByteSink) {
        guard let v else { s.append(UInt8(ascii: "-")); return }
        appendEscaped(v, into: &s)
    }

    /// Zeek's ASCII escaping: `\` doubled, non-printable bytes and the separators as
    /// `\xHH`, an empty string as "(empty)" and a lone "-" escaped so it does not read as
    /// unset.
    static func appendEscaped(_ v: String, into s: inout ByteSink) {
        if v.isEmpty { s.append("(empty)" as StaticString); return }
        if v == "-" { s.append("\\x2d" as StaticString); return }
        for b in v.utf8 {
            if b == 0x5C {
                s.append("\\\\" as StaticString)
            } else if b < 0x20 || b == 0x7F {
                s.append("\\x" as StaticString)
                s.appendHex(UInt64(b), width: 2)
            } else {
                s.append(b)
            }
        }
    }
}
