import SniffCore
import SniffDecode
import SniffAnalysis
import SniffCapture

/// Turns decoded packets, flows and alerts into rows. Field presence follows
/// `PacketJSONWriter` and `FlowNDJSONWriter` exactly, so that a stored row and the
/// NDJSON line of the same packet or flow carry the same values.
public struct RowBuilder {
    public var format: FlowFormat
    private var scratch = ByteSink(capacity: 256)

    public init(format: FlowFormat = FlowFormat()) { self.format = format }

    /// Fills `row` from a decoded packet; `frame` is the captured bytes (DNS names are
    /// rendered from them). The flow uid is left to the caller.
    public mutating func fill(_ row: inout PacketRow, from p: DecodedPacket, frame: UnsafeRawBufferPointer) {
        var f: PacketRow.Fields = []
        row.n = p.number
        row.ts = p.timestamp.totalNanoseconds
        row.len = p.wireLength
        row.caplen = p.capturedLength
        row.iface = p.interfaceID
        row.link = p.link
        if p.hasEthernet {
            f.insert(.ethSrc); f.insert(.ethDst)
            row.ethSrc = p.ethSrc; row.ethDst = p.ethDst
        } else if p.hasEthSrc {
            f.insert(.ethSrc)
            row.ethSrc = p.ethSrc
        }
        if let v = p.vlans.primary { f.insert(.vlan); row.vlan = v }
        if p.ipVersion != 0 {
            f.insert(.ip)
            row.ipVersion = p.ipVersion
            row.src = p.src; row.dst = p.dst
            row.proto = p.ipProto
        }
        row.transport = p.transport
        if p.hasPorts { f.insert(.ports); row.sport = p.sport; row.dport = p.dport }
        if p.hasTCP {
            f.insert(.tcp)
            row.seq = p.tcp.seq; row.ack = p.tcp.ack; row.tcpFlags = p.tcp.flags; row.window = p.tcp.window
        }
        if p.hasPayloadLength { f.insert(.payloadLen); row.payloadLen = p.payloadLength }
        if p.hasICMP { f.insert(.icmp); row.icmpType = p.icmpType; row.icmpCode = p.icmpCode }
        row.dnsQuery = nil
        if p.hasDNS, p.dns.hasQuestion, let q = dnsQuery(p.dns, frame: frame) {
            f.insert(.dnsQuery)
            row.dnsQuery = q
        }
        row.app = p.app
        if p.app != .unknown && p.appSource == .payload { f.insert(.appPayload) }
        row.info = nil
        scratch.removeAll()
        if PacketInfo.writeFrameLine(p, frame: frame, into: &scratch) {
            f.insert(.info)
            row.info = scratch.bytes.withUnsafeBytes { StoreText.string($0) }
        }
        row.flowUID = nil
        row.present = f
    }

    public mutating func row(from p: DecodedPacket, frame: UnsafeRawBufferPointer) -> PacketRow {
        var r = PacketRow()
        fill(&r, from: p, frame: frame)
        return r
    }

    /// The first question's name as `PacketJSONWriter` renders it, made storable.
    mutating func dnsQuery(_ d: DNSSummary, frame: UnsafeRawBufferPointer) -> String? {
        guard let msgBytes = ByteCursor(frame).slice(at: d.messageOffset, count: d.messageLength) else { return nil }
        scratch.removeAll()
        guard DNS.writeName(ByteCursor(msgBytes), at: d.questionOffset, into: &scratch) == nil else { return nil }
        return scratch.bytes.withUnsafeBytes { StoreText.string($0) }
    }

    /// A finished flow as a row, with the values `FlowNDJSONWriter` writes. `uid`, when
    /// given, is the flow's uid made earlier (`FlowUID.string` with this seed); `hosts`
    /// what `format.hostPair` said of its ends, `process` the local owner of its socket.
    public func row(from f: Flow, reason: FlowEndReason?, uid: String? = nil,
                    hosts: (orig: HostInfo, resp: HostInfo)? = nil,
                    process: (process: LocalProcess, isOrig: Bool)? = nil) -> FlowRow {
        var r = FlowRow()
        fill(&r, from: f, reason: reason, uid: uid, hosts: hosts, process: process)
        return r
    }

