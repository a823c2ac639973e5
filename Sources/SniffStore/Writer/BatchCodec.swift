import SniffCore
import SniffDecode

/// The journal's binary form of a batch: little-endian integers, length-prefixed
/// UTF-8 strings, presence bytes for optionals. Versioned by the journal header.
enum BatchCodec {
    static func encode(_ b: StoreBatch, into w: inout BinaryWriter) {
        w.int64(b.id.writer); w.int64(b.id.seq)
        w.string(b.sensor)
        w.int64(b.captureID)
        w.int64(b.createdAt)
        switch b.content {
        case .capture(let c):
            w.uint8(0)
            encode(c, into: &w)
        case .packets(let rows):
            w.uint8(1)
            w.uint32(UInt32(rows.count))
            for r in rows { encode(r, into: &w) }
            // The kept bytes follow the rows, only when a row has some: a journal
            // written before --store-raw existed reads the same.
            if rows.contains(where: { $0.has(.frame) }) {
                w.uint32(UInt32(b.frames.count))
                w.bytes.append(contentsOf: b.frames)
            }
        case .flows(let rows):
            // Kind 11: kind 6's row (kind 5's followed by the hosts and the process),
            // then the tunnel. Journals written before hold kind 2, 5 or 6, which still read.
            w.uint8(11)
            w.uint32(UInt32(rows.count))
            for r in rows {
                encode(r, into: &w)
                for s in r.handshakeColumns { w.optionalString(s) }
                encodeEnrichment(r, into: &w)
                w.optionalString(r.tunnel); w.optionalInt64(r.tunnelID.map { Int64($0) });
                w.optionalString(r.tunnelParents)
            }
        case .alerts(let rows):
            w.uint8(3)
            w.uint32(UInt32(rows.count))
            for r in rows { encode(r, into: &w) }
        case .hosts(let rows):
            // Kind 10: kind 7's row followed by the MAC and vendor (kind 9) and the
            // name's source (journals written before hold kind 7 or 9, which still read).
            w.uint8(10)
            w.uint32(UInt32(rows.count))
            for h in rows { encode(h, into: &w) }
        case .logs(let rows):
            w.uint8(8)
            w.uint32(UInt32(rows.count))
            for r in rows { encode(r, into: &w) }
        case .traffic(let rows):
            w.uint8(4)
            w.uint32(UInt32(rows.count))
            for r in rows {
                w.int64(r.ts); w.uint8(r.transport.rawValue); w.uint8(r.app.rawValue)
                w.int64(r.packets); w.int64(r.bytes)
            }
        }
    }

    static func decode(_ r: inout BinaryReader) throws -> StoreBatch {
        let id = BatchID(writer: try r.int64(), seq: try r.int64())
        let sensor = try r.string()
        let capture = try r.int64()
        let createdAt = try r.int64()
        let kind = try r.uint8()
        let content: BatchContent
        var frames: [UInt8] = []
        switch kind {
        case 0:
            content = .capture(try decodeCapture(&r))
        case 1:
            let n = Int(try r.uint32())
            var rows: [PacketRow] = []
            rows.reserveCapacity(n)
            for _ in 0..<n { rows.append(try decodePacket(&r)) }
            if rows.contains(where: { $0.has(.frame) }) {
                frames = Array(try r.take(Int(try r.uint32())))
            }
            content = .packets(rows)
        case 2:
            let n = Int(try r.uint32())
            var rows: [FlowRow] = []
            rows.reserveCapacity(n)
            for _ in 0..<n { rows.append(try decodeFlow(&r)) }
            content = .flows(rows)
        case 5, 6, 11:
            let n = Int(try r.uint32())
            var rows: [FlowRow] = []
            rows.reserveCapacity(n)
            for _ in 0..<n {
                var f = try decodeFlow(&r)
                f.handshakeColumns = try Schema.flowHandshakeColumns.map { _ in try r.optionalString() }
                if kind >= 6 { try decodeEnrichment(&r, into: &f) }
                if kind == 11 {
                    f.tunnel = try r.optionalString()
                    if let id = try r.optionalInt64() {
                        guard let v = UInt32(exactly: id) else { throw BinaryReader.Failure.invalid }
                        f.tunnelID = v
                    }
                    f.tunnelParents = try r.optionalString()
                }
                rows.append(f)
            }
            content = .flows(rows)
        case 7, 9, 10:
            let n = Int(try r.uint32())
            var rows: [HostRow] = []
            for _ in 0..<n {
                var h = try decodeHost(&r)
                if kind >= 9 { h.mac = try r.optionalString(); h.vendor = try r.optionalString() }
                if kind >= 10 {
                    guard let source = HostNameSource(rawValue: try r.string()) else {
                        throw BinaryReader.Failure.invalid
                    }
                    h.nameSource = source
                }
                rows.append(h)
            }
            content = .hosts(rows)
        case 8:
            let n = Int(try r.uint32())
            var rows: [LogRow] = []
            for _ in 0..<n { rows.append(try decodeLog(&r)) }
            content = .logs(rows)
        case 3:
            let n = Int(try r.uint32())
            var rows: [AlertRow] = []
            for _ in 0..<n { rows.append(try decodeAlert(&r)) }
            content = .alerts(rows)
        case 4:
            let n = Int(try r.uint32())
            var rows: [TrafficRow] = []
            for _ in 0..<n {
                let ts = try r.int64()
                guard let t = TransportKind(rawValue: try r.uint8()),
                    let a = AppProtocol.stored(rawValue: try r.uint8())
                else {
                    throw BinaryReader.Failure.invalid
                }
                rows.append(TrafficRow(ts: ts, transport: t, app: a, packets: try r.int64(), bytes: try r.int64()))
            }
            content = .traffic(rows)
        default:
            throw BinaryReader.Failure.invalid
        }
        let batch = StoreBatch(
            id: id, sensor: sensor, captureID: capture, content: content, createdAt: createdAt, frames: frames)
        if case .packets(let rows) = content, !rows.allSatisfy(batch.frameInBounds) {
            throw BinaryReader.Failure.invalid
        }
        return batch
    }

