import SniffCore
import SniffDecode

/// JSON for stored rows, with the NDJSON contract's field names (`sniff --json` for
/// packets, the flows writer's for flows), plus `sensor`, `capture` and `flow_uid`.
/// Fields a row lacks are left out.
extension StoredPacket {
    public func writeJSON(into s: inout ByteSink) {
        let p = row
        s.append("{\"n\":" as StaticString); s.append(decimal: p.n)
        s.append(",\"ts\":" as StaticString); s.appendEpoch(Timestamp(totalNanoseconds: p.ts))
        s.append(",\"len\":" as StaticString); s.append(decimal: UInt64(p.len))
        s.append(",\"caplen\":" as StaticString); s.append(decimal: UInt64(p.caplen))
        s.append(",\"iface\":" as StaticString); s.append(decimal: UInt64(p.iface))
        s.append(",\"link\":\"" as StaticString); s.append(p.link.name); s.append(0x22)
        if p.has(.ethSrc) { s.append(",\"eth_src\":\"" as StaticString); p.ethSrc.write(into: &s); s.append(0x22) }
        if p.has(.ethDst) { s.append(",\"eth_dst\":\"" as StaticString); p.ethDst.write(into: &s); s.append(0x22) }
        if p.has(.vlan) { s.append(",\"vlan\":" as StaticString); s.append(decimal: UInt64(p.vlan)) }
        if p.has(.ip) {
            s.append(",\"ip\":" as StaticString); s.append(decimal: UInt64(p.ipVersion))
            s.append(",\"src\":\"" as StaticString); p.src.write(into: &s); s.append(0x22)
            s.append(",\"dst\":\"" as StaticString); p.dst.write(into: &s); s.append(0x22)
            s.append(",\"proto\":" as StaticString); s.append(decimal: UInt64(p.proto))
        }
        if let t = p.transport.name { s.append(",\"transport\":\"" as StaticString); s.append(t); s.append(0x22) }
        if p.has(.ports) {
            s.append(",\"sport\":" as StaticString); s.append(decimal: UInt64(p.sport))
            s.append(",\"dport\":" as StaticString); s.append(decimal: UInt64(p.dport))
        }
        if p.has(.tcp) {
            s.append(",\"seq\":" as StaticString); s.append(decimal: UInt64(p.seq))
            s.append(",\"ack\":" as StaticString); s.append(decimal: UInt64(p.ack))
            s.append(",\"tcp_flags\":" as StaticString); s.append(decimal: UInt64(p.tcpFlags))
            s.append(",\"flags\":\"" as StaticString); TCP.writeFlagLetters(p.tcpFlags, into: &s); s.append(0x22)
            s.append(",\"window\":" as StaticString); s.append(decimal: UInt64(p.window))
        }
        if p.has(.payloadLen) { s.append(",\"payload_len\":" as StaticString); s.append(decimal: UInt64(p.payloadLen)) }
        if p.has(.icmp) {
            s.append(",\"icmp_type\":" as StaticString); s.append(decimal: UInt64(p.icmpType))
            s.append(",\"icmp_code\":" as StaticString); s.append(decimal: UInt64(p.icmpCode))
        }
        if p.has(.dnsQuery), let q = p.dnsQuery { s.append(",\"dns_query\":\"" as StaticString); s.appendJSONEscaped(q); s.append(0x22) }
        if p.app != .unknown {
            s.append(",\"app\":\"" as StaticString); s.append(p.app.name)
            s.append("\",\"app_source\":\"" as StaticString); s.append(p.appSource.name); s.append(0x22)
        }
        var line = ByteSink(capacity: 96)
        p.writeInfo(into: &line)
        if !line.isEmpty {
            s.append(",\"info\":\"" as StaticString)
            line.bytes.withUnsafeBytes { s.appendJSONEscaped($0) }
            s.append(0x22)
        }
        if p.has(.flowUID), let u = p.flowUID { s.append(",\"flow_uid\":\"" as StaticString); s.appendJSONEscaped(u); s.append(0x22) }
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
            s.append(",\"" as StaticString); s.append(name); s.append("\":\"" as StaticString); s.appendJSONEscaped(v); s.append(0x22)
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
