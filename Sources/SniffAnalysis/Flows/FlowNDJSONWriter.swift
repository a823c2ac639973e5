import SniffCore
import SniffDecode
import SniffCapture

/// Writes flows as NDJSON with Zeek's conn.log field names (`id.orig_h` ...), then
/// Sniff's extra fields. Fields Zeek would leave unset are omitted, as in Zeek's own
/// JSON logs.
///
///     {"ts":1700000000.123456,"uid":"C...","id.orig_h":"10.0.0.1","id.orig_p":51000,
///      "id.resp_h":"10.0.0.2","id.resp_p":443,"proto":"tcp","service":"ssl",
///      "duration":1.5,"orig_bytes":517,"resp_bytes":4000,"conn_state":"SF",
///      "local_orig":true,"local_resp":true,"missed_bytes":0,"history":"ShADadFf",
///      "orig_pkts":9,"orig_ip_bytes":1000,"resp_pkts":8,"resp_ip_bytes":4500,
///      "community_id":"1:...","resp_name":"example.com","resp_cc":"US","resp_asn":15133,
///      "resp_org":"Edgecast Inc.","app":"TLS","app_source":"payload","tls_sni":"example.com",...}
///
/// A flow carried in a tunnel adds `tunnel_parents` (Zeek's: the uid of the flow that
/// carried it) before `community_id`, and `tunnel` (its kind) and `tunnel_id` (VNI,
/// GRE key or TEID, when there is one) after `app_source`.
public struct FlowNDJSONWriter: Sendable {
    public var format: FlowFormat
    /// Whether the TLS/QUIC handshake fields are written (a JSON conn.log leaves them to
    /// ssl.log).
    public var handshake: Bool

    /// The names of the host fields (`writeHosts`) and process fields (`writeProcess`):
    /// the store's columns and the API's keys are these too.
    public static let hostFields = ["orig_name", "resp_name", "orig_cc", "resp_cc", "orig_asn", "resp_asn", "orig_org",
                                    "resp_org"]
    public static let processFields = ["pid", "process", "user", "container"]

    public init(format: FlowFormat = FlowFormat(), handshake: Bool = true) {
        self.format = format
        self.handshake = handshake
    }

