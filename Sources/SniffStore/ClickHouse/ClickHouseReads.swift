import SniffCore
import SniffDecode

/// The API's reads on ClickHouse: the query building and row mapping shared with
/// PostgreSQL (`SQLReading`, `SQLBuilder` in the `.clickhouse` dialect, `RowMapping`),
/// over selects that turn this schema's codes, presence bits and 16-byte addresses
/// into the columns `RowMapping` reads. Answers come back as TabSeparated text
/// (`ClickHouseHTTP.parseTSV`); byte columns are selected as hex.
extension ClickHouseStore: SQLReading {
    var dialect: SQLDialect { .clickhouse }

    func read<T: Sendable>(
        _ what: String, _ q: SQLQuery, _ map: @escaping @Sendable (any RowReader) throws -> T
    ) async throws -> [T] {
        // The builder writes every value into the SQL on this dialect; a bound value
        // here would be a query built for another database.
        guard q.binds.isEmpty else {
            throw StoreError.database("internal: a ClickHouse query with bound values", detail: what)
        }
        return try await http.rows(q.sql + Self.readSettings, what: what).map { try map(TSVRow(cells: $0)) }
    }

    /// A read opens a buffer per column file of every part it visits (1 MiB each by
    /// default): the flows table's ~90 columns over a few dozen day partitions passed
    /// the server's 3.7 GiB query limit on 246 rows (18.16, captures spanning many days).
    static let readSettings = " SETTINGS max_read_buffer_size = 65536"

    /// A packet column that holds a value only when `present` has `field`.
    private static func when(_ field: PacketRow.Fields, _ expr: String) -> String {
        "if(bitAnd(present, \(field.rawValue)) != 0, \(expr), NULL)"
    }

    /// `Schema.packetColumns`, as `RowMapping.packet` reads them (PostgreSQL's text layout).
    static let packetSelect: String = {
        let d = SQLDialect.clickhouse
        let columns: [String] = [
            "capture_id", "sensor", "n", "ts", "len", "caplen", "iface", "concat('linktype_', toString(link))",
            when(.ethSrc, "MACNumToString(eth_src)"), when(.ethDst, "MACNumToString(eth_dst)"), when(.vlan, "vlan"),
            when(.ip, "ip"), d.addressText("src"), d.addressText("dst"), "proto", d.transportText("transport"),
            when(.ports, "sport"), "dport", when(.tcp, "seq"), "ack", "tcp_flags", "tcp_window",
            when(.payloadLen, "payload_len"), when(.icmp, "icmp_type"), "icmp_code", when(.dnsQuery, "dns_query"),
            d.appText("app"), when(.flowUID, "flow_uid"), "if(bitAnd(present, \(PacketRow.Fields.appPayload.rawValue)) != 0, 1, 0)",
            when(.info, "info"),
        ]
        return "SELECT " + columns.joined(separator: ", ") + " FROM " + ClickHouseSchema.readTable("packets")
    }()

    /// The cursor's tie-break for tables without a row id: a hash of the row's identity.
    private static func identity(_ columns: String) -> String { "toInt64(cityHash64(\(columns))) AS id" }

    /// A flow record's identity ends in its batch and position: records of one flow
    /// can share uid and start time (ClickHouseSchema.flowKey).
    static let flowIdentity = identity("sensor, capture_id, uid, writer_id, seq, i")

    /// Every stored column of a flow, read without FINAL (`pageStatement` picks the rows).
    static let flowSelect =
        "SELECT \(flowIdentity), "
        + Schema.flowStoredColumns.map { quoted in
            let col = quoted.replacingOccurrences(of: "\"", with: "")
            return col == "orig_h" || col == "resp_h"
                ? SQLDialect.clickhouse.addressText(col) : col == "user" ? "`user`" : col
        }.joined(separator: ", ") + " FROM " + ClickHouseSchema.readTable("flows")

    /// A page of flows or packets in two reads. `FINAL` on 18.16 opens every column
    /// file of every part of the table at once (it merges all parts, across
    /// partitions): one page of the flows' 115 column files over 48 parts held 5 533
    /// files open, and the API suite's parallel reads passed the server's limit of
    /// 20 000. So the page's rows are chosen by a `FINAL` read of the sorting key and
    /// the columns the filter and order name (8 files a part for flows: 387 open), and
    /// only those rows are read whole, without FINAL (a part at a time), through the
    /// primary key; a batch written twice (ClickHouseStore) leaves two equal rows
    /// there, of which `LIMIT 1 BY` keeps one. `select` reads the table without FINAL.
    func pageStatement(_ table: String, select: String, where: String, orderBy: String, limit: Int) -> String {
        let keys = [
            "flows": (ClickHouseSchema.flowKey, ", " + Self.flowIdentity), "packets": (ClickHouseSchema.packetKey, "")
        ]
        guard let (key, identity) = keys[table] else { return select + `where` + orderBy + " LIMIT \(limit)" }
        let chosen = "SELECT \(key)\(identity) FROM \(dialect.from(table))\(`where`)\(orderBy) LIMIT \(limit)"
        return select
            + " WHERE (\(key)) GLOBAL IN (SELECT \(key) FROM (\(chosen)))\(orderBy) LIMIT 1 BY \(key) LIMIT \(limit)"
    }

    static let alertSelect =
        "SELECT \(identity("sensor, capture_id, alert_id")), capture_id, sensor, alert_id, ts, severity, rule, kind, "
        + "message, uid, hosts, suppressed FROM " + SQLDialect.clickhouse.from("alerts")

