import SniffCore
import SniffDecode

/// Writes one decoded packet as a single-line JSON object (the NDJSON contract of
/// `sniff --json`). Fields a packet lacks are left out.
///
/// Built byte by byte into a reused sink: no JSONEncoder, no String per field.
public struct PacketJSONWriter: Sendable {
    /// Reused for rendering names before escaping them.
    var scratch = ByteSink(capacity: 256)
    /// When set, `eth_src_vendor` and `eth_dst_vendor` name the makers of the cards.
    public var vendors: MACVendors?

    public init(vendors: MACVendors? = nil) { self.vendors = vendors }

    /// `frame` is what the packet's offsets point into (`PacketPipeline.frame`: the
    /// captured bytes, or a reassembled datagram); DNS names are rendered from it. `includeInterface` is true for pcapng and live sources.
    public mutating func write(_ p: DecodedPacket, frame: UnsafeRawBufferPointer, includeInterface: Bool, into s: inout ByteSink) {
        s.append("{\"n\":" as StaticString); s.append(decimal: p.number)
        s.append(",\"ts\":" as StaticString); s.appendEpoch(p.timestamp)
        s.append(",\"len\":" as StaticString); s.append(decimal: UInt64(p.wireLength))
        s.append(",\"caplen\":" as StaticString); s.append(decimal: UInt64(p.capturedLength))
        if includeInterface { s.append(",\"iface\":" as StaticString); s.append(decimal: UInt64(p.interfaceID)) }
        s.append(",\"link\":\"" as StaticString); s.append(p.link.name); s.append(0x22)

        if p.hasEthernet {
            s.append(",\"eth_src\":\"" as StaticString); p.ethSrc.write(into: &s); s.append(0x22)
            s.append(",\"eth_dst\":\"" as StaticString); p.ethDst.write(into: &s); s.append(0x22)
        } else if p.hasEthSrc {
            s.append(",\"eth_src\":\"" as StaticString); p.ethSrc.write(into: &s); s.append(0x22)
        }
        if let vendors, p.hasEthernet || p.hasEthSrc {
            if let v = vendors.vendor(p.ethSrc) {
                s.append(",\"eth_src_vendor\":\"" as StaticString); s.appendJSONEscaped(v); s.append(0x22)
            }
            if p.hasEthernet, let v = vendors.vendor(p.ethDst) {
                s.append(",\"eth_dst_vendor\":\"" as StaticString); s.appendJSONEscaped(v); s.append(0x22)
            }
        }
        if let v = p.vlans.primary {
            s.append(",\"vlan\":" as StaticString); s.append(decimal: UInt64(v))
            s.append(",\"vlans\":[" as StaticString)
            for i in 0..<p.vlans.count {
                if i > 0 { s.append(0x2C) }
                s.append(decimal: UInt64(p.vlans[i]))
            }
            s.append(0x5D)
        }
        if p.ethertype != 0 { s.append(",\"ethertype\":" as StaticString); s.append(decimal: UInt64(p.ethertype)) }
        if p.isARP && (p.arpOp != 0 || !p.truncated) {
            s.append(",\"arp_op\":" as StaticString); s.append(decimal: UInt64(p.arpOp))
        }
        if p.ipVersion != 0 {
            s.append(",\"ip\":" as StaticString); s.append(decimal: UInt64(p.ipVersion))
            s.append(",\"src\":\"" as StaticString); p.src.write(into: &s); s.append(0x22)
            s.append(",\"dst\":\"" as StaticString); p.dst.write(into: &s); s.append(0x22)
            s.append(",\"ttl\":" as StaticString); s.append(decimal: UInt64(p.ttl))
            s.append(",\"proto\":" as StaticString); s.append(decimal: UInt64(p.ipProto))
        }
        if let t = p.transport.name {
            s.append(",\"transport\":\"" as StaticString); s.append(t); s.append(0x22)
        }
        if p.isFragment { s.append(",\"frag\":true" as StaticString) }
        if p.reassembledFrames > 0 {
            s.append(",\"reassembled\":{\"frames\":" as StaticString); s.append(decimal: UInt64(p.reassembledFrames))
            s.append(",\"len\":" as StaticString); s.append(decimal: UInt64(p.reassembledLength)); s.append(0x7D)
        }
        if p.hasPorts {
            s.append(",\"sport\":" as StaticString); s.append(decimal: UInt64(p.sport))
            s.append(",\"dport\":" as StaticString); s.append(decimal: UInt64(p.dport))
        }
        if p.hasTCP {
            s.append(",\"seq\":" as StaticString); s.append(decimal: UInt64(p.tcp.seq))
            s.append(",\"ack\":" as StaticString); s.append(decimal: UInt64(p.tcp.ack))
            s.append(",\"tcp_flags\":" as StaticString); s.append(decimal: UInt64(p.tcp.flags))
            s.append(",\"flags\":\"" as StaticString); TCP.writeFlagLetters(p.tcp.flags, into: &s); s.append(0x22)
            s.append(",\"window\":" as StaticString); s.append(decimal: UInt64(p.tcp.window))
        }
        if p.hasPayloadLength {
            s.append(",\"payload_len\":" as StaticString); s.append(decimal: UInt64(p.payloadLength))
        }
        if p.hasICMP {
            s.append(",\"icmp_type\":" as StaticString); s.append(decimal: UInt64(p.icmpType))
            s.append(",\"icmp_code\":" as StaticString); s.append(decimal: UInt64(p.icmpCode))
        }
        if p.hasDNS { writeDNS(p.dns, frame: frame, into: &s) }
        if p.app != .unknown {
            s.append(",\"app\":\"" as StaticString); s.append(p.app.name)
            s.append("\",\"app_source\":\"" as StaticString); s.append(p.appSource.name); s.append(0x22)
        }
        writeInfo(p, frame: frame, into: &s)
        if p.hasInner {
            let i = p.inner
            s.append(",\"inner\":{\"src\":\"" as StaticString); i.src.write(into: &s)
            s.append("\",\"dst\":\"" as StaticString); i.dst.write(into: &s)
            s.append("\",\"proto\":" as StaticString); s.append(decimal: UInt64(i.proto))
            if i.hasPorts {
                s.append(",\"sport\":" as StaticString); s.append(decimal: UInt64(i.sport))
                s.append(",\"dport\":" as StaticString); s.append(decimal: UInt64(i.dport))
            }
            s.append(0x7D)
        }
        if p.truncated { s.append(",\"truncated\":true" as StaticString) }
        if p.undecoded { s.append(",\"undecoded\":true" as StaticString) }
        if let m = p.malformed {
            s.append(",\"malformed\":\"" as StaticString)
            var tmp = ByteSink(capacity: 0)
            swap(&tmp, &scratch)
            tmp.removeAll()
            m.write(into: &tmp)
            tmp.bytes.withUnsafeBytes { s.appendJSONEscaped($0) }
            swap(&tmp, &scratch)
            s.append(0x22)
        }
        s.append("}\n" as StaticString)
    }

