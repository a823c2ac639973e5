import SniffCore
import SniffDecode

/// SQLite's flows table since schema 11: the columns a filter, a sort, a key run, a
/// rollup or the hosts, processes, countries and networks queries read stay columns;
/// the other 32 fields of a `FlowRow` are one `cold` BLOB (`FlowCold`). 35 parameters
/// per row where version 10 bound 54.
enum FlowTable {
    /// Version 11's columns, `cold` last: what its conversion makes and fills.
    static let columnsV11 = [
        "capture_id", "sensor", "ts", "uid", "orig_h", "orig_p", "resp_h", "resp_p", "proto", "ip_proto", "conn_state",
        "app", "dns_query", "tls_sni", "http_host", "ja3", "ja3s", "ja4", "orig_l2_bytes", "resp_l2_bytes",
        "total_bytes", "total_pkts", "orig_cc", "resp_cc", "orig_asn", "resp_asn", "orig_org", "resp_org", "pid", "process",
        "\"user\"", "container", "process_orig", "cold",
    ]
    /// Today's columns: `Schema.flowTunnelVersion` added the tunnel's after `cold`.
    static let columns = columnsV11 + Schema.flowTunnelColumns

    /// Version 11's table (`columnsV11`); `Schema.flowTunnelVersion` adds the rest.
    static var createSQL: String {
        "CREATE TABLE flows (id INTEGER PRIMARY KEY, "
            + columnsV11.map { c in
                c == "cold" ? "cold BLOB NOT NULL" : "\(c) \(SQLiteSchema.flowColumnType(c))"
            }.joined(separator: ", ") + ")"
    }

    static let insertSQL = MultiRowInsert.sql(table: "flows", columns: ["id"] + columns, rows: 1)
    /// Version 11's conversion writes the rows of its own table (`bind` with `tunnels` false).
    static let insertV11SQL = MultiRowInsert.sql(table: "flows", columns: ["id"] + columnsV11, rows: 1)
    /// Flows per statement of the writer's INSERT (see `PacketTable.rowsPerInsert`).
    static let rowsPerInsert = 32
    static let insertManySQL = MultiRowInsert.sql(table: "flows", columns: ["id"] + columns, rows: rowsPerInsert)
    static let parametersPerRow = Int32(columns.count + 1)

    /// Binds one flow to `insertSQL`, or to the row of `insertManySQL` whose first
    /// parameter is `base + 1`; `scratch` (32 bytes) and `arena` hold the two addresses,
    /// the text and the cold BLOB until the statement runs.
    @inline(__always)
    static func bind(_ st: SQLiteStatement, base: Int32 = 0, id: Int64, captureID: Int64, sensor: String, _ f: FlowRow,
                     scratch: UnsafeMutableRawPointer, arena: BindArena, tunnels: Bool = true) {
        var k: Int32 = base
        func int(_ v: Int64?) { k += 1; if let v { st.bind(k, v) } else { st.bindNull(k) } }
        func text(_ v: String?) { k += 1; st.bind(k, v, arena: arena) }
        func address(_ a: IPAddress, at offset: Int) {
            k += 1
            let n = CompactPacket.write(a, to: scratch + offset)
            st.bindBlobStatic(k, UnsafeRawBufferPointer(start: scratch + offset, count: n))
        }
        int(id); int(captureID); text(sensor); int(f.ts)
        k += 1
        FlowUIDBytes.bind(st, k, f.uid, arena: arena)
        address(f.origH, at: 0); int(Int64(f.origP)); address(f.respH, at: 16); int(Int64(f.respP))
        text(f.proto); int(Int64(f.ipProto)); text(f.connState); text(f.app)
        text(f.dnsQuery); text(f.tlsSNI); text(f.httpHost); text(f.ja3); text(f.ja3s); text(f.ja4)
        int(Int64(clamping: f.origL2Bytes)); int(Int64(clamping: f.respL2Bytes))
        int(Int64(clamping: f.origL2Bytes &+ f.respL2Bytes)); int(Int64(clamping: f.origPkts &+ f.respPkts))
        text(f.origCC); text(f.respCC); int(f.origASN.map { Int64($0) }); int(f.respASN.map { Int64($0) })
        text(f.origOrg); text(f.respOrg)
        int(f.pid.map { Int64($0) }); text(f.process); text(f.user); text(f.container)
        int(f.processIsOrig.map { $0 ? 1 : 0 })
        k += 1
        FlowCold.bind(st, k, f, arena: arena)
        guard tunnels else { return }
        text(f.tunnel); int(f.tunnelID.map { Int64($0) }); text(f.tunnelParents)
    }

