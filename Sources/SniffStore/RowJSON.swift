import SniffCore
import SniffDecode
import SniffAnalysis

/// JSON for stored rows, with the NDJSON contract's field names (`sniff --json` for
/// packets, the flows writer's for flows), plus `sensor`, `capture` and `flow_uid`.
/// Fields a row lacks are left out; a packet's fields are written by the same
/// `PacketJSONWriter` as the NDJSON's.
extension StoredPacket {
    public func writeJSON(into s: inout ByteSink) {
        var writer = PacketJSONWriter()
        writer.writeFields(PacketRowFields(row: row), into: &s)
        if row.has(.flowUID), let u = row.flowUID {
            s.append(",\"flow_uid\":\"" as StaticString); s.appendJSONEscaped(u); s.append(0x22)
        }
        s.append(",\"sensor\":\"" as StaticString); s.appendJSONEscaped(sensor)
        // Ids as strings: capture ids are random 63-bit numbers, which JavaScript (and
        // jq) would round to the nearest double.
        s.append("\",\"capture\":\"" as StaticString); s.append(decimal: captureID); s.append(0x22)
        s.append(0x7D)
    }

    public var json: String {
        var s = ByteSink(capacity: 512)
        writeJSON(into: &s)
        return s.string
    }
}

extension StoredFlow {
    public func writeJSON(into s: inout ByteSink) {
        let f = row
        func str(_ name: StaticString, _ v: String?) {
            guard let v else { return }
            s.append(",\"" as StaticString); s.append(name); s.append("\":\"" as StaticString); s.appendJSONEscaped(v);
            s.append(0x22)
        }
        func num(_ name: StaticString, _ v: UInt64?) {
            guard let v else { return }
            s.append(",\"" as StaticString); s.append(name); s.append("\":" as StaticString); s.append(decimal: v)
        }
        // A comma-separated column as a JSON array of strings, as --flows writes it.
        func list(_ name: StaticString, _ v: String?) {
            guard let v else { return }
            s.append(",\"" as StaticString); s.append(name); s.append("\":[" as StaticString)
            for (i, item) in v.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
                s.append(i == 0 ? "\"" as StaticString : ",\"")
                s.appendJSONEscaped(String(item))
                s.append(0x22)
            }
            s.append(0x5D)
        }
        func seconds(_ name: StaticString, _ nanos: Int64) {
            s.append(",\"" as StaticString); s.append(name); s.append("\":" as StaticString)
            s.appendEpoch(Timestamp(totalNanoseconds: nanos))
        }
        s.append("{" as StaticString)
        s.append("\"ts\":" as StaticString); s.appendEpoch(Timestamp(totalNanoseconds: f.ts))
        str("uid", f.uid)
        str("id.orig_h", f.origH.description); num("id.orig_p", UInt64(f.origP))
        str("id.resp_h", f.respH.description); num("id.resp_p", UInt64(f.respP))
        str("proto", f.proto); str("service", f.service)
        if let d = f.durationNanos { seconds("duration", d) }
        num("orig_bytes", f.origBytes); num("resp_bytes", f.respBytes)
        str("conn_state", f.connState)
        if let l = f.localOrig { s.append(l ? ",\"local_orig\":true" as StaticString : ",\"local_orig\":false") }
        if let l = f.localResp { s.append(l ? ",\"local_resp\":true" as StaticString : ",\"local_resp\":false") }
        num("missed_bytes", f.missedBytes); str("history", f.history)
        num("orig_pkts", f.origPkts); num("orig_ip_bytes", f.origIPBytes)
        num("resp_pkts", f.respPkts); num("resp_ip_bytes", f.respIPBytes)
        // A carried flow's tunnel, where the flows NDJSON writes it (`tunnel_parents` a
        // list, as Zeek's set).
        list("tunnel_parents", f.tunnelParents)
        str("community_id", f.communityID); num("vlan", f.vlan.map { UInt64($0) })
        // FlowNDJSONWriter.hostFields, in its order.
        str("orig_name", f.origName); str("resp_name", f.respName); str("orig_cc", f.origCC); str("resp_cc", f.respCC)
        num("orig_asn", f.origASN.map { UInt64($0) }); num("resp_asn", f.respASN.map { UInt64($0) })
        str("orig_org", f.origOrg); str("resp_org", f.respOrg)
        str("app", f.app); str("app_source", f.appSource)
        str("tunnel", f.tunnel); num("tunnel_id", f.tunnelID.map { UInt64($0) })
        str("dns_query", f.dnsQuery); str("tls_sni", f.tlsSNI); str("tls_version", f.tlsVersion)
        str("http_host", f.httpHost); str("http_method", f.httpMethod); str("http_uri", f.httpURI)
        str("ssh_client", f.sshClient); str("ssh_server", f.sshServer); str("quic_version", f.quicVersion)
        str("server_name", f.tlsSNI); str("version", f.tlsChosenVersion); str("cipher", f.tlsCipher)
        str("next_protocol", f.tlsNextProtocol)
        list("client_versions", f.tlsClientVersions); list("client_alpn", f.tlsClientALPN)
        str("ja3", f.ja3); str("ja3s", f.ja3s); str("ja4", f.ja4)
        str("orig_tcp_flags", f.origTCPFlags); str("resp_tcp_flags", f.respTCPFlags)
        num("orig_l2_bytes", f.origL2Bytes); num("resp_l2_bytes", f.respL2Bytes)
        str("end_reason", f.endReason)
        // FlowNDJSONWriter.processFields.
        num("pid", f.pid.map { UInt64(UInt32(bitPattern: $0)) }); str("process", f.process); str("user", f.user)
        str("container", f.container)
        seconds("last_ts", f.lastTs)
        str("sensor", sensor)
        s.append(",\"capture\":\"" as StaticString); s.append(decimal: captureID); s.append(0x22)
        s.append(0x7D)
    }

    public var json: String {
        var s = ByteSink(capacity: 1024)
        writeJSON(into: &s)
        return s.string
    }
}

