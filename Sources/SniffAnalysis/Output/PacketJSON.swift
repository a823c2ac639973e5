import SniffCore
import SniffDecode

/// A packet as its JSON object reads it. Two sources conform: a decoded packet with the
/// frame its offsets point into (`sniff --json`) and a stored row (the API, exports, the
/// live feed). Both go through `PacketJSONWriter.writeFields`, so the keys, their order
/// and their formats are written once. A field the source lacks, or does not keep, is
/// nil (or false) and left out.
public protocol PacketJSONFields {
    var number: UInt64 { get }
    var timestamp: Timestamp { get }
    var wireLength: UInt32 { get }
    var capturedLength: UInt32 { get }
    /// nil where the source has no interface ids (pcap files).
    var interfaceID: UInt32? { get }
    var link: LinkType { get }
    var ethSrc: MACAddress? { get }
    var ethDst: MACAddress? { get }
    var vlan: UInt16? { get }
    /// Every tag, outermost first, where the source keeps them all.
    var vlanStack: VLANStack? { get }
    var ethertype: UInt16? { get }
    var arpOp: UInt16? { get }
    var ip: (version: UInt8, src: IPAddress, dst: IPAddress, proto: UInt8)? { get }
    var ttl: UInt8? { get }
    var transport: TransportKind { get }
    var isFragment: Bool { get }
    var reassembled: (frames: UInt16, length: UInt32)? { get }
    var ports: (sport: UInt16, dport: UInt16)? { get }
    var tcp: (seq: UInt32, ack: UInt32, flags: UInt16, window: UInt16)? { get }
    var payloadLength: UInt32? { get }
    var icmp: (type: UInt8, code: UInt8)? { get }
    /// The `dns_*` fields, each with its leading comma; `scratch` is a reused sink for
    /// rendering names before they are escaped.
    func writeDNS(into s: inout ByteSink, scratch: inout ByteSink)
    var app: AppProtocol { get }
    var appSource: AppSource { get }
    /// The Info line's text, unescaped; nothing when the packet has none.
    func writeInfo(into line: inout ByteSink)
    var inner: InnerTuple? { get }
    var truncated: Bool { get }
    var undecoded: Bool { get }
    var malformed: Malformation? { get }
}

/// Writes one packet as a single-line JSON object (the NDJSON contract of `sniff
/// --json`, and each stored packet of the API). Fields a packet lacks are left out.
///
/// Built byte by byte into a reused sink: no JSONEncoder, no String per field.
public struct PacketJSONWriter: Sendable {
    /// Reused for rendering names and Info lines before escaping them.
    var scratch = ByteSink(capacity: 256)
    /// When set, `eth_src_vendor` and `eth_dst_vendor` name the makers of the cards.
    public var vendors: MACVendors?

    public init(vendors: MACVendors? = nil) { self.vendors = vendors }

    /// `frame` is what the packet's offsets point into (`PacketPipeline.frame`: the
    /// captured bytes, or a reassembled datagram); DNS names are rendered from it.
    /// `includeInterface` is true for pcapng and live sources.
    public mutating func write(
        _ p: DecodedPacket, frame: UnsafeRawBufferPointer, includeInterface: Bool, into s: inout ByteSink
    ) {
        writeFields(DecodedPacketFields(packet: p, frame: frame, includeInterface: includeInterface), into: &s)
        s.append("}\n" as StaticString)
    }

