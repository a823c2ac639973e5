import SniffCore
import SniffDecode

/// Rows in the text format of `COPY ... FROM STDIN`: tab-separated columns, `\N` for
/// NULL, one row per line, and backslash, tab, newline and carriage return escaped in
/// text values.
struct CopyText {
    var sink = ByteSink(capacity: 1 << 18)

    static let null: StaticString = "\\N"

    @inline(__always) mutating func tab() { sink.append(0x09) }
    @inline(__always) mutating func newline() { sink.append(0x0A) }
    @inline(__always) mutating func nullValue() { sink.append(CopyText.null) }

    @inline(__always) mutating func int(_ v: Int64) { sink.append(decimal: v) }
    @inline(__always) mutating func uint(_ v: UInt64) { sink.append(decimal: v) }

    mutating func int(_ v: Int64?) { if let v { sink.append(decimal: v) } else { nullValue() } }

    /// A text value, escaped.
    mutating func text(_ s: String) {
        var s = s
        s.withUTF8 { u in
            for b in u {
                switch b {
                case 0x5C: sink.append("\\\\" as StaticString)
                case 0x09: sink.append("\\t" as StaticString)
                case 0x0A: sink.append("\\n" as StaticString)
                case 0x0D: sink.append("\\r" as StaticString)
                default: sink.append(b)
                }
            }
        }
    }

    mutating func text(_ s: String?) { if let s { text(s) } else { nullValue() } }

    /// A bytea value in hex form. bytea's input is `\x` and two hex digits per byte;
    /// COPY's text format then doubles the backslash.
    mutating func bytea(_ bytes: UnsafeRawBufferPointer) {
        sink.append("\\\\x" as StaticString)
        let digits: StaticString = "0123456789abcdef"
        digits.withUTF8Buffer { hex in
            for b in bytes {
                sink.append(hex[Int(b >> 4)])
                sink.append(hex[Int(b & 0x0F)])
            }
        }
    }

    /// Text known to need no escaping (names from fixed tables, addresses).
    @inline(__always) mutating func plain(_ s: StaticString) { sink.append(s) }

    mutating func bool(_ v: Bool?) {
        if let v { sink.append(v ? 0x74 : 0x66) } else { nullValue() }
    }

    // MARK: rows

    /// One packet row, columns in `Schema.packetColumns` order; `prefix` is the
    /// escaped capture id and sensor with their tabs.
    mutating func packet(_ r: PacketRow, prefix: [UInt8]) {
        sink.bytes.append(contentsOf: prefix)
        uint(r.n); tab(); int(r.ts); tab(); uint(UInt64(r.len)); tab(); uint(UInt64(r.caplen)); tab()
        uint(UInt64(r.iface)); tab()
        sink.append(r.link.name); tab()
        if r.has(.ethSrc) { r.ethSrc.write(into: &sink) } else { nullValue() }
        tab()
        if r.has(.ethDst) { r.ethDst.write(into: &sink) } else { nullValue() }
        tab()
        if r.has(.vlan) { uint(UInt64(r.vlan)) } else { nullValue() }
        tab()
        if r.has(.ip) {
            uint(UInt64(r.ipVersion)); tab()
            r.src.write(into: &sink); tab()
            r.dst.write(into: &sink); tab()
            uint(UInt64(r.proto)); tab()
        } else {
            sink.append("\\N\t\\N\t\\N\t\\N\t" as StaticString)
        }
        if let t = r.transport.name { sink.append(t) } else { nullValue() }
        tab()
        if r.has(.ports) {
            uint(UInt64(r.sport)); tab(); uint(UInt64(r.dport)); tab()
        } else {
            sink.append("\\N\t\\N\t" as StaticString)
        }
        if r.has(.tcp) {
            uint(UInt64(r.seq)); tab(); uint(UInt64(r.ack)); tab(); uint(UInt64(r.tcpFlags)); tab();
            uint(UInt64(r.window)); tab()
        } else {
            sink.append("\\N\t\\N\t\\N\t\\N\t" as StaticString)
        }
        if r.has(.payloadLen) { uint(UInt64(r.payloadLen)) } else { nullValue() }
        tab()
        if r.has(.icmp) {
            uint(UInt64(r.icmpType)); tab(); uint(UInt64(r.icmpCode)); tab()
        } else {
            sink.append("\\N\t\\N\t" as StaticString)
        }
        if r.has(.dnsQuery), let q = r.dnsQuery { text(q) } else { nullValue() }
        tab()
        if r.app != .unknown { sink.append(r.app.name) } else { nullValue() }
        tab()
        if r.has(.flowUID), let u = r.flowUID { text(u) } else { nullValue() }
        tab()
        if r.app != .unknown {
            sink.append(r.has(.appPayload) ? UInt8(ascii: "1") : UInt8(ascii: "0"))
        } else {
            nullValue()
        }
        tab()
        if r.has(.info), let i = r.info { text(i) } else { nullValue() }
        // No newline: the caller adds the `raw` column and ends the line.
    }

