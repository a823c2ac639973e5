import SniffCore
import SniffDecode

/// A statement and the values bound to its placeholders: what the query builders hand
/// a store to run. Values never become SQL text.
struct SQLQuery: Sendable {
    var sql: String
    var binds: [SQLValue]
}

/// One result row, read by column index, whichever database answered. SQLite's
/// statement (`SQLiteRow`) and PostgreSQL's row (`PGCells`) implement it, so that a
/// row is mapped to Sniff's types once (`RowMapping`) for every backend.
protocol RowReader {
    func int(_ i: Int) throws -> Int64?
    func text(_ i: Int) throws -> String?
    /// A boolean column; where the database has no such type, an integer that is not 0.
    func bool(_ i: Int) throws -> Bool?
}

extension RowReader {
    func bool(_ i: Int) throws -> Bool? { try int(i).map { $0 != 0 } }
}

/// A store that runs a `SQLQuery` and maps each row while it is current.
protocol SQLReading: Sendable {
    var dialect: SQLDialect { get }
    func read<T: Sendable>(
        _ what: String, _ q: SQLQuery, _ map: @escaping @Sendable (any RowReader) throws -> T
    ) async throws -> [T]
    /// The statement of one page of `table`'s rows: `select` (which ends in its FROM),
    /// `where`, `orderBy` and at most `limit` rows.
    func pageStatement(_ table: String, select: String, where: String, orderBy: String, limit: Int) -> String
}

extension SQLReading {
    func pageStatement(_ table: String, select: String, where: String, orderBy: String, limit: Int) -> String {
        select + `where` + orderBy + " LIMIT \(limit)"
    }
}

/// The rows packets, alerts and captures come back as, and the reads whose SQL is the
/// same in every dialect but for `SUM`'s type.
enum RowMapping {
    /// A packet of the text layout (PostgreSQL, and SQLite before schema 7), columns in
    /// `Schema.packetColumns` order from `c0`.
    static func packet(_ c: some RowReader, from c0: Int = 0) throws -> StoredPacket {
        var r = PacketRow()
        var f: PacketRow.Fields = []
        let captureID = try c.int(c0) ?? 0
        let sensor = try c.text(c0 + 1) ?? ""
        r.n = UInt64(truncatingIfNeeded: try c.int(c0 + 2) ?? 0)
        r.ts = try c.int(c0 + 3) ?? 0
        r.len = UInt32(truncatingIfNeeded: try c.int(c0 + 4) ?? 0)
        r.caplen = UInt32(truncatingIfNeeded: try c.int(c0 + 5) ?? 0)
        r.iface = UInt32(truncatingIfNeeded: try c.int(c0 + 6) ?? 0)
        r.link = RowNames.link(try c.text(c0 + 7) ?? "")
        if let m = try c.text(c0 + 8).flatMap(RowNames.mac) { r.ethSrc = m; f.insert(.ethSrc) }
        if let m = try c.text(c0 + 9).flatMap(RowNames.mac) { r.ethDst = m; f.insert(.ethDst) }
        if let v = try c.int(c0 + 10) { r.vlan = UInt16(truncatingIfNeeded: v); f.insert(.vlan) }
        if let v = try c.int(c0 + 11) {
            f.insert(.ip)
            r.ipVersion = UInt8(truncatingIfNeeded: v)
            r.src = IPAddress(try c.text(c0 + 12) ?? "") ?? .none
            r.dst = IPAddress(try c.text(c0 + 13) ?? "") ?? .none
            r.proto = UInt8(truncatingIfNeeded: try c.int(c0 + 14) ?? 0)
        }
        r.transport = try c.text(c0 + 15).map(RowNames.transport) ?? .none
        if let s = try c.int(c0 + 16) {
            f.insert(.ports)
            r.sport = UInt16(truncatingIfNeeded: s); r.dport = UInt16(truncatingIfNeeded: try c.int(c0 + 17) ?? 0)
        }
        if let s = try c.int(c0 + 18) {
            f.insert(.tcp)
            r.seq = UInt32(truncatingIfNeeded: s); r.ack = UInt32(truncatingIfNeeded: try c.int(c0 + 19) ?? 0)
            r.tcpFlags = UInt16(truncatingIfNeeded: try c.int(c0 + 20) ?? 0)
            r.window = UInt16(truncatingIfNeeded: try c.int(c0 + 21) ?? 0)
        }
        if let v = try c.int(c0 + 22) { r.payloadLen = UInt32(truncatingIfNeeded: v); f.insert(.payloadLen) }
        if let v = try c.int(c0 + 23) {
            f.insert(.icmp)
            r.icmpType = UInt8(truncatingIfNeeded: v); r.icmpCode = UInt8(truncatingIfNeeded: try c.int(c0 + 24) ?? 0)
        }
        if let q = try c.text(c0 + 25) { r.dnsQuery = q; f.insert(.dnsQuery) }
        r.app = try c.text(c0 + 26).map(RowNames.app) ?? .unknown
        if let u = try c.text(c0 + 27) { r.flowUID = u; f.insert(.flowUID) }
        if try c.int(c0 + 28) == 1 { f.insert(.appPayload) }
        if let i = try c.text(c0 + 29) { r.info = i; f.insert(.info) }
        r.present = f
        return StoredPacket(sensor: sensor, captureID: captureID, row: r)
    }