    /// Opens the object and writes every field `p` has, in the contract's order; the
    /// caller adds its own fields and the closing brace.
    public mutating func writeFields<P: PacketJSONFields>(_ p: P, into s: inout ByteSink) {
        s.append("{\"n\":" as StaticString); s.append(decimal: p.number)
        s.append(",\"ts\":" as StaticString); s.appendEpoch(p.timestamp)
        s.append(",\"len\":" as StaticString); s.append(decimal: UInt64(p.wireLength))
        s.append(",\"caplen\":" as StaticString); s.append(decimal: UInt64(p.capturedLength))
        if let i = p.interfaceID { s.append(",\"iface\":" as StaticString); s.append(decimal: UInt64(i)) }
        s.append(",\"link\":\"" as StaticString); s.append(p.link.name); s.append(0x22)

        let ethSrc = p.ethSrc, ethDst = p.ethDst
        if let m = ethSrc { s.append(",\"eth_src\":\"" as StaticString); m.write(into: &s); s.append(0x22) }
        if let m = ethDst { s.append(",\"eth_dst\":\"" as StaticString); m.write(into: &s); s.append(0x22) }
        if let vendors {
            if let m = ethSrc, let v = vendors.vendor(m) {
                s.append(",\"eth_src_vendor\":\"" as StaticString); s.appendJSONEscaped(v); s.append(0x22)
            }
            if let m = ethDst, let v = vendors.vendor(m) {
                s.append(",\"eth_dst_vendor\":\"" as StaticString); s.appendJSONEscaped(v); s.append(0x22)
            }
        }
        if let v = p.vlan { s.append(",\"vlan\":" as StaticString); s.append(decimal: UInt64(v)) }
        if let tags = p.vlanStack {
            s.append(",\"vlans\":[" as StaticString)
            for i in 0..<tags.count {
                if i > 0 { s.append(0x2C) }
                s.append(decimal: UInt64(tags[i]))
            }
            s.append(0x5D)
        }
        if let e = p.ethertype { s.append(",\"ethertype\":" as StaticString); s.append(decimal: UInt64(e)) }
        if let op = p.arpOp { s.append(",\"arp_op\":" as StaticString); s.append(decimal: UInt64(op)) }
        if let ip = p.ip {
            s.append(",\"ip\":" as StaticString); s.append(decimal: UInt64(ip.version))
            s.append(",\"src\":\"" as StaticString); ip.src.write(into: &s); s.append(0x22)
            s.append(",\"dst\":\"" as StaticString); ip.dst.write(into: &s); s.append(0x22)
            if let ttl = p.ttl { s.append(",\"ttl\":" as StaticString); s.append(decimal: UInt64(ttl)) }
            s.append(",\"proto\":" as StaticString); s.append(decimal: UInt64(ip.proto))
        }
        if let t = p.transport.name {
            s.append(",\"transport\":\"" as StaticString); s.append(t); s.append(0x22)
        }
        if p.isFragment { s.append(",\"frag\":true" as StaticString) }
        if let r = p.reassembled {
            s.append(",\"reassembled\":{\"frames\":" as StaticString); s.append(decimal: UInt64(r.frames))
            s.append(",\"len\":" as StaticString); s.append(decimal: UInt64(r.length)); s.append(0x7D)
        }
        if let ports = p.ports {
            s.append(",\"sport\":" as StaticString); s.append(decimal: UInt64(ports.sport))
            s.append(",\"dport\":" as StaticString); s.append(decimal: UInt64(ports.dport))
        }
        if let t = p.tcp {
            s.append(",\"seq\":" as StaticString); s.append(decimal: UInt64(t.seq))
            s.append(",\"ack\":" as StaticString); s.append(decimal: UInt64(t.ack))
            s.append(",\"tcp_flags\":" as StaticString); s.append(decimal: UInt64(t.flags))
            s.append(",\"flags\":\"" as StaticString); TCP.writeFlagLetters(t.flags, into: &s); s.append(0x22)
            s.append(",\"window\":" as StaticString); s.append(decimal: UInt64(t.window))
        }
        if let n = p.payloadLength { s.append(",\"payload_len\":" as StaticString); s.append(decimal: UInt64(n)) }
        if let icmp = p.icmp {
            s.append(",\"icmp_type\":" as StaticString); s.append(decimal: UInt64(icmp.type))
            s.append(",\"icmp_code\":" as StaticString); s.append(decimal: UInt64(icmp.code))
        }
        p.writeDNS(into: &s, scratch: &scratch)
        if p.app != .unknown {
            s.append(",\"app\":\"" as StaticString); s.append(p.app.name)
            s.append("\",\"app_source\":\"" as StaticString); s.append(p.appSource.name); s.append(0x22)
        }
        scratch.removeAll()
        p.writeInfo(into: &scratch)
        if !scratch.isEmpty { escaped(",\"info\":\"", scratch, into: &s) }
        if let i = p.inner {
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
            scratch.removeAll()
            m.write(into: &scratch)
            escaped(",\"malformed\":\"", scratch, into: &s)
        }
    }