    /// "id, capture_id, ... cold": what `read` expects.
    static let selectColumns = "id, " + columns.joined(separator: ", ")

    /// Where a column is in `selectColumns`.
    static func selectIndex(_ column: String) -> Int32 { Int32(1 + columns.firstIndex(of: column)!) }

    /// Reads a row of `selectColumns` from column `c0` (the id before it).
    static func read(_ st: SQLiteStatement, from c0: Int32 = 1) -> StoredFlow {
        var k = c0 - 1
        func int() -> Int64? { k += 1; return st.optionalInt64(k) }
        func text() -> String? { k += 1; return st.optionalText(k) }
        func address() -> IPAddress { k += 1; return st.isNull(k) ? .none : CompactPacket.address(st.blob(k)) ?? .none }
        var f = FlowRow()
        let capture = int() ?? 0
        let sensor = text() ?? ""
        f.ts = int() ?? 0
        k += 1
        f.uid = FlowUIDBytes.read(st, k) ?? ""
        f.origH = address(); f.origP = UInt16(truncatingIfNeeded: int() ?? 0)
        f.respH = address(); f.respP = UInt16(truncatingIfNeeded: int() ?? 0)
        f.proto = text() ?? ""; f.ipProto = UInt8(truncatingIfNeeded: int() ?? 0)
        f.connState = text() ?? ""; f.app = text() ?? ""
        f.dnsQuery = text(); f.tlsSNI = text(); f.httpHost = text(); f.ja3 = text(); f.ja3s = text(); f.ja4 = text()
        f.origL2Bytes = UInt64(clamping: int() ?? 0); f.respL2Bytes = UInt64(clamping: int() ?? 0)
        k += 2  // total_bytes, total_pkts: sums
        f.origCC = text(); f.respCC = text()
        f.origASN = int().map { UInt32(truncatingIfNeeded: $0) };
        f.respASN = int().map { UInt32(truncatingIfNeeded: $0) }
        f.origOrg = text(); f.respOrg = text()
        f.pid = int().map { Int32(truncatingIfNeeded: $0) }; f.process = text(); f.user = text(); f.container = text()
        f.processIsOrig = int().map { $0 != 0 }
        k += 1
        FlowCold.read(st.blob(k), into: &f)
        f.tunnel = text(); f.tunnelID = int().map { UInt32(truncatingIfNeeded: $0) }; f.tunnelParents = text()
        return StoredFlow(sensor: sensor, captureID: capture, row: f)
    }

    /// `flows_v`: every field of the flows as a readable column (addresses as text,
    /// `time` as RFC 3339), in the version-10 order (then, from `Schema.flowTunnelVersion`, the
    /// tunnel's), for people in the sqlite3 shell.
    static func viewSQL(tunnels: Bool) -> String {
        SQLiteSchema.flowViewSQL(
            tunnels ? Schema.flowStoredColumns : Schema.flowColumns, from: "(\(FlowCold.viewColumns))")
    }
}