    /// A flow in `Schema.flowStoredColumns` order from `c0`, addresses as text
    /// (PostgreSQL and ClickHouse; SQLite's flows are compact).
    static func flow(_ c: some RowReader, from c0: Int) throws -> StoredFlow {
        var k = c0 - 1
        func int() throws -> Int64? { k += 1; return try c.int(k) }
        func text() throws -> String? { k += 1; return try c.text(k) }
        func bool() throws -> Bool? { k += 1; return try c.bool(k) }
        func u64() throws -> UInt64 { UInt64(clamping: try int() ?? 0) }
        var f = FlowRow()
        let capture = try int() ?? 0
        let sensor = try text() ?? ""
        f.ts = try int() ?? 0; f.lastTs = try int() ?? 0; f.uid = try text() ?? ""
        f.origH = IPAddress(try text() ?? "") ?? .none; f.origP = UInt16(truncatingIfNeeded: try int() ?? 0)
        f.respH = IPAddress(try text() ?? "") ?? .none; f.respP = UInt16(truncatingIfNeeded: try int() ?? 0)
        f.proto = try text() ?? ""; f.ipProto = UInt8(truncatingIfNeeded: try int() ?? 0); f.service = try text()
        f.durationNanos = try int(); f.origBytes = try int().map { UInt64(clamping: $0) }
        f.respBytes = try int().map { UInt64(clamping: $0) }
        f.connState = try text() ?? ""; f.localOrig = try bool(); f.localResp = try bool()
        f.missedBytes = try u64(); f.history = try text()
        f.origPkts = try u64(); f.origIPBytes = try u64(); f.respPkts = try u64(); f.respIPBytes = try u64()
        f.communityID = try text() ?? ""; f.vlan = try int().map { UInt16(truncatingIfNeeded: $0) }
        f.app = try text() ?? ""; f.appSource = try text() ?? ""
        f.dnsQuery = try text(); f.tlsSNI = try text(); f.tlsVersion = try text(); f.httpHost = try text()
        f.httpMethod = try text(); f.httpURI = try text(); f.sshClient = try text(); f.sshServer = try text()
        f.quicVersion = try text(); f.origTCPFlags = try text(); f.respTCPFlags = try text()
        f.origL2Bytes = try u64(); f.respL2Bytes = try u64(); f.endReason = try text()
        k += 2  // total_bytes, total_pkts: sums of the above
        f.handshakeColumns = try Schema.flowHandshakeColumns.map { _ in try text() }
        f.origName = try text(); f.respName = try text(); f.origCC = try text(); f.respCC = try text()
        f.origASN = try int().map { UInt32(truncatingIfNeeded: $0) };
        f.respASN = try int().map { UInt32(truncatingIfNeeded: $0) }
        f.origOrg = try text(); f.respOrg = try text()
        f.pid = try int().map { Int32(truncatingIfNeeded: $0) }; f.process = try text(); f.user = try text()
        f.container = try text(); f.processIsOrig = try bool()
        f.tunnel = try text(); f.tunnelID = try int().map { UInt32(truncatingIfNeeded: $0) };
        f.tunnelParents = try text()
        return StoredFlow(sensor: sensor, captureID: capture, row: f)
    }

    static let alertSelect =
        "SELECT id, capture_id, sensor, alert_id, ts, severity, rule, kind, message, uid, hosts, suppressed FROM alerts"

    /// A row of `alertSelect`, with its id (the cursor's tie-break).
    static func alert(_ c: some RowReader) throws -> (id: Int64, alert: StoredAlert) {
        var a = AlertRow()
        a.id = try c.text(3) ?? ""; a.ts = try c.int(4) ?? 0; a.severity = try c.text(5) ?? "";
        a.rule = try c.text(6) ?? ""
        a.kind = try c.text(7) ?? ""; a.message = try c.text(8) ?? ""; a.uid = try c.text(9)
        a.hosts = (try c.text(10) ?? "").split(separator: ",").compactMap { IPAddress(String($0)) }
        a.suppressed = UInt64(clamping: try c.int(11) ?? 0)
        return (try c.int(0) ?? 0, StoredAlert(sensor: try c.text(2) ?? "", captureID: try c.int(1) ?? 0, row: a))
    }

    static let captureSelect = "SELECT id, sensor, source, start_ns, end_ns, filters, first_packet_ns, last_packet_ns, "
        + Schema.captureCounters.joined(separator: ", ") + ", store_packets FROM captures"