    public func packets(_ q: PacketQuery) async throws -> Page<StoredPacket> {
        try await readPackets(q, select: Self.packetSelect)
    }
    public func flows(_ q: FlowQuery) async throws -> Page<StoredFlow> {
        try await readFlows(q, select: Self.flowSelect)
    }
    public func alerts(_ q: AlertQuery) async throws -> Page<StoredAlert> { try await readAlerts(q) }

    /// Protocol logs newest first, by the query PostgreSQL runs when no uid or address
    /// narrows it (ClickHouse has no per-segment index: its log tables are read by time).
    public func logs(_ q: LogQuery) async throws -> Page<StoredLog> {
        let kind = q.kind
        let (sql, binds, limit) = try Schema.logQuerySQL(q, .clickhouse)
        let rows = try await read(kind.table, SQLQuery(sql: sql, binds: binds)) { c in
            try Schema.logRow(kind) { i, type in try Schema.logValue(c, i, type) }
        }
        return Schema.logPage(rows, limit: limit)
    }
    public func protocolSummary(_ range: RangeQuery) async throws -> ProtocolSummaryTable {
        try await readProtocolSummary(range)
    }
    public func timeSeries(_ q: TimeSeriesQuery) async throws -> [TimeSeriesPoint] { try await readTimeSeries(q) }
    public func talkers(_ q: TalkersQuery) async throws -> Talkers { try await readTalkers(q) }

    private static let hasFrame = "bitAnd(present, \(PacketRow.Fields.frame.rawValue)) != 0"

    public func frameSummary(_ filter: TrafficFilter) async throws -> FrameSummary {
        var b = SQLBuilder(.clickhouse)
        b.packetFilter(filter)
        let sql =
            "SELECT link, count(), countIf(\(Self.hasFrame)), max(caplen) FROM \(dialect.from("packets"))"
            + b.whereClause + " GROUP BY link"
        let links = try await read("frame summary", SQLQuery(sql: sql, binds: b.binds)) {
            FrameSummary.Link(
                link: LinkType(UInt32(truncatingIfNeeded: try $0.int(0) ?? 0)), packets: try $0.int(1) ?? 0,
                withBytes: try $0.int(2) ?? 0, maxCaplen: try $0.int(3) ?? 0)
        }
        return FrameSummary(links: links)
    }

    public func frames(_ q: PacketQuery) async throws -> FramePage {
        let cursor = try Cursor.parse(q.cursor, kind: "r", count: 3)
        let limit = min(max(q.limit, 1), FramePage.pageSize)
        let select = "SELECT ts, capture_id, n, len, link, hex(raw) FROM \(dialect.from("packets"))"
        var b = SQLBuilder(.clickhouse)
        let query = b.packetPage(select, q.filter, order: " ORDER BY ts, capture_id, n LIMIT \(limit + 1)") { b in
            b.add(Self.hasFrame)
            if let cursor {
                b.add("(ts, capture_id, n) > (\(b.param(cursor.values[0])), \(b.param(cursor.values[1])), \(b.param(cursor.values[2])))")
            }
        }
        let rows = try await read("frames", query) { c in
            (
                try c.int(0) ?? 0, try c.int(1) ?? 0, try c.int(2) ?? 0, try c.int(3) ?? 0, try c.int(4) ?? 0,
                try c.text(5) ?? ""
            )
        }
        var page = FramePage()
        for (i, r) in rows.enumerated() {
            guard i < limit else {
                let last = rows[i - 1]
                page.nextCursor = Cursor(kind: "r", values: [last.0, last.1, last.2]).text
                break
            }
            let start = page.bytes.count
            try TSVRow.appendHex(r.5, to: &page.bytes)
            page.frames.append(
                FramePage.Frame(
                    ts: r.0, wireLength: UInt32(clamping: r.3), link: LinkType(UInt32(truncatingIfNeeded: r.4)),
                    offset: start, count: page.bytes.count - start))
        }
        return page
    }
}

/// One TabSeparated row (`ClickHouseHTTP.parseTSV`): `\N` is NULL, numbers are text.
struct TSVRow: RowReader {
    let cells: [String?]

    func text(_ i: Int) throws -> String? {
        guard i < cells.count else {
            throw StoreError.database(
                "ClickHouse answered fewer columns than asked", detail: "column \(i) of \(cells.count)")
        }
        return cells[i]
    }

    func int(_ i: Int) throws -> Int64? {
        guard let s = try text(i) else { return nil }
        if let v = Int64(s) { return v }
        if let v = UInt64(s) { return Int64(bitPattern: v) }
        throw StoreError.database(
            "ClickHouse answered a number Sniff cannot read", detail: "column \(i): \(s.prefix(40))")
    }

    /// `hex()`'s upper-case digits as bytes.
    static func appendHex(_ s: String, to out: inout [UInt8]) throws {
        func digit(_ c: UInt8) throws -> UInt8 {
            switch c {
            case 48...57: return c - 48
            case 65...70: return c - 55
            case 97...102: return c - 87
            default: throw StoreError.database("ClickHouse answered bytes Sniff cannot read", detail: "hex digit \(c)")
            }
        }
        let u = Array(s.utf8)
        guard u.count % 2 == 0 else {
            throw StoreError.database("ClickHouse answered bytes Sniff cannot read", detail: "odd hex length")
        }
        out.reserveCapacity(out.count + u.count / 2)
        var i = 0
        while i < u.count { out.append(try digit(u[i]) << 4 | digit(u[i + 1])); i += 2 }
    }
}