    // MARK: rows

    static func encode(_ c: CaptureInfo, into w: inout BinaryWriter) {
        w.int64(c.id); w.string(c.sensor); w.string(c.source); w.int64(c.start)
        w.optionalInt64(c.end); w.string(c.filters)
        w.optionalInt64(c.firstPacket); w.optionalInt64(c.lastPacket)
        for v in [c.packetsSeen, c.packetsMatched, c.bytesSeen, c.packetsStored, c.flows, c.alerts,
                  c.kernelDropped, c.interfaceDropped, c.sniffDropped] { w.uint64(v) }
        w.string(c.storePackets)
    }

    static func decodeCapture(_ r: inout BinaryReader) throws -> CaptureInfo {
        var c = CaptureInfo(id: try r.int64(), sensor: try r.string(), source: try r.string(), start: try r.int64())
        c.end = try r.optionalInt64()
        c.filters = try r.string()
        c.firstPacket = try r.optionalInt64()
        c.lastPacket = try r.optionalInt64()
        c.packetsSeen = try r.uint64(); c.packetsMatched = try r.uint64(); c.bytesSeen = try r.uint64()
        c.packetsStored = try r.uint64(); c.flows = try r.uint64(); c.alerts = try r.uint64()
        c.kernelDropped = try r.uint64(); c.interfaceDropped = try r.uint64(); c.sniffDropped = try r.uint64()
        c.storePackets = try r.string()
        return c
    }

    static func encode(_ p: PacketRow, into w: inout BinaryWriter) {
        w.uint32(p.present.rawValue)
        w.uint64(p.n); w.int64(p.ts); w.uint32(p.len); w.uint32(p.caplen); w.uint32(p.iface); w.uint32(p.link.rawValue)
        if p.has(.ethSrc) { w.uint64(p.ethSrc.value) }
        if p.has(.ethDst) { w.uint64(p.ethDst.value) }
        if p.has(.vlan) { w.uint16(p.vlan) }
        if p.has(.ip) { w.uint8(p.ipVersion); w.uint8(p.proto); w.address(p.src); w.address(p.dst) }
        w.uint8(p.transport.rawValue)
        if p.has(.ports) { w.uint16(p.sport); w.uint16(p.dport) }
        if p.has(.tcp) { w.uint32(p.seq); w.uint32(p.ack); w.uint16(p.tcpFlags); w.uint16(p.window) }
        if p.has(.payloadLen) { w.uint32(p.payloadLen) }
        if p.has(.icmp) { w.uint8(p.icmpType); w.uint8(p.icmpCode) }
        w.uint8(p.app.rawValue)
        if p.has(.dnsQuery) { w.string(p.dnsQuery ?? "") }
        if p.has(.flowUID) { w.string(p.flowUID ?? "") }
        if p.has(.frame) { w.uint32(p.frameOffset); w.uint32(p.frameLength) }
        // Last, so that a journal written before the Info line reads the same.
        if p.has(.info) { w.string(p.info ?? "") }
    }