/// The `cold` BLOB of a flow row, layout version 1. Big-endian; E is 1 byte, 2 when flag
/// bit 10 is set (the texts take more than 255 bytes), 4 with bit 11 (more than 65 535);
/// W is 4 bytes, or 8 when flag bit 8 is set (a value does not fit 32 bits):
///
/// | bytes | what |
/// |---|---|
/// | 1 | layout version (1) |
/// | 4 | flags (bits below) |
/// | 4 | texts present: bit k for text k of `texts` (an absent text is NULL) |
/// | E × 20 | the end of each text k, from the start of the text bytes (absent: the end before) |
/// | W × 5 | last_ts − ts, orig_pkts, orig_ip_bytes, resp_pkts, resp_ip_bytes |
/// | W (bit 9) | missed_bytes (absent: 0) |
/// | W (bit 0) | duration_ns |
/// | W (bit 1) | orig_bytes |
/// | W (bit 2) | resp_bytes |
/// | 2 (bit 7) | vlan |
/// | rest | the present texts' UTF-8, one after another |
///
/// Bits 3 and 4: local_orig is known, and its value; bits 5 and 6 the same for
/// local_resp. The ends sit at fixed places so that plain SQL finds text k with two
/// reads (`viewColumns`).
enum FlowCold {
    static let version: UInt8 = 1

    /// The text fields in the BLOB, in order (bit k of the texts-present word).
    static let texts = [
        "service", "history", "community_id", "app_source", "tls_version", "http_method", "http_uri", "ssh_client",
        "ssh_server", "quic_version", "orig_tcp_flags", "resp_tcp_flags", "end_reason", "tls_chosen_version",
        "tls_cipher", "tls_next_protocol", "tls_client_versions", "tls_client_alpn", "orig_name", "resp_name",
    ]

    enum Bit {
        static let duration: UInt32 = 1 << 0, origBytes: UInt32 = 1 << 1, respBytes: UInt32 = 1 << 2
        static let localOrigKnown: UInt32 = 1 << 3, localOrig: UInt32 = 1 << 4
        static let localRespKnown: UInt32 = 1 << 5, localResp: UInt32 = 1 << 6
        static let vlan: UInt32 = 1 << 7, wide: UInt32 = 1 << 8, missed: UInt32 = 1 << 9, wideText: UInt32 = 1 << 10
        static let widestText: UInt32 = 1 << 11
    }

    /// Bytes per text end for the flags.
    @inline(__always)
    static func endWidth(_ fl: UInt32) -> Int { fl & Bit.widestText != 0 ? 4 : fl & Bit.wideText != 0 ? 2 : 1 }

    /// Calls `body` with each text of `texts`, in order. Inlined: no array per flow.
    @inline(__always)
    static func forEachText(_ f: FlowRow, _ body: (String?) -> Void) {
        body(f.service); body(f.history); body(f.communityID); body(f.appSource); body(f.tlsVersion)
        body(f.httpMethod); body(f.httpURI); body(f.sshClient); body(f.sshServer); body(f.quicVersion)
        body(f.origTCPFlags); body(f.respTCPFlags); body(f.endReason); body(f.tlsChosenVersion); body(f.tlsCipher)
        body(f.tlsNextProtocol); body(f.tlsClientVersions); body(f.tlsClientALPN); body(f.origName); body(f.respName)
    }