    /// Appends one line (with its newline). `process` is the local process that owns the
    /// flow's socket (live capture), written as `pid`, `process`, `user`, `container`.
    public func write(_ f: Flow, reason: FlowEndReason? = nil, process: LocalProcess? = nil, into s: inout ByteSink) {
        s.append("{\"ts\":" as StaticString)
        FlowFormat.appendSeconds(f.startNanos, into: &s)
        s.append(",\"uid\":\"" as StaticString)
        FlowUID.append(seed: format.uidSeed, flow: f, into: &s)
        s.append("\",\"id.orig_h\":\"" as StaticString)
        f.origAddress.write(into: &s)
        s.append("\",\"id.orig_p\":" as StaticString)
        s.append(decimal: UInt64(f.origPort))
        s.append(",\"id.resp_h\":\"" as StaticString)
        f.respAddress.write(into: &s)
        s.append("\",\"id.resp_p\":" as StaticString)
        s.append(decimal: UInt64(f.respPort))
        s.append(",\"proto\":\"" as StaticString)
        s.append(f.transportName)
        s.append(UInt8(ascii: "\""))
        if let service = f.service {
            s.append(",\"service\":\"" as StaticString)
            s.append(service)
            s.append(UInt8(ascii: "\""))
        }
        if FlowFormat.hasDuration(f) {
            s.append(",\"duration\":" as StaticString)
            FlowFormat.appendSeconds(f.durationNanos, into: &s)
            s.append(",\"orig_bytes\":" as StaticString)
            s.append(decimal: f.origBytes)
            s.append(",\"resp_bytes\":" as StaticString)
            s.append(decimal: f.respBytes)
        }
        s.append(",\"conn_state\":\"" as StaticString)
        s.append(f.connState.name)
        s.append(UInt8(ascii: "\""))
        if !format.localNetworks.isEmpty {
            s.append(",\"local_orig\":" as StaticString)
            s.append(format.localNetworks.contains(f.origAddress) ? "true" as StaticString : "false")
            s.append(",\"local_resp\":" as StaticString)
            s.append(format.localNetworks.contains(f.respAddress) ? "true" as StaticString : "false")
        }
        s.append(",\"missed_bytes\":" as StaticString)
        s.append(decimal: f.missedBytes)
        if !f.history.isEmpty {
            s.append(",\"history\":\"" as StaticString)
            f.history.write(into: &s)
            s.append(UInt8(ascii: "\""))
        }
        s.append(",\"orig_pkts\":" as StaticString)
        s.append(decimal: UInt64(f.orig.packets))
        s.append(",\"orig_ip_bytes\":" as StaticString)
        s.append(decimal: f.orig.ipBytes)
        s.append(",\"resp_pkts\":" as StaticString)
        s.append(decimal: UInt64(f.resp.packets))
        s.append(",\"resp_ip_bytes\":" as StaticString)
        s.append(decimal: f.resp.ipBytes)
        let d = f.details
        if let t = d.tunnel {
            s.append(",\"tunnel_parents\":[\"" as StaticString)
            FlowUID.appendParents(seed: format.uidSeed, t, separator: "\",\"", into: &s)
            s.append("\"]" as StaticString)
        }
        s.append(",\"community_id\":\"" as StaticString)
        CommunityID.append(f.key, seed: format.communityIDSeed, into: &s)
        s.append(UInt8(ascii: "\""))
        if f.key.vlan != 0 {
            s.append(",\"vlan\":" as StaticString)
            s.append(decimal: UInt64(f.key.vlan))
        }
        if let hosts = format.hostPair(f) { writeHosts(hosts.orig, hosts.resp, into: &s) }
        s.append(",\"app\":\"" as StaticString)
        s.appendJSONEscaped(f.app.name)
        s.append("\",\"app_source\":\"" as StaticString)
        s.append(f.appSource.name)
        s.append(UInt8(ascii: "\""))
        if let t = d.tunnel {
            s.append(",\"tunnel\":\"" as StaticString)
            s.append(t.kind.name)
            s.append(UInt8(ascii: "\""))
            if let id = t.id {
                s.append(",\"tunnel_id\":" as StaticString)
                s.append(decimal: UInt64(id))
            }
        }
        string(",\"dns_query\":\"", d.dnsQuery, &s)
        string(",\"tls_sni\":\"", d.tlsSNI, &s)
        if d.tlsVersion != 0 { string(",\"tls_version\":\"", TLS.versionName(d.tlsVersion), &s) }
        if handshake { writeHandshake(d, into: &s) }
        string(",\"http_host\":\"", d.httpHost, &s)
        if let m = d.httpMethod {
            s.append(",\"http_method\":\"" as StaticString)
            s.append(m.name)
            s.append(UInt8(ascii: "\""))
        }
        string(",\"http_uri\":\"", d.httpPath, &s)
        string(",\"ssh_client\":\"", d.sshClient, &s)
        string(",\"ssh_server\":\"", d.sshServer, &s)
        if let v = d.quicVersion { string(",\"quic_version\":\"", QUIC.versionName(v), &s) }
        if f.isTCP {
            s.append(",\"orig_tcp_flags\":\"" as StaticString)
            TCP.writeFlagLetters(f.orig.tcpFlags, into: &s)
            s.append("\",\"resp_tcp_flags\":\"" as StaticString)
            TCP.writeFlagLetters(f.resp.tcpFlags, into: &s)
            s.append(UInt8(ascii: "\""))
        }
        s.append(",\"orig_l2_bytes\":" as StaticString)
        s.append(decimal: f.orig.wireBytes)
        s.append(",\"resp_l2_bytes\":" as StaticString)
        s.append(decimal: f.resp.wireBytes)
        if let reason {
            s.append(",\"end_reason\":\"" as StaticString)
            s.append(reason.name)
            s.append(UInt8(ascii: "\""))
        }
        if let process { FlowNDJSONWriter.writeProcess(process, into: &s) }
        s.append("}\n" as StaticString)
    }