    /// `row(from:reason:uid:hosts:process:)` made in `r`, a new `FlowRow()` (the fields
    /// that the flow leaves empty are not set): a store fills the row where it lies in
    /// its batch instead of copying a returned one in.
    public func fill(_ r: inout FlowRow, from f: Flow, reason: FlowEndReason?, uid: String? = nil,
                     hosts: (orig: HostInfo, resp: HostInfo)? = nil,
                     process: (process: LocalProcess, isOrig: Bool)? = nil) {
        if let hosts {
            r.origName = hosts.orig.name.map { StoreText.clean($0.name) }
            r.respName = hosts.resp.name.map { StoreText.clean($0.name) }
            r.origCC = hosts.orig.geo.countryCode; r.respCC = hosts.resp.geo.countryCode
            r.origASN = hosts.orig.geo.asn; r.respASN = hosts.resp.geo.asn
            r.origOrg = hosts.orig.geo.organization.map(StoreText.clean)
            r.respOrg = hosts.resp.geo.organization.map(StoreText.clean)
        }
        if let (p, isOrig) = process {
            r.pid = p.pid; r.process = StoreText.clean(p.command); r.user = StoreText.clean(p.user)
            r.container = p.container.map(StoreText.clean); r.processIsOrig = isOrig
        }
        r.ts = f.startNanos
        r.lastTs = f.lastNanos
        r.uid = uid ?? FlowUID.string(seed: format.uidSeed, flow: f)
        r.origH = f.origAddress; r.origP = f.origPort
        r.respH = f.respAddress; r.respP = f.respPort
        r.proto = StoreText.name(f.transportName)
        r.ipProto = f.proto
        r.service = f.service.map(StoreText.name)
        if f.durationNanos > 0 {
            r.durationNanos = f.durationNanos
            r.origBytes = f.origBytes
            r.respBytes = f.respBytes
        }
        r.connState = f.connState.string
        if !format.localNetworks.isEmpty {
            r.localOrig = format.localNetworks.contains(f.origAddress)
            r.localResp = format.localNetworks.contains(f.respAddress)
        }
        r.missedBytes = f.missedBytes
        r.history = f.history.isEmpty ? nil : f.history.string
        r.origPkts = UInt64(f.orig.packets); r.origIPBytes = f.orig.ipBytes
        r.respPkts = UInt64(f.resp.packets); r.respIPBytes = f.resp.ipBytes
        r.communityID = CommunityID.string(f.key, seed: format.communityIDSeed)
        r.vlan = f.key.vlan != 0 ? f.key.vlan : nil
        r.app = f.app.name
        r.appSource = StoreText.name(f.appSource.name)
        let d = f.details
        r.dnsQuery = d.dnsQuery.map(StoreText.clean)
        r.tlsSNI = d.tlsSNI.map(StoreText.clean)
        r.tlsVersion = d.tlsVersion != 0 ? TLS.versionName(d.tlsVersion) : nil
        r.httpHost = d.httpHost.map(StoreText.clean)
        r.httpMethod = d.httpMethod.map { StoreText.name($0.name) }
        r.httpURI = d.httpPath.map(StoreText.clean)
        r.sshClient = d.sshClient.map(StoreText.clean)
        r.sshServer = d.sshServer.map(StoreText.clean)
        r.quicVersion = d.quicVersion.map { QUIC.versionName($0) }
        if d.tlsChosenVersion != 0 {
            r.tlsChosenVersion = TLS.logVersionName(d.tlsChosenVersion)
            r.tlsCipher = TLS.cipherSuiteName(d.tlsCipher)
        }
        r.tlsNextProtocol = d.tlsALPNChosen.map(StoreText.clean)
        if !d.tlsOfferedVersions.isEmpty {
            r.tlsClientVersions = d.tlsOfferedVersions.map { TLS.logVersionName($0) }.joined(separator: ",")
        }
        if !d.tlsALPNOffered.isEmpty { r.tlsClientALPN = StoreText.clean(d.tlsALPNOffered.joined(separator: ",")) }
        r.ja3 = d.ja3; r.ja3s = d.ja3s; r.ja4 = d.ja4
        if let t = d.tunnel {
            r.tunnel = t.kind.label; r.tunnelID = t.id
            r.tunnelParents = FlowUID.parentsString(seed: format.uidSeed, flow: f)
        }
        if f.isTCP {
            r.origTCPFlags = Self.flagLetters(f.orig.tcpFlags)
            r.respTCPFlags = Self.flagLetters(f.resp.tcpFlags)
        }
        r.origL2Bytes = f.orig.wireBytes
        r.respL2Bytes = f.resp.wireBytes
        r.endReason = reason.map { StoreText.name($0.name) }
    }

