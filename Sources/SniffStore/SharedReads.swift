import SniffCore
import SniffDecode

/// What differs between PostgreSQL and ClickHouse in the reads they share below: how a
/// table is read, how an address column or a code becomes the text `RowMapping` reads.
/// SQLite keeps its own reads (its compact packets and flows are read through key runs).
extension SQLDialect {
    /// `FROM`'s operand for `table`. ClickHouse reads with FINAL: a batch that was
    /// written twice (its rows arrived, its id did not) counts once before its parts merge.
    /// On a cluster `ClickHouseSchema.readTable` names the Distributed table in front.
    func from(_ table: String) -> String { self == .clickhouse ? "\(ClickHouseSchema.readTable(table)) FINAL" : table }

    /// An address column as the text `IPAddress` parses: PostgreSQL's `host()`; on
    /// ClickHouse a mapped IPv4 address as a dotted quad and IPv6 as RFC 5952 text.
    func addressText(_ column: String) -> String {
        switch self {
        case .postgres: return "host(\(column))"
        case .sqlite: return column
        case .clickhouse:
            let mapped = ClickHouseSchema.literal(.blob([UInt8](repeating: 0, count: 10) + [0xFF, 0xFF]))
            return "if(substring(\(column), 1, 12) = \(mapped), IPv4NumToString(reinterpretAsUInt32(reverse(substring(\(column), 13, 4)))), "
                + "IPv6NumToString(\(column)))"
        }
    }

    /// A transport column of the rollups: text on PostgreSQL (NULL for none), a code on
    /// ClickHouse, named here as the other databases store it.
    func transportText(_ column: String) -> String {
        guard self == .clickhouse else { return column }
        let named = TransportKind.allCases.filter { $0 != .none }
        return Self.names(column, named.map { Int64($0.rawValue) }, named.map(\.label))
    }

    /// An app column of the rollups and packets: text (NULL for unknown), or a code.
    func appText(_ column: String) -> String {
        guard self == .clickhouse else { return column }
        let named = AppProtocol.allCases.filter { $0 != .unknown }
        return Self.names(column, named.map { Int64($0.rawValue) }, named.map(\.name))
    }

    /// ClickHouse: `column`'s code as its name, NULL for code 0 (none, unknown).
    private static func names(_ column: String, _ codes: [Int64], _ names: [String]) -> String {
        let c = codes.map { ClickHouseSchema.literal(.int($0)) }.joined(separator: ", ")
        let n = names.map { ClickHouseSchema.literal(.text($0)) }.joined(separator: ", ")
        return "if(\(column) = 0, NULL, transform(toInt64(\(column)), [\(c)], [\(n)], ''))"
    }

    /// ClickHouse sorts NULL (none, unknown) last where SQLite sorts it first: said
    /// so that the time series lists a bucket's keys in SQLite's order.
    var nullsFirst: String { self == .clickhouse ? " NULLS FIRST" : "" }

    /// The start of `ts`'s bucket of `step` nanoseconds.
    func bucket(_ ts: String, _ step: String) -> String {
        self == .clickhouse ? "intDiv(\(ts), \(step)) * \(step)" : "(div(\(ts), \(step)) * \(step))::bigint"
    }
}

extension SQLReading {
    /// Packets newest first; `select` names `Schema.packetColumns` as `RowMapping.packet` reads them.
    func readPackets(_ q: PacketQuery, select: String) async throws -> Page<StoredPacket> {
        let cursor = try Cursor.parse(q.cursor, kind: "p", count: 3)
        let limit = min(max(q.limit, 1), PacketQuery.maximumLimit)
        let orderBy = " ORDER BY ts DESC, capture_id DESC, n DESC"
        var b = SQLBuilder(dialect)
        let whole = { self.pageStatement("packets", select: select, where: $0, orderBy: orderBy, limit: limit + 1) }
        let query = b.packetPage(select, q.filter, order: orderBy + " LIMIT \(limit + 1)", { b in
            if let cursor {
                b.add("(ts, capture_id, n) < (\(b.param(cursor.values[0])), \(b.param(cursor.values[1])), \(b.param(cursor.values[2])))")
            }
        }, whole: whole)
        let rows = try await read("packets", query) { try RowMapping.packet($0) }
        let more = rows.count > limit
        let page = Array(rows.prefix(limit))
        let next =
            more
            ? page.last.map { Cursor(kind: "p", values: [$0.row.ts, $0.captureID, Int64(bitPattern: $0.row.n)]).text }
            : nil
        return Page(rows: page, nextCursor: next)
    }