/// A stored packet row as `PacketJSONFields` reads it: the columns the packets table
/// keeps (no TTL, no DNS answers, one VLAN tag), with the interface always known.
struct PacketRowFields: PacketJSONFields {
    let row: PacketRow

    var number: UInt64 { row.n }
    var timestamp: Timestamp { Timestamp(totalNanoseconds: row.ts) }
    var wireLength: UInt32 { row.len }
    var capturedLength: UInt32 { row.caplen }
    var interfaceID: UInt32? { row.iface }
    var link: LinkType { row.link }
    var ethSrc: MACAddress? { row.has(.ethSrc) ? row.ethSrc : nil }
    var ethDst: MACAddress? { row.has(.ethDst) ? row.ethDst : nil }
    var vlan: UInt16? { row.has(.vlan) ? row.vlan : nil }
    var vlanStack: VLANStack? { nil }
    var ethertype: UInt16? { nil }
    var arpOp: UInt16? { nil }
    var ip: (version: UInt8, src: IPAddress, dst: IPAddress, proto: UInt8)? {
        row.has(.ip) ? (row.ipVersion, row.src, row.dst, row.proto) : nil
    }
    var ttl: UInt8? { nil }
    var transport: TransportKind { row.transport }
    var isFragment: Bool { false }
    var reassembled: (frames: UInt16, length: UInt32)? { nil }
    var ports: (sport: UInt16, dport: UInt16)? { row.has(.ports) ? (row.sport, row.dport) : nil }
    var tcp: (seq: UInt32, ack: UInt32, flags: UInt16, window: UInt16)? {
        row.has(.tcp) ? (row.seq, row.ack, row.tcpFlags, row.window) : nil
    }
    var payloadLength: UInt32? { row.has(.payloadLen) ? row.payloadLen : nil }
    var icmp: (type: UInt8, code: UInt8)? { row.has(.icmp) ? (row.icmpType, row.icmpCode) : nil }
    var app: AppProtocol { row.app }
    var appSource: AppSource { row.appSource }
    func writeInfo(into line: inout ByteSink) { row.writeInfo(into: &line) }
    var inner: InnerTuple? { nil }
    var truncated: Bool { false }
    var undecoded: Bool { false }
    var malformed: Malformation? { nil }

    /// Only the first question's name is a column.
    func writeDNS(into s: inout ByteSink, scratch: inout ByteSink) {
        guard row.has(.dnsQuery), let q = row.dnsQuery else { return }
        s.append(",\"dns_query\":\"" as StaticString); s.appendJSONEscaped(q); s.append(0x22)
    }
}