    /// The letters of every combination of the nine flags, made once: a flow's two
    /// strings are then copies of short strings (no allocation, no ByteSink) instead of
    /// being built per flow.
    static let flagLetterTable: [String] = (0..<512).map { flags in
        var s = ByteSink(capacity: 12)
        TCP.writeFlagLetters(UInt16(flags), into: &s)
        return s.string
    }

    static func flagLetters(_ flags: UInt16) -> String { flagLetterTable[Int(flags & 0x1FF)] }

    public func row(from a: Alert) -> AlertRow {
        var r = AlertRow()
        r.id = StoreText.clean(a.id)
        r.ts = a.time.totalNanoseconds
        r.severity = a.severity.name
        r.rule = StoreText.clean(a.rule)
        r.kind = StoreText.clean(a.kind)
        r.message = StoreText.clean(a.message)
        r.uid = a.uid.map(StoreText.clean)
        r.hosts = a.hosts
        r.suppressed = a.suppressed
        return r
    }
}

/// Text from packets made storable in both databases: invalid UTF-8 becomes U+FFFD
/// byte by byte, as the NDJSON writer does, and NUL (which PostgreSQL text cannot
/// hold) becomes U+FFFD too.
public enum StoreText {
    public static func string(_ raw: UnsafeRawBufferPointer) -> String {
        // Fast path: printable ASCII and valid UTF-8 without NUL is kept as is.
        var clean = true
        var i = 0
        while i < raw.count {
            let b = raw[i]
            if b == 0 { clean = false; break }
            if b < 0x80 { i += 1; continue }
            let n = ByteSink.utf8SequenceLength(raw, at: i)
            if n == 0 { clean = false; break }
            i += n
        }
        if clean { return String(decoding: raw, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count + 8)
        i = 0
        while i < raw.count {
            let b = raw[i]
            if b == 0 { out.append(contentsOf: [0xEF, 0xBF, 0xBD]); i += 1; continue }
            if b < 0x80 { out.append(b); i += 1; continue }
            let n = ByteSink.utf8SequenceLength(raw, at: i)
            if n == 0 {
                out.append(contentsOf: [0xEF, 0xBF, 0xBD])
                i += 1
            } else {
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[i..<(i + n)]))
                i += n
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A name from the code (a protocol, a state) as a String. Names of up to 15 bytes
    /// are kept inside the String itself, so this allocates nothing, where `"\(name)"`
    /// ran the interpolation machinery for each of a flow's half-dozen names.
    @inline(__always)
    public static func name(_ s: StaticString) -> String {
        s.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
    }

    /// A Swift string is valid UTF-8 already; only NUL needs replacing.
    public static func clean(_ s: String) -> String {
        guard s.utf8.contains(0) else { return s }
        return String(s.unicodeScalars.map { $0 == "\0" ? "\u{FFFD}" : Character($0) })
    }
}