    /// Flows by `q.sort`, largest first; `select` names an id (the cursor's tie-break)
    /// then `Schema.flowStoredColumns`.
    func readFlows(_ q: FlowQuery, select: String) async throws -> Page<StoredFlow> {
        let cursor = try Cursor.parse(q.cursor, kind: "f", count: 2)
        var b = SQLBuilder(dialect)
        let key = FlowSortKey(q.sort)
        b.flowListing(q, key: key, cursor: cursor)
        let limit = min(max(q.limit, 1), PacketQuery.maximumLimit)
        let sql = pageStatement(
            "flows", select: select, where: b.whereClause, orderBy: " ORDER BY \(key.column) DESC, id DESC",
            limit: limit + 1)
        let rows = try await read("flows", SQLQuery(sql: sql, binds: b.binds)) { c in
            (try c.int(0) ?? 0, try RowMapping.flow(c, from: 1))
        }
        let more = rows.count > limit
        let page = Array(rows.prefix(limit))
        let next = more ? page.last.map { Cursor(kind: "f", values: [key.value($0.1.row), $0.0]).text } : nil
        return Page(rows: page.map(\.1), nextCursor: next)
    }

    func readProtocolSummary(_ range: RangeQuery) async throws -> ProtocolSummaryTable {
        if range.needsFlows { return try await readFlowSummary(range) }
        var b = SQLBuilder(dialect)
        b.rangeFilter(range.asFilter, ts: "ts")
        b.trafficRollupFilter(range.traffic)
        let w = b.whereClause, traffic = dialect.from("traffic")
        let sums = "\(dialect.sum("packets")), \(dialect.sum("bytes"))"
        func grouped(_ name: String, _ none: String) async throws -> [(String, UInt64, UInt64)] {
            try await read(
                "summary", SQLQuery(sql: "SELECT \(name) AS k, \(sums) FROM \(traffic)\(w) GROUP BY k", binds: b.binds)
            ) {
                (try $0.text(0) ?? none, UInt64(clamping: try $0.int(1) ?? 0), UInt64(clamping: try $0.int(2) ?? 0))
            }
        }
        let byTransport = try await grouped(dialect.transportText("transport"), "none")
        let byApp = try await grouped(dialect.appText("app"), "unknown")
        // Flows: whole seconds from flow_counts, the ends of the range from flows.
        let plan = FlowCounts.plan(range)
        var sources: [(table: String, count: String, range: RangeQuery)] = plan.edges.map { ("flows", "count(*)", $0) }
        if let r = plan.counts { sources.append(("flow_counts", dialect.sum("flows"), r)) }
        var flowsByProto: [(UInt8, UInt64)] = []
        var flowsByApp: [(String, UInt64)] = []
        for s in sources {
            var fb = SQLBuilder(dialect)
            fb.rangeFilter(s.range.asFilter, ts: "ts")
            fb.flowProtoFilter(s.range.traffic)
            let fw = fb.whereClause, table = dialect.from(s.table)
            flowsByProto += try await read(
                "summary",
                SQLQuery(sql: "SELECT ip_proto, \(s.count) FROM \(table)\(fw) GROUP BY ip_proto", binds: fb.binds)
            ) {
                (UInt8(truncatingIfNeeded: try $0.int(0) ?? 0), UInt64(clamping: try $0.int(1) ?? 0))
            }
            flowsByApp += try await read(
                "summary", SQLQuery(sql: "SELECT app, \(s.count) FROM \(table)\(fw) GROUP BY app", binds: fb.binds)
            ) {
                (try $0.text(0) ?? "unknown", UInt64(clamping: try $0.int(1) ?? 0))
            }
        }
        return SummaryAssembler.assemble(
            byTransport: byTransport, byApp: byApp, flowsByProto: flowsByProto, flowsByApp: flowsByApp)
    }