    /// `key` (with its comma and opening quote), then `value` escaped, then the closing quote.
    private func escaped(_ key: StaticString, _ value: ByteSink, into s: inout ByteSink) {
        s.append(key)
        value.bytes.withUnsafeBytes { s.appendJSONEscaped($0) }
        s.append(0x22)
    }
}

/// A decoded packet as `PacketJSONFields` reads it.
struct DecodedPacketFields: PacketJSONFields {
    let packet: DecodedPacket
    let frame: UnsafeRawBufferPointer
    let includeInterface: Bool

    var number: UInt64 { packet.number }
    var timestamp: Timestamp { packet.timestamp }
    var wireLength: UInt32 { packet.wireLength }
    var capturedLength: UInt32 { packet.capturedLength }
    var interfaceID: UInt32? { includeInterface ? packet.interfaceID : nil }
    var link: LinkType { packet.link }
    var ethSrc: MACAddress? { packet.hasEthernet || packet.hasEthSrc ? packet.ethSrc : nil }
    var ethDst: MACAddress? { packet.hasEthernet ? packet.ethDst : nil }
    var vlan: UInt16? { packet.vlans.primary }
    var vlanStack: VLANStack? { packet.vlans.primary == nil ? nil : packet.vlans }
    var ethertype: UInt16? { packet.ethertype != 0 ? packet.ethertype : nil }
    var arpOp: UInt16? { packet.isARP && (packet.arpOp != 0 || !packet.truncated) ? packet.arpOp : nil }
    var ip: (version: UInt8, src: IPAddress, dst: IPAddress, proto: UInt8)? {
        packet.ipVersion != 0 ? (packet.ipVersion, packet.src, packet.dst, packet.ipProto) : nil
    }
    var ttl: UInt8? { packet.ttl }
    var transport: TransportKind { packet.transport }
    var isFragment: Bool { packet.isFragment }
    var reassembled: (frames: UInt16, length: UInt32)? {
        packet.reassembledFrames > 0 ? (packet.reassembledFrames, packet.reassembledLength) : nil
    }
    var ports: (sport: UInt16, dport: UInt16)? { packet.hasPorts ? (packet.sport, packet.dport) : nil }
    var tcp: (seq: UInt32, ack: UInt32, flags: UInt16, window: UInt16)? {
        packet.hasTCP ? (packet.tcp.seq, packet.tcp.ack, packet.tcp.flags, packet.tcp.window) : nil
    }
    var payloadLength: UInt32? { packet.hasPayloadLength ? packet.payloadLength : nil }
    var icmp: (type: UInt8, code: UInt8)? { packet.hasICMP ? (packet.icmpType, packet.icmpCode) : nil }
    var app: AppProtocol { packet.app }
    var appSource: AppSource { packet.appSource }
    func writeInfo(into line: inout ByteSink) { PacketInfo.write(packet, frame: frame, into: &line) }
    var inner: InnerTuple? { packet.hasInner ? packet.inner : nil }
    var truncated: Bool { packet.truncated }
    var undecoded: Bool { packet.undecoded }
    var malformed: Malformation? { packet.malformed }

    func writeDNS(into s: inout ByteSink, scratch: inout ByteSink) {
        guard packet.hasDNS else { return }
        let d = packet.dns
        s.append(",\"dns_id\":" as StaticString); s.append(decimal: UInt64(d.id))
        s.append(",\"dns_qr\":" as StaticString); s.append(decimal: UInt64(d.isResponse ? 1 : 0))
        guard let msgBytes = ByteCursor(frame).slice(at: d.messageOffset, count: d.messageLength) else { return }
        let msg = ByteCursor(msgBytes)
        if d.hasQuestion {
            // Render into scratch first, then escape: names are packet-derived text.
            scratch.removeAll()
            if DNS.writeName(msg, at: d.questionOffset, into: &scratch) == nil {
                s.append(",\"dns_query\":\"" as StaticString)
                scratch.bytes.withUnsafeBytes { s.appendJSONEscaped($0) }
                s.append(0x22)
            }
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
                    scratch.removeAll()
                    _ = DNS.writeName(msg, at: off, into: &scratch)
                    scratch.bytes.withUnsafeBytes { s.appendJSONEscaped($0) }
                }
                s.append(0x22)
            }
            if !first { s.append(0x5D) }
        }
    }
}