    @inline(__always)
    static func bind(_ st: SQLiteStatement, _ k: Int32, _ f: FlowRow, arena: BindArena) {
        var present: UInt32 = 0, textBytes = 0, bit: UInt32 = 1
        forEachText(f) { s in
            if let s { present |= bit; textBytes += s.utf8.count }
            bit <<= 1
        }
        let d = f.lastTs &- f.ts
        let big = UInt64(UInt32.max)
        var fl: UInt32 = 0
        if d < 0 || UInt64(d) > big || f.origPkts > big || f.origIPBytes > big || f.respPkts > big
            || f.respIPBytes > big
            || f.missedBytes > big || (f.durationNanos ?? 0) < 0 || UInt64(f.durationNanos ?? 0) > big
            || (f.origBytes ?? 0) > big || (f.respBytes ?? 0) > big { fl |= Bit.wide }
        let w = fl & Bit.wide != 0 ? 8 : 4
        if textBytes > Int(UInt16.max) {
            fl |= Bit.widestText
        } else if textBytes > Int(UInt8.max) {
            fl |= Bit.wideText
        }
        let e = endWidth(fl)
        var size = 9 + texts.count * e + 5 * w + textBytes
        if f.missedBytes != 0 { fl |= Bit.missed; size += w }
        if f.durationNanos != nil { fl |= Bit.duration; size += w }
        if f.origBytes != nil { fl |= Bit.origBytes; size += w }
        if f.respBytes != nil { fl |= Bit.respBytes; size += w }
        if let v = f.localOrig { fl |= Bit.localOrigKnown | (v ? Bit.localOrig : 0) }
        if let v = f.localResp { fl |= Bit.localRespKnown | (v ? Bit.localResp : 0) }
        if f.vlan != nil { fl |= Bit.vlan; size += 2 }
        let write = { (p: UnsafeMutableRawPointer) in
            var o = BlobWriter(p)
            o.u8(version); o.u32(fl); o.u32(present)
            var end = 0
            forEachText(f) { s in
                if let s { end += s.utf8.count }
                switch e {
                case 1: o.u8(UInt8(truncatingIfNeeded: end))
                case 2: o.u16(UInt16(truncatingIfNeeded: end))
                default: o.u32(UInt32(truncatingIfNeeded: end))
                }
            }
            let wide = fl & Bit.wide != 0
            o.word(UInt64(bitPattern: d), wide: wide)
            o.word(f.origPkts, wide: wide); o.word(f.origIPBytes, wide: wide)
            o.word(f.respPkts, wide: wide); o.word(f.respIPBytes, wide: wide)
            if fl & Bit.missed != 0 { o.word(f.missedBytes, wide: wide) }
            if let v = f.durationNanos { o.word(UInt64(bitPattern: v), wide: wide) }
            if let v = f.origBytes { o.word(v, wide: wide) }
            if let v = f.respBytes { o.word(v, wide: wide) }
            if let v = f.vlan { o.u16(v) }
            forEachText(f) { s in
                guard var s else { return }
                s.withUTF8 { o.bytes($0) }
            }
        }
        if let p = arena.reserve(size) {
            write(p)
            st.bindBlobStatic(k, UnsafeRawBufferPointer(start: p, count: size))
        } else {
            let p = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
            defer { p.deallocate() }
            write(p)
            st.bindBlobCopy(k, UnsafeRawBufferPointer(start: p, count: size))
        }
    }

    static func read(_ b: UnsafeRawBufferPointer, into f: inout FlowRow) {
        var x = BlobReader(b)
        _ = x.u8()  // version 1: the only layout so far
        let fl = x.u32(), present = x.u32()
        let e = endWidth(fl)
        let table = x.at
        x.at += texts.count * e
        let wide = fl & Bit.wide != 0
        f.lastTs = f.ts &+ Int64(bitPattern: x.word(wide: wide))
        f.origPkts = x.word(wide: wide); f.origIPBytes = x.word(wide: wide)
        f.respPkts = x.word(wide: wide); f.respIPBytes = x.word(wide: wide)
        f.missedBytes = fl & Bit.missed != 0 ? x.word(wide: wide) : 0
        f.durationNanos = fl & Bit.duration != 0 ? Int64(bitPattern: x.word(wide: wide)) : nil
        f.origBytes = fl & Bit.origBytes != 0 ? x.word(wide: wide) : nil
        f.respBytes = fl & Bit.respBytes != 0 ? x.word(wide: wide) : nil
        f.localOrig = fl & Bit.localOrigKnown != 0 ? fl & Bit.localOrig != 0 : nil
        f.localResp = fl & Bit.localRespKnown != 0 ? fl & Bit.localResp != 0 : nil
        f.vlan = fl & Bit.vlan != 0 ? x.u16() : nil
        let data = x.at
        var ends = BlobReader(b)
        ends.at = table
        var start = 0
        func next(_ k: Int) -> String? {
            let end = Int(ends.uint(e))
            defer { start = end }
            return present & (1 << UInt32(k)) != 0 ? x.text(from: data + start, to: data + end) : nil
        }
        f.service = next(0); f.history = next(1); f.communityID = next(2) ?? ""; f.appSource = next(3) ?? ""
        f.tlsVersion = next(4); f.httpMethod = next(5); f.httpURI = next(6); f.sshClient = next(7)
        f.sshServer = next(8); f.quicVersion = next(9); f.origTCPFlags = next(10); f.respTCPFlags = next(11)
        f.endReason = next(12); f.tlsChosenVersion = next(13); f.tlsCipher = next(14); f.tlsNextProtocol = next(15)
        f.tlsClientVersions = next(16); f.tlsClientALPN = next(17); f.origName = next(18); f.respName = next(19)
    }