    /// The protocol summary of the flows that match an address or port filter and
    /// start in the range (what the per-second rollups cannot answer).
    func readFlowSummary(_ range: RangeQuery) async throws -> ProtocolSummaryTable {
        var b = SQLBuilder(dialect)
        b.flowFilter(range.asFilter)
        let sql = "SELECT ip_proto, app, \(dialect.sum("total_pkts")), \(dialect.sum("total_bytes")), count(*) FROM \(dialect.from("flows"))"
            + b.whereClause + " GROUP BY ip_proto, app"
        let grouped = try await read("summary", SQLQuery(sql: sql, binds: b.binds)) {
            (
                UInt8(truncatingIfNeeded: try $0.int(0) ?? 0), try $0.text(1) ?? "unknown",
                UInt64(clamping: try $0.int(2) ?? 0),
                UInt64(clamping: try $0.int(3) ?? 0), UInt64(clamping: try $0.int(4) ?? 0)
            )
        }
        var t = SummaryAssembler.assembleFlows(grouped)
        t.countedFromFlows = true
        return t
    }

    func readTimeSeries(_ q: TimeSeriesQuery) async throws -> [TimeSeriesPoint] {
        var b = SQLBuilder(dialect)
        b.rangeFilter(q.range.asFilter, ts: "ts")
        b.trafficRollupFilter(q.range.traffic)
        let key = q.by == .transport ? dialect.transportText("transport") : dialect.appText("app")
        let none = q.by == .transport ? "none" : "unknown"
        let step = b.param(q.step.nanoseconds)
        let sql = "SELECT \(dialect.bucket("ts", step)) AS bucket, \(key) AS k, \(dialect.sum("packets")), \(dialect.sum("bytes"))"
            + " FROM \(dialect.from("traffic"))\(b.whereClause) GROUP BY bucket, k ORDER BY bucket DESC, k\(dialect.nullsFirst) LIMIT \(q.maxPoints)"
        let points = try await read("timeseries", SQLQuery(sql: sql, binds: b.binds)) {
            TimeSeriesPoint(
                ts: try $0.int(0) ?? 0, key: try $0.text(1) ?? none, packets: UInt64(clamping: try $0.int(2) ?? 0),
                bytes: UInt64(clamping: try $0.int(3) ?? 0))
        }
        return points.reversed()
    }

    func readTalkers(_ q: TalkersQuery) async throws -> Talkers {
        var b = SQLBuilder(dialect)
        b.flowFilter(q.range.asFilter)
        let w = b.whereClause, flows = dialect.from("flows")
        let limit = min(max(q.limit, 1), PacketQuery.maximumLimit)
        let endpoints = """
            SELECT orig_h AS h, orig_p AS p, proto, total_pkts AS pk, total_bytes AS b FROM \(flows)\(w)
            UNION ALL SELECT resp_h, resp_p, proto, total_pkts, total_bytes FROM \(flows)\(w)
            """
        let sum = dialect.sum("b")
        var t = Talkers()
        t.pairs = try await read("talkers", SQLQuery(sql: "SELECT \(dialect.addressText("h")), p, proto, \(dialect.sum("pk")), \(sum), count(*) FROM (\(endpoints)) e GROUP BY h, p, proto ORDER BY \(sum) DESC, h, p LIMIT \(limit)", binds: b.binds)) {
            Talkers.Pair(address: IPAddress(try $0.text(0) ?? "") ?? .none, port: UInt16(truncatingIfNeeded: try $0.int(1) ?? 0),
                         proto: try $0.text(2) ?? "", packets: UInt64(clamping: try $0.int(3) ?? 0),
                         bytes: UInt64(clamping: try $0.int(4) ?? 0), flows: UInt64(clamping: try $0.int(5) ?? 0))
        }
        t.hosts = try await read("talkers", SQLQuery(sql: "SELECT \(dialect.addressText("h")), \(dialect.sum("pk")), \(sum), count(*) FROM (\(endpoints)) e GROUP BY h ORDER BY \(sum) DESC, h LIMIT \(limit)", binds: b.binds)) {
            Talkers.Host(address: IPAddress(try $0.text(0) ?? "") ?? .none, packets: UInt64(clamping: try $0.int(1) ?? 0),
                         bytes: UInt64(clamping: try $0.int(2) ?? 0), flows: UInt64(clamping: try $0.int(3) ?? 0))
        }
        return t
    }
}