    static func capture(_ c: some RowReader) throws -> CaptureInfo {
        var i = CaptureInfo(
            id: try c.int(0) ?? 0, sensor: try c.text(1) ?? "", source: try c.text(2) ?? "", start: try c.int(3) ?? 0)
        i.end = try c.int(4); i.filters = try c.text(5) ?? ""
        i.firstPacket = try c.int(6); i.lastPacket = try c.int(7)
        let v = try (0..<Schema.captureCounters.count).map { UInt64(clamping: try c.int(8 + $0) ?? 0) }
        i.packetsSeen = v[0]; i.packetsMatched = v[1]; i.bytesSeen = v[2]; i.packetsStored = v[3]; i.flows = v[4]
        i.alerts = v[5]; i.kernelDropped = v[6]; i.interfaceDropped = v[7]; i.sniffDropped = v[8]
        i.storePackets = try c.text(8 + Schema.captureCounters.count) ?? ""
        return i
    }
}

extension SQLDialect {
    /// SUM of integers: PostgreSQL's is numeric, cast back to bigint.
    func sum(_ e: String) -> String { self == .postgres ? "SUM(\(e))::bigint" : "SUM(\(e))" }
}

extension SQLReading {
    func readAlerts(_ q: AlertQuery) async throws -> Page<StoredAlert> {
        let cursor = try Cursor.parse(q.cursor, kind: "a", count: 2)
        var b = SQLBuilder(dialect)
        b.rangeFilter(q.range.asFilter, ts: "ts")
        if let s = q.minSeverity { b.add("severity_level >= \(b.param(Schema.severityLevel(s)))") }
        if let r = q.rule { b.add("rule = \(b.param(r))") }
        if let h = q.host { b.add(b.alertHost(h)) }
        if let cursor { b.add("(ts, id) < (\(b.param(cursor.values[0])), \(b.param(cursor.values[1])))") }
        let limit = min(max(q.limit, 1), PacketQuery.maximumLimit)
        let select = dialect == .clickhouse ? ClickHouseStore.alertSelect : RowMapping.alertSelect
        let sql = select + b.whereClause + " ORDER BY ts DESC, id DESC LIMIT \(limit + 1)"
        let rows = try await read("alerts", SQLQuery(sql: sql, binds: b.binds)) { try RowMapping.alert($0) }
        let page = Array(rows.prefix(limit))
        let next = rows.count > limit ? page.last.map { Cursor(kind: "a", values: [$0.alert.row.ts, $0.id]).text } : nil
        return Page(rows: page.map(\.alert), nextCursor: next)
    }

    func readCaptures(_ q: CaptureQuery) async throws -> [CaptureInfo] {
        var b = SQLBuilder(dialect)
        if let s = q.sensor { b.add("sensor = \(b.param(s))") }
        let sql = RowMapping.captureSelect + b.whereClause
            + " ORDER BY start_ns DESC, id DESC LIMIT \(min(max(q.limit, 1), PacketQuery.maximumLimit))"
        return try await read("captures", SQLQuery(sql: sql, binds: b.binds)) { try RowMapping.capture($0) }
    }

    func readStats() async throws -> StoreStats {
        var s = StoreStats()
        let none = [SQLValue]()
        let kinds = try await read(
            "stats",
            SQLQuery(
                sql: "SELECT kind, \(dialect.sum("row_count")), count(*) FROM sniff_batches GROUP BY kind", binds: none)
        ) {
            (try $0.text(0) ?? "", try $0.int(1) ?? 0, try $0.int(2) ?? 0)
        }
        for (kind, rows, batches) in kinds {
            switch kind {
            case "packets": s.packets = rows
            case "flows": s.flows = rows
            case "alerts": s.alerts = rows
            default: break
            }
            s.batches += batches
        }
        let last = "SELECT stored_at, created_at FROM sniff_batches ORDER BY stored_at DESC LIMIT 1"
        if let (stored, created) = try await read(
            "stats", SQLQuery(sql: last, binds: none), { (try $0.int(0), try $0.int(1)) }
        ).first {
            s.lastWrite = stored
            if let stored, let created { s.lagNanos = max(0, stored - created) }
        }
        let sums = ["packets_seen", "kernel_dropped", "interface_dropped", "sniff_dropped"].map { dialect.sum($0) }
        let totals = "SELECT count(*), \(sums.joined(separator: ", ")) FROM captures"
        if let v = try await read(
            "stats", SQLQuery(sql: totals, binds: none),
            { c in try (0..<5).map { UInt64(clamping: try c.int($0) ?? 0) } }
        ).first {
            s.captures = Int64(clamping: v[0])
            s.packetsSeen = v[1]; s.kernelDropped = v[2]; s.interfaceDropped = v[3]; s.sniffDropped = v[4]
        }
        return s
    }
}