    static func decodePacket(_ r: inout BinaryReader) throws -> PacketRow {
        var p = PacketRow()
        p.present = PacketRow.Fields(rawValue: try r.uint32())
        p.n = try r.uint64(); p.ts = try r.int64(); p.len = try r.uint32(); p.caplen = try r.uint32()
        p.iface = try r.uint32(); p.link = LinkType(try r.uint32())
        if p.has(.ethSrc) { p.ethSrc = MACAddress(try r.uint64()) }
        if p.has(.ethDst) { p.ethDst = MACAddress(try r.uint64()) }
        if p.has(.vlan) { p.vlan = try r.uint16() }
        if p.has(.ip) {
            p.ipVersion = try r.uint8(); p.proto = try r.uint8(); p.src = try r.address(); p.dst = try r.address()
        }
        guard let t = TransportKind(rawValue: try r.uint8()) else { throw BinaryReader.Failure.invalid }
        p.transport = t
        if p.has(.ports) { p.sport = try r.uint16(); p.dport = try r.uint16() }
        if p.has(.tcp) {
            p.seq = try r.uint32(); p.ack = try r.uint32(); p.tcpFlags = try r.uint16(); p.window = try r.uint16()
        }
        if p.has(.payloadLen) { p.payloadLen = try r.uint32() }
        if p.has(.icmp) { p.icmpType = try r.uint8(); p.icmpCode = try r.uint8() }
        guard let a = AppProtocol.stored(rawValue: try r.uint8()) else { throw BinaryReader.Failure.invalid }
        p.app = a
        if p.has(.dnsQuery) { p.dnsQuery = try r.string() }
        if p.has(.flowUID) { p.flowUID = try r.string() }
        if p.has(.frame) { p.frameOffset = try r.uint32(); p.frameLength = try r.uint32() }
        if p.has(.info) { p.info = try r.string() }
        return p
    }

    static func encode(_ f: FlowRow, into w: inout BinaryWriter) {
        w.int64(f.ts); w.int64(f.lastTs); w.string(f.uid)
        w.address(f.origH); w.uint16(f.origP); w.address(f.respH); w.uint16(f.respP)
        w.string(f.proto); w.uint8(f.ipProto); w.optionalString(f.service)
        w.optionalInt64(f.durationNanos)
        w.optionalInt64(f.origBytes.map { Int64(bitPattern: $0) });
        w.optionalInt64(f.respBytes.map { Int64(bitPattern: $0) })
        w.string(f.connState)
        w.optionalBool(f.localOrig); w.optionalBool(f.localResp)
        w.uint64(f.missedBytes); w.optionalString(f.history)
        w.uint64(f.origPkts); w.uint64(f.origIPBytes); w.uint64(f.respPkts); w.uint64(f.respIPBytes)
        w.string(f.communityID)
        w.optionalInt64(f.vlan.map { Int64($0) })
        w.string(f.app); w.string(f.appSource)
        for s in [f.dnsQuery, f.tlsSNI, f.tlsVersion, f.httpHost, f.httpMethod, f.httpURI, f.sshClient, f.sshServer,
                  f.quicVersion, f.origTCPFlags, f.respTCPFlags] { w.optionalString(s) }
        w.uint64(f.origL2Bytes); w.uint64(f.respL2Bytes)
        w.optionalString(f.endReason)
    }

    static func decodeFlow(_ r: inout BinaryReader) throws -> FlowRow {
        var f = FlowRow()
        f.ts = try r.int64(); f.lastTs = try r.int64(); f.uid = try r.string()
        f.origH = try r.address(); f.origP = try r.uint16(); f.respH = try r.address(); f.respP = try r.uint16()
        f.proto = try r.string(); f.ipProto = try r.uint8(); f.service = try r.optionalString()
        f.durationNanos = try r.optionalInt64()
        f.origBytes = try r.optionalInt64().map { UInt64(bitPattern: $0) }
        f.respBytes = try r.optionalInt64().map { UInt64(bitPattern: $0) }
        f.connState = try r.string()
        f.localOrig = try r.optionalBool(); f.localResp = try r.optionalBool()
        f.missedBytes = try r.uint64(); f.history = try r.optionalString()
        f.origPkts = try r.uint64(); f.origIPBytes = try r.uint64(); f.respPkts = try r.uint64();
        f.respIPBytes = try r.uint64()
        f.communityID = try r.string()
        f.vlan = try r.optionalInt64().map { UInt16(truncatingIfNeeded: $0) }
        f.app = try r.string(); f.appSource = try r.string()
        f.dnsQuery = try r.optionalString(); f.tlsSNI = try r.optionalString(); f.tlsVersion = try r.optionalString()
        f.httpHost = try r.optionalString(); f.httpMethod = try r.optionalString(); f.httpURI = try r.optionalString()
        f.sshClient = try r.optionalString(); f.sshServer = try r.optionalString();
        f.quicVersion = try r.optionalString()
        f.origTCPFlags = try r.optionalString(); f.respTCPFlags = try r.optionalString()
        f.origL2Bytes = try r.uint64(); f.respL2Bytes = try r.uint64()
        f.endReason = try r.optionalString()
        return f
    }