    /// `info`, Wireshark's Info column (`PacketInfo`), when the packet has one.
    mutating func writeInfo(_ p: DecodedPacket, frame: UnsafeRawBufferPointer, into s: inout ByteSink) {
        var line = ByteSink(capacity: 0)
        swap(&line, &scratch)
        line.removeAll()
        PacketInfo.write(p, frame: frame, into: &line)
        if !line.isEmpty {
            s.append(",\"info\":\"" as StaticString)
            line.bytes.withUnsafeBytes { s.appendJSONEscaped($0) }
            s.append(0x22)
        }
        swap(&line, &scratch)
    }

    mutating func writeDNS(_ d: DNSSummary, frame: UnsafeRawBufferPointer, into s: inout ByteSink) {
        s.append(",\"dns_id\":" as StaticString); s.append(decimal: UInt64(d.id))
        s.append(",\"dns_qr\":" as StaticString); s.append(decimal: UInt64(d.isResponse ? 1 : 0))
        guard let msgBytes = ByteCursor(frame).slice(at: d.messageOffset, count: d.messageLength) else { return }
        let msg = ByteCursor(msgBytes)
        if d.hasQuestion {
            // Render into scratch first, then escape: names are packet-derived text.
            var name = ByteSink(capacity: 0)
            swap(&name, &scratch)
            name.removeAll()
            if DNS.writeName(msg, at: d.questionOffset, into: &name) == nil {
                s.append(",\"dns_query\":\"" as StaticString)
                name.bytes.withUnsafeBytes { s.appendJSONEscaped($0) }
                s.append(0x22)
            }
            swap(&name, &scratch)
            if d.qtype != 0 { s.append(",\"dns_qtype\":" as StaticString); s.append(decimal: UInt64(d.qtype)) }
        }
        s.append(",\"dns_rcode\":" as StaticString); s.append(decimal: UInt64(d.rcode))
        if d.answerCount > 0 && d.answersOffset >= 0 {
            var first = true
            DNS.forEachAnswer(msg, d) { answer in
                s.append(first ? ",\"dns_answers\":[\"" as StaticString : ",\"" as StaticString)
                first = false
                switch answer {
                case .a(let ip), .aaaa(let ip):
                    ip.write(into: &s)
                case .cname(let off):
                    var name = ByteSink(capacity: 0)
                    swap(&name, &scratch)
                    name.removeAll()
                    _ = DNS.writeName(msg, at: off, into: &name)
                    name.bytes.withUnsafeBytes { s.appendJSONEscaped($0) }
                    swap(&name, &scratch)
                }
                s.append(0x22)
            }
            if !first { s.append(0x5D) }
        }
    }
}