    /// A SELECT of every flows column plus the cold fields under their version-10 names,
    /// in built-in SQL: every offset is a sum of the flag bits, and text k lies between
    /// the ends k − 1 and k.
    static let viewColumns: String = {
        let fl = "_fl", tp = "_tp"
        func bit(_ b: UInt32) -> String { ColdSQL.bit(fl, b.trailingZeroBitCount) }
        let w = "(4 + 4 * \(bit(Bit.wide)))", e = "(1 + \(bit(Bit.wideText)) + 3 * \(bit(Bit.widestText)))"
        let numbers = "(9 + \(texts.count) * \(e))"
        var at = "\(numbers) + 5 * \(w)"
        var offsets: [String: String] = [:]
        for (name, b, size) in [
            ("missed", Bit.missed, w), ("duration", Bit.duration, w), ("orig_bytes", Bit.origBytes, w),
            ("resp_bytes", Bit.respBytes, w), ("vlan", Bit.vlan, "2")
        ] {
            offsets[name] = at
            at += " + \(size) * \(bit(b))"
        }
        let data = "(\(at))"
        func end(_ k: Int) -> String {
            k < 0 ? "0" : "CASE WHEN \(bit(Bit.widestText)) = 1 THEN \(ColdSQL.uint("cold", "\(9 + 4 * k)", 4)) "
                + "WHEN \(bit(Bit.wideText)) = 1 THEN \(ColdSQL.uint("cold", "\(9 + 2 * k)", 2)) "
                + "ELSE \(ColdSQL.uint("cold", "\(9 + k)", 1)) END"
        }
        func word(_ offset: String) -> String {
            "CASE \(bit(Bit.wide)) WHEN 1 THEN \(ColdSQL.uint("cold", offset, 8)) ELSE \(ColdSQL.uint("cold", offset, 4)) END"
        }
        func optional(_ name: String, _ b: UInt32) -> String {
            "CASE WHEN \(bit(b)) = 1 THEN \(word(offsets[name]!)) END"
        }
        func boolean(_ known: UInt32, _ value: UInt32) -> String {
            "CASE WHEN \(bit(known)) = 1 THEN \(bit(value)) END"
        }
        var cold = [
            "ts + \(word(numbers)) AS last_ts", "\(word("\(numbers) + \(w)")) AS orig_pkts",
            "\(word("\(numbers) + 2 * \(w)")) AS orig_ip_bytes", "\(word("\(numbers) + 3 * \(w)")) AS resp_pkts",
            "\(word("\(numbers) + 4 * \(w)")) AS resp_ip_bytes",
            "COALESCE(\(optional("missed", Bit.missed)), 0) AS missed_bytes",
            "\(optional("duration", Bit.duration)) AS duration_ns",
            "\(optional("orig_bytes", Bit.origBytes)) AS orig_bytes",
            "\(optional("resp_bytes", Bit.respBytes)) AS resp_bytes",
            "\(boolean(Bit.localOrigKnown, Bit.localOrig)) AS local_orig",
            "\(boolean(Bit.localRespKnown, Bit.localResp)) AS local_resp",
            "CASE WHEN \(bit(Bit.vlan)) = 1 THEN \(ColdSQL.uint("cold", offsets["vlan"]!, 2)) END AS vlan",
        ]
        cold += texts.enumerated().map { k, name in
            "CASE WHEN \(ColdSQL.bit(tp, k)) = 1 THEN CAST(substr(cold, \(data) + \(end(k - 1)) + 1, "
                + "\(end(k)) - \(end(k - 1))) AS TEXT) END AS \(name)"
        }
        return "SELECT l0.*, " + cold.joined(separator: ", ")
            + " FROM (SELECT fl.*, \(ColdSQL.uint("fl.cold", "1", 4)) AS _fl, "
            + "\(ColdSQL.uint("fl.cold", "5", 4)) AS _tp FROM flows fl) l0"
    }()
}