    static func encodeEnrichment(_ f: FlowRow, into w: inout BinaryWriter) {
        for s in [f.origName, f.respName, f.origCC, f.respCC] { w.optionalString(s) }
        w.optionalInt64(f.origASN.map { Int64($0) }); w.optionalInt64(f.respASN.map { Int64($0) })
        w.optionalString(f.origOrg); w.optionalString(f.respOrg)
        w.optionalInt64(f.pid.map { Int64($0) })
        w.optionalString(f.process); w.optionalString(f.user); w.optionalString(f.container)
        w.optionalBool(f.processIsOrig)
    }

    static func decodeEnrichment(_ r: inout BinaryReader, into f: inout FlowRow) throws {
        f.origName = try r.optionalString(); f.respName = try r.optionalString()
        f.origCC = try r.optionalString(); f.respCC = try r.optionalString()
        f.origASN = try r.optionalInt64().map { UInt32(truncatingIfNeeded: $0) }
        f.respASN = try r.optionalInt64().map { UInt32(truncatingIfNeeded: $0) }
        f.origOrg = try r.optionalString(); f.respOrg = try r.optionalString()
        f.pid = try r.optionalInt64().map { Int32(truncatingIfNeeded: $0) }
        f.process = try r.optionalString(); f.user = try r.optionalString(); f.container = try r.optionalString()
        f.processIsOrig = try r.optionalBool()
    }

    static func encode(_ h: HostRow, into w: inout BinaryWriter) {
        w.address(h.address); w.int64(h.firstTs); w.int64(h.lastTs)
        w.optionalString(h.country); w.optionalInt64(h.asn.map { Int64($0) }); w.optionalString(h.org)
        w.string(h.category)
        w.optionalString(h.name); w.int64(h.nameFirstSeen); w.int64(h.nameLastSeen)
        w.optionalString(h.mac); w.optionalString(h.vendor)
        w.string(h.nameSource.rawValue)
    }

    static func decodeHost(_ r: inout BinaryReader) throws -> HostRow {
        var h = HostRow(address: try r.address(), firstTs: try r.int64(), lastTs: try r.int64(), category: "")
        h.country = try r.optionalString(); h.asn = try r.optionalInt64().map { UInt32(truncatingIfNeeded: $0) }
        h.org = try r.optionalString()
        h.category = try r.string()
        h.name = try r.optionalString(); h.nameFirstSeen = try r.int64(); h.nameLastSeen = try r.int64()
        return h
    }

    /// A log row: its kind, the connection, then each value as a tag (0 unset, 1
    /// integer, 2 text, 3 boolean, 4 vector) and its payload.
    static func encode(_ l: LogRow, into w: inout BinaryWriter) {
        w.uint8(l.kind.code); w.int64(l.ts); w.string(l.uid)
        w.address(l.origH); w.uint16(l.origP); w.address(l.respH); w.uint16(l.respP); w.string(l.proto)
        w.uint16(UInt16(l.values.count))
        for v in l.values {
            switch v {
            case .null: w.uint8(0)
            case .int(let x): w.uint8(1); w.int64(x)
            case .text(let s): w.uint8(2); w.string(s)
            case .bool(let b): w.uint8(3); w.uint8(b ? 1 : 0)
            case .list(let items):
                w.uint8(4); w.uint32(UInt32(items.count))
                for s in items { w.string(s) }
            }
        }
    }