    mutating func flow(_ f: FlowRow, prefix: [UInt8]) {
        sink.bytes.append(contentsOf: prefix)
        int(f.ts); tab(); int(f.lastTs); tab(); text(f.uid); tab()
        f.origH.write(into: &sink); tab(); uint(UInt64(f.origP)); tab()
        f.respH.write(into: &sink); tab(); uint(UInt64(f.respP)); tab()
        text(f.proto); tab(); uint(UInt64(f.ipProto)); tab(); text(f.service); tab()
        int(f.durationNanos); tab()
        int(f.origBytes.map { Int64(clamping: $0) }); tab(); int(f.respBytes.map { Int64(clamping: $0) }); tab()
        text(f.connState); tab(); bool(f.localOrig); tab(); bool(f.localResp); tab()
        int(Int64(clamping: f.missedBytes)); tab(); text(f.history); tab()
        int(Int64(clamping: f.origPkts)); tab(); int(Int64(clamping: f.origIPBytes)); tab()
        int(Int64(clamping: f.respPkts)); tab(); int(Int64(clamping: f.respIPBytes)); tab()
        text(f.communityID); tab(); int(f.vlan.map { Int64($0) }); tab(); text(f.app); tab(); text(f.appSource); tab()
        for s in [f.dnsQuery, f.tlsSNI, f.tlsVersion, f.httpHost, f.httpMethod, f.httpURI, f.sshClient, f.sshServer,
                  f.quicVersion, f.origTCPFlags, f.respTCPFlags] {
            text(s); tab()
        }
        int(Int64(clamping: f.origL2Bytes)); tab(); int(Int64(clamping: f.respL2Bytes)); tab(); text(f.endReason); tab()
        int(Int64(clamping: f.totalBytes)); tab(); int(Int64(clamping: f.totalPackets))
        for s in f.handshakeColumns { tab(); text(s) }
        for s in [f.origName, f.respName, f.origCC, f.respCC] { tab(); text(s) }
        tab(); int(f.origASN.map { Int64($0) }); tab(); int(f.respASN.map { Int64($0) })
        tab(); text(f.origOrg); tab(); text(f.respOrg)
        tab(); int(f.pid.map { Int64($0) }); tab(); text(f.process); tab(); text(f.user); tab(); text(f.container)
        tab(); bool(f.processIsOrig)
        tab(); text(f.tunnel); tab(); int(f.tunnelID.map { Int64($0) }); tab(); text(f.tunnelParents)
        newline()
    }

    mutating func traffic(_ t: TrafficRow, prefix: [UInt8]) {
        sink.bytes.append(contentsOf: prefix)
        int(t.ts); tab()
        if let n = t.transport.name { sink.append(n) } else { nullValue() }
        tab()
        if t.app != .unknown { sink.append(t.app.name) } else { nullValue() }
        tab()
        int(t.packets); tab(); int(t.bytes)
        newline()
    }

    /// "capture_id\tsensor\t", escaped once per batch.
    static func prefix(captureID: Int64, sensor: String) -> [UInt8] {
        var c = CopyText()
        c.sink = ByteSink(capacity: 64)
        c.int(captureID); c.tab(); c.text(sensor); c.tab()
        return c.sink.bytes
    }
}