    static func writeProcess(_ p: LocalProcess, into s: inout ByteSink) {
        s.append(",\"pid\":" as StaticString)
        s.append(decimal: UInt64(UInt32(bitPattern: p.pid)))
        s.append(",\"process\":\"" as StaticString)
        s.appendJSONEscaped(p.command)
        s.append("\",\"user\":\"" as StaticString)
        s.appendJSONEscaped(p.user)
        s.append(UInt8(ascii: "\""))
        if let c = p.container {
            s.append(",\"container\":\"" as StaticString)
            s.appendJSONEscaped(c)
            s.append(UInt8(ascii: "\""))
        }
    }

    /// The TLS handshake facts under ssl.log's names (server_name, version, cipher,
    /// next_protocol, ja3, ja3s, ja4, subject, issuer) and Sniff's for what ssl.log lacks
    /// (client_versions, client_alpn, and the certificate's validity in seconds since 1970:
    /// cert_not_valid_before, cert_not_valid_after). Written only for flows whose hellos
    /// were seen.
    private func writeHandshake(_ d: FlowDetails, into s: inout ByteSink) {
        string(",\"server_name\":\"", d.tlsSNI, &s)
        if d.tlsChosenVersion != 0 {
            string(",\"version\":\"", TLS.logVersionName(d.tlsChosenVersion), &s)
            string(",\"cipher\":\"", TLS.cipherSuiteName(d.tlsCipher), &s)
        }
        string(",\"next_protocol\":\"", d.tlsALPNChosen, &s)
        if !d.tlsOfferedVersions.isEmpty {
            s.append(",\"client_versions\":[" as StaticString)
            for (i, v) in d.tlsOfferedVersions.enumerated() {
                string(i == 0 ? "\"" : ",\"", TLS.logVersionName(v), &s)
            }
            s.append(UInt8(ascii: "]"))
        }
        if !d.tlsALPNOffered.isEmpty {
            s.append(",\"client_alpn\":[" as StaticString)
            for (i, name) in d.tlsALPNOffered.enumerated() { string(i == 0 ? "\"" : ",\"", name, &s) }
            s.append(UInt8(ascii: "]"))
        }
        string(",\"ja3\":\"", d.ja3, &s)
        string(",\"ja3s\":\"", d.ja3s, &s)
        string(",\"ja4\":\"", d.ja4, &s)
        string(",\"subject\":\"", d.tlsSubject, &s)
        string(",\"issuer\":\"", d.tlsIssuer, &s)
        if let t = d.tlsNotBefore { s.append(",\"cert_not_valid_before\":" as StaticString); s.append(decimal: t) }
        if let t = d.tlsNotAfter { s.append(",\"cert_not_valid_after\":" as StaticString); s.append(decimal: t) }
    }

    /// orig_name, resp_name, orig_cc, resp_cc, orig_asn, resp_asn, orig_org, resp_org:
    /// each only when known.
    private func writeHosts(_ o: HostInfo, _ r: HostInfo, into s: inout ByteSink) {
        string(",\"orig_name\":\"", o.displayName, &s)
        string(",\"resp_name\":\"", r.displayName, &s)
        string(",\"orig_cc\":\"", o.geo.countryCode, &s)
        string(",\"resp_cc\":\"", r.geo.countryCode, &s)
        if let asn = o.geo.asn { s.append(",\"orig_asn\":" as StaticString); s.append(decimal: UInt64(asn)) }
        if let asn = r.geo.asn { s.append(",\"resp_asn\":" as StaticString); s.append(decimal: UInt64(asn)) }
        string(",\"orig_org\":\"", o.geo.organization, &s)
        string(",\"resp_org\":\"", r.geo.organization, &s)
    }

    private func string(_ prefix: StaticString, _ value: String?, _ s: inout ByteSink) {
        guard let value else { return }
        s.append(prefix)
        s.appendJSONEscaped(value)
        s.append(UInt8(ascii: "\""))
    }
}