    static func decodeLog(_ r: inout BinaryReader) throws -> LogRow {
        guard let kind = LogKind(code: try r.uint8()) else { throw BinaryReader.Failure.invalid }
        var l = LogRow(
            kind: kind, ts: try r.int64(), uid: try r.string(), origH: try r.address(), origP: try r.uint16(),
            respH: try r.address(), respP: try r.uint16(), proto: try r.string(), values: [])
        let n = Int(try r.uint16())
        // A journal written before a version added columns holds fewer: those are unset.
        guard n <= kind.columns.count, n >= kind.createdColumns.count else { throw BinaryReader.Failure.invalid }
        for _ in 0..<n {
            switch try r.uint8() {
            case 0: l.values.append(.null)
            case 1: l.values.append(.int(try r.int64()))
            case 2: l.values.append(.text(try r.string()))
            case 3: l.values.append(.bool(try r.uint8() != 0))
            case 4:
                let count = Int(try r.uint32())
                guard count <= 65_536 else { throw BinaryReader.Failure.invalid }
                var items: [String] = []
                for _ in 0..<count { items.append(try r.string()) }
                l.values.append(.list(items))
            default: throw BinaryReader.Failure.invalid
            }
        }
        l.values += Array(repeating: .null, count: kind.columns.count - n)
        return l
    }

    static func encode(_ a: AlertRow, into w: inout BinaryWriter) {
        w.string(a.id); w.int64(a.ts); w.string(a.severity); w.string(a.rule); w.string(a.kind); w.string(a.message)
        w.optionalString(a.uid)
        w.uint32(UInt32(a.hosts.count))
        for h in a.hosts { w.address(h) }
        w.uint64(a.suppressed)
    }

    static func decodeAlert(_ r: inout BinaryReader) throws -> AlertRow {
        var a = AlertRow()
        a.id = try r.string(); a.ts = try r.int64(); a.severity = try r.string(); a.rule = try r.string()
        a.kind = try r.string(); a.message = try r.string(); a.uid = try r.optionalString()
        let n = Int(try r.uint32())
        guard n <= 4096 else { throw BinaryReader.Failure.invalid }
        for _ in 0..<n { a.hosts.append(try r.address()) }
        a.suppressed = try r.uint64()
        return a
    }
}

/// Appends little-endian values to a byte array.
struct BinaryWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 1 << 16) { bytes.reserveCapacity(capacity) }

    mutating func uint8(_ v: UInt8) { bytes.append(v) }
    mutating func uint16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func uint32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func uint64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func int64(_ v: Int64) { uint64(UInt64(bitPattern: v)) }

    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { u in
            uint32(UInt32(u.count))
            bytes.append(contentsOf: u)
        }
    }

    mutating func optionalString(_ s: String?) {
        if let s { uint8(1); string(s) } else { uint8(0) }
    }

    mutating func optionalInt64(_ v: Int64?) {
        if let v { uint8(1); int64(v) } else { uint8(0) }
    }

    mutating func optionalBool(_ v: Bool?) { uint8(v == nil ? 0 : (v! ? 2 : 1)) }

    mutating func address(_ a: IPAddress) {
        uint8(a.isIPv6 ? 6 : 4)
        if a.isIPv6 { uint64(a.high); uint64(a.low) } else { uint32(a.v4) }
    }
}

/// Reads what `BinaryWriter` wrote; every read checks the bounds.
struct BinaryReader {
    enum Failure: Error { case short, invalid }

    let bytes: UnsafeRawBufferPointer
    var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var isAtEnd: Bool { offset >= bytes.count }

    mutating func take(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, bytes.count - offset >= n else { throw Failure.short }
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
    }

    mutating func uint8() throws -> UInt8 { try take(1)[0] }
    mutating func uint16() throws -> UInt16 { UInt16(littleEndian: try take(2).loadUnaligned(as: UInt16.self)) }
    mutating func uint32() throws -> UInt32 { UInt32(littleEndian: try take(4).loadUnaligned(as: UInt32.self)) }
    mutating func uint64() throws -> UInt64 { UInt64(littleEndian: try take(8).loadUnaligned(as: UInt64.self)) }
    mutating func int64() throws -> Int64 { Int64(bitPattern: try uint64()) }

    mutating func string() throws -> String {
        let n = Int(try uint32())
        return String(decoding: try take(n), as: UTF8.self)
    }

    mutating func optionalString() throws -> String? { try uint8() == 0 ? nil : try string() }
    mutating func optionalInt64() throws -> Int64? { try uint8() == 0 ? nil : try int64() }

    mutating func optionalBool() throws -> Bool? {
        switch try uint8() {
        case 0: return nil
        case 1: return false
        case 2: return true
        default: throw Failure.invalid
        }
    }

    mutating func address() throws -> IPAddress {
        switch try uint8() {
        case 4: return IPAddress(v4: try uint32())
        case 6: return IPAddress(v6High: try uint64(), low: try uint64())
        default: throw Failure.invalid
        }
    }
}
