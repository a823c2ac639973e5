import PostgresNIO
import SniffCore
import SniffDecode

/// The PostgreSQL store: batches load through `COPY ... FROM STDIN` (text format)
/// inside a transaction that also records the batch id; tables are partitioned by day.
/// Unchecked Sendable: `knownPartitions` and `timeout` are under `lock`; the pool is an actor.
public final class PostgresStore: PacketStore, @unchecked Sendable {
    public let target: PostgresTarget
    public var backend: String { "postgresql" }
    public var location: String { target.redacted }
    private let pool: PGPool
    private let lock = ConditionLock()
    /// "table:day" of partitions created (or known to be served by the default one).
    private var knownPartitions: Set<String> = []

    static let dayNanos: Int64 = 86_400_000_000_000
    /// New day partitions made for one batch at most; other days go to the default partition.
    static let maxNewPartitionsPerBatch = 32

    public init(target: PostgresTarget) {
        self.target = target
        pool = PGPool(target: target, logger: pgLogger)
    }

    public func close() async { await pool.close() }

    /// Seconds one operation (a batch's transaction, a query) may take before its
    /// connection is given up as dead.
    public var operationTimeoutSeconds: Double {
        get { lock.withLock { timeout } }
        set { lock.withLock { timeout = newValue } }
    }
    private var timeout = 60.0

    /// Runs `body` on a pooled connection; a connection that failed or did not answer
    /// in time is closed, not reused.
    func withConnection<T: Sendable>(
        _ what: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let conn: PostgresConnection
        do { conn = try await pool.acquire() } catch { throw PostgresStore.map(error, what: "connect", target: target) }
        do {
            let r = try await Deadline.run(seconds: operationTimeoutSeconds, what: what, onTimeout: {
                Task { try? await conn.close() }
            }) { try await body(conn) }
            await pool.release(conn, reusable: true)
            return r
        } catch {
            await pool.release(conn, reusable: false)
            throw PostgresStore.map(error, what: what, target: target)
        }
    }

    static func map(_ error: Error, what: String, target: PostgresTarget) -> StoreError {
        if let e = error as? StoreError { return e }
        if let e = error as? PSQLError {
            let state = e.serverInfo?[.sqlState] ?? ""
            let message = e.serverInfo?[.message] ?? "\(e.code)"
            if e.code == .server {
                // 08: connection exception, 57P: operator intervention (shutdown),
                // 53: insufficient resources, 40: serialization/deadlock: try again.
                if state.hasPrefix("08") || state.hasPrefix("57P") || state.hasPrefix("53") || state.hasPrefix("40") {
                    return .unreachable(
                        "PostgreSQL at \(target.redacted): \(message)", detail: "\(what) sqlstate \(state)")
                }
                if state == "28P01" || state == "28000" {
                    return .unreachable("PostgreSQL at \(target.redacted) refused the login: \(message); check the user and password (PGUSER, PGPASSWORD)",
                                        detail: "\(what) sqlstate \(state)")
                }
                if state == "3D000" {
                    return .unreachable(
                        "PostgreSQL at \(target.redacted): \(message); create it with: createdb \(target.database)",
                        detail: "\(what) sqlstate \(state)")
                }
                return .database("PostgreSQL: \(message)", detail: "\(what) sqlstate \(state)")
            }
            return .unreachable(
                "cannot reach PostgreSQL at \(target.redacted): \(e.code)", detail: "\(what) \(String(reflecting: e))")
        }
        return .unreachable(
            "cannot reach PostgreSQL at \(target.redacted): \(error)", detail: "\(what) \(String(reflecting: error))")
    }

    // MARK: schema

    @discardableResult
    public func migrate() async throws -> [Migration] { try await migrate(through: Schema.latestVersion) }

    /// Applies the versions up to `last` (tests stop early to write an older schema).
    func migrate(through last: Int) async throws -> [Migration] {
        try await withConnection("migrate") { c in
            try await PG.transaction(c) { c in
                try await PG.exec(c, "SELECT pg_advisory_xact_lock(\(PostgresSchema.ddlLockKey))", pgLogger)
                try await PG.exec(c, PostgresQuery(unsafeSQL: Schema.migrationsTable(.postgres)), pgLogger)
                var applied = Set<Int>()
                for try await v in try await c.query("SELECT version FROM sniff_migrations", logger: pgLogger).decode(
                    Int.self) {
                    applied.insert(v)
                }
                var done: [Migration] = []
                for m in try Schema.pending(applied: applied, through: last) {
                    for sql in m.postgres {
                        try await PG.exec(c, PostgresQuery(unsafeSQL: sql), pgLogger)
                    }
                    let now = Timestamp.now().totalNanoseconds
                    try await PG.exec(c, "INSERT INTO sniff_migrations (version, name, applied_at) VALUES (\(m.version), \(m.name), \(now))", pgLogger)
                    done.append(Migration(version: m.version, name: m.name, appliedAt: now))
                }
                return done
            }
        }
    }

    public func info() async throws -> StoreInfo {
        let target = self.target
        return try await withConnection("info") { c in
            var version = ""
            for try await v in try await c.query("SHOW server_version", logger: pgLogger).decode(String.self) {
                version = v
            }
            var info = StoreInfo(
                backend: "postgresql", location: target.redacted, serverVersion: version,
                schemaVersion: 0, latestKnownVersion: Schema.latestVersion)
            var hasTable = false
            for try await n in try await c.query(
                "SELECT count(*) FROM pg_tables WHERE tablename = 'sniff_migrations' AND schemaname = current_schema()",
                logger: pgLogger
            ).decode(Int.self) {
                hasTable = n > 0
            }
            var applied: [Int: Int64] = [:]
            if hasTable {
                for try await (v, at) in try await c.query(
                    "SELECT version, applied_at FROM sniff_migrations", logger: pgLogger
                ).decode((Int, Int64).self) {
                    applied[v] = at
                }
            }
            info.schemaVersion = applied.keys.max() ?? 0
            info.migrations = Schema.migrationStatus(applied: applied)
            if info.schemaVersion > 0 {
                // Live-row counts from the statistics (count(*) over millions of rows is
                // slow), summed over the partitions.
                for t in Schema.infoTables {
                    let q: PostgresQuery = """
                        SELECT COALESCE(SUM(s.n_live_tup), 0)::bigint FROM pg_stat_user_tables s
                        WHERE s.relname = \(t) OR s.relid IN (
                            SELECT i.inhrelid FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = \(t))
                        """
                    for try await n in try await c.query(q, logger: pgLogger).decode(Int64.self) {
                        info.tables.append((t, n))
                    }
                }
                for t in Schema.timeTables {
                    let names = try await PostgresStore.partitionNames(c, table: t, logger: pgLogger)
                    let days = names.compactMap { PostgresStore.day(fromPartition: $0, table: t) }.sorted()
                    info.partitions.append(
                        (t, days.count, days.first.map(TimeText.dayName), days.last.map(TimeText.dayName)))
                }
                for try await s in try await c.query("SELECT pg_database_size(current_database())", logger: pgLogger)
                    .decode(Int64.self) {
                    info.sizeBytes = s
                }
            }
            return info
        }
    }

    // MARK: partitions

    static func partitionName(_ table: String, day: Int64) -> String { "\(table)_p" + TimeText.dayName(day) }

    static func day(fromPartition name: String, table: String) -> Int64? {
        let prefix = table + "_p"
        guard name.hasPrefix(prefix) else { return nil }
        let d = name.dropFirst(prefix.count)
        guard d.count == 8, d.allSatisfy(\.isASCIIDigit), let y = Int(d.prefix(4)),
            let m = Int(d.dropFirst(4).prefix(2)),
            let dd = Int(d.suffix(2))
        else { return nil }
        return Int64(TimeText.daysFromCivil(y, m, dd))
    }

    static func partitionNames(_ c: PostgresConnection, table: String, logger: Logger) async throws -> [String] {
        var out: [String] = []
        let q: PostgresQuery = """
            SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = \(table)
            """
        for try await n in try await c.query(q, logger: pgLogger).decode(String.self) { out.append(n) }
        return out
    }

    /// Creates the day partitions `days` of `table` that this process has not made yet.
    func ensurePartitions(_ table: String, days: Set<Int64>) async throws -> [String] {
        let missing: [Int64] = lock.withLock {
            days.filter { !knownPartitions.contains("\(table):\($0)") }.sorted()
        }
        guard !missing.isEmpty else { return [] }
        var created: [String] = []
        for (k, day) in missing.enumerated() {
            if k >= PostgresStore.maxNewPartitionsPerBatch {
                // Far too many distinct days in one batch (a capture with broken clocks):
                // leave them to the default partition.
                lock.withLock { _ = knownPartitions.insert("\(table):\(day)") }
                continue
            }
            let name = PostgresStore.partitionName(table, day: day)
            let lo = day &* PostgresStore.dayNanos, hi = (day &+ 1) &* PostgresStore.dayNanos
            // DDL takes no parameters; the name and bounds are computed from integers here.
            let sql = "CREATE TABLE IF NOT EXISTS \(name) PARTITION OF \(table) FOR VALUES FROM (\(lo)) TO (\(hi))"
            let made: Bool = try await withConnection("create partition \(name)") { c in
                do {
                    try await PG.transaction(c) { c in
                        try await PG.exec(c, "SELECT pg_advisory_xact_lock(\(PostgresSchema.ddlLockKey))", pgLogger)
                        try await PG.exec(c, PostgresQuery(unsafeSQL: sql), pgLogger)
                    }
                    return true
                } catch let e as PSQLError where e.serverInfo?[.sqlState] == "23514" {
                    // Rows of that day already sit in the default partition: keep using it.
                    return false
                }
            }
            lock.withLock { _ = knownPartitions.insert("\(table):\(day)") }
            if made { created.append(name) }
        }
        return created
    }

    static func days<S: Sequence>(_ times: S) -> Set<Int64> where S.Element == Int64 {
        var out = Set<Int64>()
        var last = Int64.min
        for t in times {
            let d = t >= 0 ? t / dayNanos : (t + 1) / dayNanos - 1
            if d != last { out.insert(d); last = d }
        }
        return out
    }

    // MARK: writing

    @discardableResult
    public func write(_ batch: StoreBatch) async throws -> Bool {
        switch batch.content {
        case .packets(let rows):
            _ = try await ensurePartitions("packets", days: PostgresStore.days(rows.lazy.map(\.ts)))
        case .flows(let rows): _ = try await ensurePartitions("flows", days: PostgresStore.days(rows.lazy.map(\.ts)))
        case .traffic(let rows):
            _ = try await ensurePartitions("traffic", days: PostgresStore.days(rows.lazy.map(\.ts)))
        default: break
        }
        return try await withConnection("write \(batch.content.kindName) batch \(batch.id)") { c in
            try await PG.transaction(c) { c in
                let range = batch.timeRange
                let now = Timestamp.now().totalNanoseconds
                let mark: PostgresQuery = """
                    INSERT INTO sniff_batches (writer_id, seq, sensor, capture_id, kind, row_count, first_ts, last_ts, created_at, stored_at)
                    VALUES (\(batch.id.writer), \(batch.id.seq), \(batch.sensor), \(batch.captureID), \(batch.content.kindName),
                            \(Int64(batch.content.rowCount)), \(range?.0), \(range?.1), \(batch.createdAt), \(now))
                    ON CONFLICT DO NOTHING RETURNING 1
                    """
                var inserted = false
                for try await _ in try await c.query(mark, logger: pgLogger) { inserted = true }
                // Stored before (a replay): the transaction commits nothing.
                guard inserted else { return false }
                try await self.writeContent(batch, c)
                return true
            }
        }
    }

    /// Bytes sent to the server per COPY message.
    static let copyChunk = 1 << 18

    private func writeContent(_ batch: StoreBatch, _ c: PostgresConnection) async throws {
        let prefix = CopyText.prefix(captureID: batch.captureID, sensor: batch.sensor)
        switch batch.content {
        case .capture(let i):
            try await PG.exec(c, PostgresStore.upsertCapture(i), pgLogger)
        case .packets(let rows):
            try await copy(c, table: "packets", columns: Schema.packetWriteColumns, count: rows.count) { out, k in
                let r = rows[k]
                out.packet(r, prefix: prefix)
                out.tab()
                if r.has(.frame), batch.frameInBounds(r) {
                    batch.frames.withUnsafeBytes { f in
                        out.bytea(
                            UnsafeRawBufferPointer(
                                rebasing: f[Int(r.frameOffset)..<(Int(r.frameOffset) + Int(r.frameLength))]))
                    }
                } else {
                    out.nullValue()
                }
                out.newline()
            }
        case .flows(let rows):
            // COPY quotes each name itself.
            let columns = Schema.flowStoredColumns.map { $0.replacingOccurrences(of: "\"", with: "") }
            try await copy(c, table: "flows", columns: columns, count: rows.count) { out, k in
                out.flow(rows[k], prefix: prefix)
            }
            let counts = FlowCounts.count(rows)
            try await copy(c, table: "flow_counts", columns: Schema.flowCountColumns, count: counts.count) { out, k in
                out.sink.bytes.append(contentsOf: prefix)
                out.int(counts[k].key.second); out.tab(); out.uint(UInt64(counts[k].key.ipProto)); out.tab()
                out.text(counts[k].key.app); out.tab(); out.int(counts[k].flows); out.newline()
            }
        case .traffic(let rows):
            try await copy(c, table: "traffic", columns: Schema.trafficColumns, count: rows.count) { out, k in
                out.traffic(rows[k], prefix: prefix)
            }
        case .hosts(let rows):
            for h in rows {
                var b = PostgresBindings()
                b.append(batch.captureID); b.append(batch.sensor); b.append(h.address.description); b.append(h.firstTs)
                b.append(h.lastTs); b.append(h.country); b.append(h.asn.map { Int64($0) }); b.append(h.org)
                b.append(h.category); b.append(h.mac); b.append(h.vendor)
                try await PG.exec(c, PostgresQuery(unsafeSQL: PostgresStore.upsertHostSQL, binds: b), pgLogger)
                guard let name = h.name else { continue }
                var n = PostgresBindings()
                n.append(batch.captureID); n.append(batch.sensor); n.append(h.address.description); n.append(name)
                n.append(h.nameFirstSeen); n.append(h.nameLastSeen); n.append(h.nameSource.rawValue)
                try await PG.exec(
                    c,
                    PostgresQuery(
                        unsafeSQL: Schema.hostNameUpsert.replacingOccurrences(of: "$3,", with: "$3::inet,"),
                        binds: n), pgLogger)
            }
        case .logs(let rows):
            try await copyLogs(rows, prefix: prefix, c)
        case .alerts(let rows):
            for a in rows {
                let hosts = a.hosts.map(\.description).joined(separator: ",")
                let q: PostgresQuery = """
                    INSERT INTO alerts (capture_id, sensor, alert_id, ts, severity, severity_level, rule, kind, message, uid, hosts, suppressed)
                    VALUES (\(batch.captureID), \(batch.sensor), \(a.id), \(a.ts), \(a.severity), \(Schema.severityLevel(a.severity)),
                            \(a.rule), \(a.kind), \(a.message), \(a.uid), \(hosts), \(Int64(clamping: a.suppressed)))
                    """
                try await PG.exec(c, q, pgLogger)
            }
        }
    }

    /// Streams rows through COPY in chunks, encoding the next chunk while the server
    /// parses the previous one.
    func copy(_ c: PostgresConnection, table: String, columns: [String], count: Int,
                      _ encode: (inout CopyText, Int) -> Void) async throws {
        try await c.copyFrom(table: table, columns: columns, format: .text(.init()), logger: pgLogger) { writer in
            var out = CopyText()
            for k in 0..<count {
                encode(&out, k)
                if out.sink.count >= PostgresStore.copyChunk {
                    try await writer.write(ByteBuffer(bytes: out.sink.bytes))
                    out.sink.removeAll()
                }
            }
            if !out.sink.isEmpty { try await writer.write(ByteBuffer(bytes: out.sink.bytes)) }
        }
    }

    /// The address is bound as text and cast (the table's column is inet).
    static let upsertHostSQL = Schema.hostUpsert.replacingOccurrences(of: "$3,", with: "$3::inet,")

    static func upsertCapture(_ i: CaptureInfo) -> PostgresQuery {
        var b = PostgresBindings()
        b.append(i.id); b.append(i.sensor); b.append(i.source); b.append(i.start); b.append(i.end); b.append(i.filters)
        b.append(i.firstPacket); b.append(i.lastPacket)
        for v in [i.packetsSeen, i.packetsMatched, i.bytesSeen, i.packetsStored, i.flows, i.alerts,
                  i.kernelDropped, i.interfaceDropped, i.sniffDropped] { b.append(Int64(clamping: v)) }
        b.append(i.storePackets)
        let counters = Schema.captureCounters
        let cols =
            ["id", "sensor", "source", "start_ns", "end_ns", "filters", "first_packet_ns", "last_packet_ns"] + counters
            + ["store_packets"]
        let values = (1...cols.count).map { "$\($0)" }.joined(separator: ", ")
        let updates = ["end_ns = COALESCE(EXCLUDED.end_ns, captures.end_ns)",
                       "first_packet_ns = LEAST(captures.first_packet_ns, EXCLUDED.first_packet_ns)",
                       "last_packet_ns = GREATEST(captures.last_packet_ns, EXCLUDED.last_packet_ns)"]
            + counters.map { "\($0) = GREATEST(captures.\($0), EXCLUDED.\($0))" }
        let sql =
            "INSERT INTO captures (\(cols.joined(separator: ", "))) VALUES (\(values)) ON CONFLICT (id) DO UPDATE SET "
            + updates.joined(separator: ", ")
        return PostgresQuery(unsafeSQL: sql, binds: b)
    }

    // MARK: retention

    @discardableResult
    public func maintain(now: Int64, retentionCutoff: Int64?) async throws -> MaintenanceReport {
        var report = MaintenanceReport()
        let today = PostgresStore.days([now]).first!
        // Today and the two days ahead exist before any packet of theirs arrives.
        for t in Schema.timeTables {
            report.partitionsCreated += try await ensurePartitions(t, days: [today, today + 1, today + 2])
        }
        guard let cutoff = retentionCutoff else { return report }
        let dropped: [(String, String, Int64)] = try await withConnection("retention") { c in
            var dropped: [(String, String, Int64)] = []
            for t in Schema.timeTables {
                for name in try await PostgresStore.partitionNames(c, table: t, logger: pgLogger) {
                    guard let day = PostgresStore.day(fromPartition: name, table: t),
                          (day + 1) * PostgresStore.dayNanos <= cutoff,
                          name == PostgresStore.partitionName(t, day: day) else { continue }
                    // The name was rebuilt from the parsed day, so it is one of ours.
                    try await PG.exec(c, PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS \(name)"), pgLogger)
                    dropped.append((t, name, day))
                }
            }
            for sql in ["DELETE FROM packets_default WHERE ts < $1", "DELETE FROM flows_default WHERE ts < $1",
                        "DELETE FROM traffic_default WHERE ts < $1",
                        // Flows go by whole days (partitions), so do their counts.
                        "DELETE FROM flow_counts WHERE ts < $1 - (($1 % \(PostgresStore.dayNanos)) + \(PostgresStore.dayNanos)) % \(PostgresStore.dayNanos)",
                        "DELETE FROM alerts WHERE ts < $1",
                        "DELETE FROM dns WHERE ts < $1", "DELETE FROM http WHERE ts < $1", "DELETE FROM tls WHERE ts < $1", "DELETE FROM log_segments WHERE max_ts < $1",
                        "DELETE FROM captures WHERE end_ns IS NOT NULL AND end_ns < $1",
                        "DELETE FROM sniff_batches WHERE stored_at < $1 AND (last_ts IS NULL OR last_ts < $1)"] {
                var b = PostgresBindings()
                b.append(cutoff)
                try await PG.exec(c, PostgresQuery(unsafeSQL: sql, binds: b), pgLogger)
            }
            return dropped
        }
        for (t, name, day) in dropped {
            report.partitionsDropped.append(name)
            lock.withLock { _ = knownPartitions.remove("\(t):\(day)") }
        }
        return report
    }

    // MARK: reading

    func rows(_ what: String, _ sql: String, _ binds: [SQLValue]) async throws -> [PostgresRow] {
        try await withConnection(what) { c in try await PG.rows(c, sql, binds) }
    }

    static let packetSelect = "SELECT " + Schema.packetColumns.map { col -> String in
        switch col {
        // Named, so that a UNION of two such selects has one column per name.
        case "src", "dst": return "host(\(col)) AS \(col)"
        case "eth_src", "eth_dst": return "\(col)::text AS \(col)"
        default: return col
        }
    }.joined(separator: ", ") + " FROM packets"

    public func packets(_ q: PacketQuery) async throws -> Page<StoredPacket> {
        try await readPackets(q, select: Self.packetSelect)
    }

    public func frameSummary(_ filter: TrafficFilter) async throws -> FrameSummary {
        var b = SQLBuilder(.postgres)
        b.packetFilter(filter)
        let sql = "SELECT link, count(*), count(raw), max(caplen) FROM packets" + b.whereClause + " GROUP BY link"
        let links = try await rows("frame summary", sql, b.binds).map {
            let c = PGCells($0)
            return FrameSummary.Link(link: RowNames.link(try c.text(0) ?? ""), packets: try c.int(1) ?? 0,
                                     withBytes: try c.int(2) ?? 0, maxCaplen: try c.int(3) ?? 0)
        }
        return FrameSummary(links: links)
    }

    public func frames(_ q: PacketQuery) async throws -> FramePage {
        let cursor = try Cursor.parse(q.cursor, kind: "r", count: 3)
        let limit = min(max(q.limit, 1), FramePage.pageSize)
        let select = "SELECT ts, capture_id, n, len, link, raw FROM packets",
            order = " ORDER BY ts, capture_id, n LIMIT \(limit + 1)"
        var b = SQLBuilder(.postgres)
        // As in `packets`: each page reads two index ranges, not every match.
        let query = b.packetPage(select, q.filter, order: order) { b in
            b.add("raw IS NOT NULL")
            if let cursor {
                b.add("(ts, capture_id, n) > (\(b.param(cursor.values[0])), \(b.param(cursor.values[1])), \(b.param(cursor.values[2])))")
            }
        }
        var page = FramePage()
        var last: [Int64] = []
        for row in try await rows("frames", query.sql, query.binds) {
            let c = PGCells(row)
            guard page.frames.count < limit else {
                page.nextCursor = Cursor(kind: "r", values: last).text
                break
            }
            let ts = try c.int(0) ?? 0
            last = [ts, try c.int(1) ?? 0, try c.int(2) ?? 0]
            let bytes = try c.row[5].decode(ByteBuffer.self)
            let n = bytes.readableBytes
            page.frames.append(
                FramePage.Frame(
                    ts: ts, wireLength: UInt32(clamping: try c.int(3) ?? 0),
                    link: RowNames.link(try c.text(4) ?? ""), offset: page.bytes.count, count: n))
            bytes.withUnsafeReadableBytes { page.bytes.append(contentsOf: $0) }
        }
        return page
    }

    static let flowSelect = "SELECT id, " + Schema.flowStoredColumns.map { col -> String in
        col == "orig_h" || col == "resp_h" ? "host(\(col))" : col
    }.joined(separator: ", ") + " FROM flows"

    public func flows(_ q: FlowQuery) async throws -> Page<StoredFlow> {
        try await readFlows(q, select: Self.flowSelect)
    }

    var hostQueries: HostQueries {
        HostQueries(dialect: .postgres) { sql, binds in
            try await self.rows("hosts", sql, binds).map { row in
                row.map { cell -> Cell in
                    guard var bytes = cell.bytes else { return .null }
                    switch cell.dataType {
                    case .int2, .int4, .int8, .bool: return (try? cell.decode(Int64.self)).map { .int($0) }
                        ?? (try? cell.decode(Bool.self)).map { .int($0 ? 1 : 0) } ?? .null
                    case .bytea: return .blob(bytes.readBytes(length: bytes.readableBytes) ?? [])
                    default: return (try? cell.decode(String.self)).map { .text($0) } ?? .null
                    }
                }
            }
        }
    }

    public func hosts(_ q: HostQuery) async throws -> Page<HostSummary> { try await hostQueries.hosts(q) }

    public func host(_ address: IPAddress, range: RangeQuery) async throws -> HostDetail {
        try await hostQueries.detail(address, range: range)
    }

    public func processes(_ range: RangeQuery, process: String?, limit: Int) async throws -> [ProcessUsage] {
        try await hostQueries.processes(range, process: process, limit: limit)
    }

    public func networkShares(_ q: NetworkShareQuery) async throws -> [NetworkShare] {
        try await hostQueries.networkShares(q)
    }

    public func protocolSummary(_ range: RangeQuery) async throws -> ProtocolSummaryTable {
        try await readProtocolSummary(range)
    }
    public func timeSeries(_ q: TimeSeriesQuery) async throws -> [TimeSeriesPoint] { try await readTimeSeries(q) }
    public func talkers(_ q: TalkersQuery) async throws -> Talkers { try await readTalkers(q) }

    public func alerts(_ q: AlertQuery) async throws -> Page<StoredAlert> { try await readAlerts(q) }

    public func captures(_ q: CaptureQuery) async throws -> [CaptureInfo] { try await readCaptures(q) }

    public func stats() async throws -> StoreStats { try await readStats() }
}

extension PostgresStore: SQLReading {
    var dialect: SQLDialect { .postgres }

    func read<T: Sendable>(
        _ what: String, _ q: SQLQuery, _ map: @escaping @Sendable (any RowReader) throws -> T
    ) async throws -> [T] {
        try await rows(what, q.sql, q.binds).map { try map(PGCells($0)) }
    }
}

extension PGCells: RowReader {}

/// Small helpers over postgres-nio.
enum PG {
    /// `body` in a transaction, through postgres-nio's `withTransaction` (BEGIN, then
    /// COMMIT, or ROLLBACK when `body` throws). What it throws is the error that broke
    /// the transaction (body's, else COMMIT's or BEGIN's), not postgres-nio's wrapper,
    /// so that callers and `PostgresStore.map` see the server's sqlstate.
    static func transaction<T: Sendable>(
        _ c: PostgresConnection, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        do {
            return try await c.withTransaction(logger: pgLogger) { c in try await body(c) }
        } catch let e as PostgresTransactionError {
            throw e.closureError ?? e.commitError ?? e.beginError ?? e
        }
    }

    /// Runs a statement and drains its (empty) result.
    static func exec(_ c: PostgresConnection, _ q: PostgresQuery, _ logger: Logger) async throws {
        for try await _ in try await c.query(q, logger: logger) {}
    }

    /// The rows of one query built by `SQLBuilder`.
    static func rows(_ c: PostgresConnection, _ sql: String, _ binds: [SQLValue]) async throws -> [PostgresRow] {
        var b = PostgresBindings()
        for v in binds {
            switch v {
            case .int(let x): b.append(x)
            case .text(let s): b.append(s)
            case .blob(let v): b.append(ByteBuffer(bytes: v))
            }
        }
        var out: [PostgresRow] = []
        for try await r in try await c.query(PostgresQuery(unsafeSQL: sql, binds: b), logger: pgLogger) {
            out.append(r)
        }
        return out
    }
}

/// Typed access to one result row by column index.
struct PGCells {
    let row: PostgresRandomAccessRow
    init(_ r: PostgresRow) { row = r.makeRandomAccess() }
    func int(_ i: Int) throws -> Int64? { try row[i].decode(Int64?.self) }
    func text(_ i: Int) throws -> String? { try row[i].decode(String?.self) }
    func bool(_ i: Int) throws -> Bool? { try row[i].decode(Bool?.self) }
}

/// Connections for one store: reused while healthy, closed after a failure.
/// Not postgres-nio's `PostgresClient`: while the server is down, its pool (1.33.2)
/// keeps a lease waiting until connecting has failed for 60 s (its circuit breaker,
/// which `PostgresClient.Configuration` does not expose), where the writer must learn
/// at once that the database is gone, to spill to the journal and say so, and `sniff
/// db info` must answer "cannot reach" without a minute's wait. Here a refused connect
/// fails the call that asked.
actor PGPool {
    let target: PostgresTarget
    let logger: Logger
    private var idle: [PostgresConnection] = []
    private var nextID = 1
    private var tlsContext: NIOSSLContext? = nil
    private var closed = false

    init(target: PostgresTarget, logger: Logger) {
        self.target = target
        self.logger = logger
    }

    func acquire() async throws -> PostgresConnection {
        guard !closed else { throw StoreError.unreachable("the PostgreSQL store is closed", detail: "pool closed") }
        while let c = idle.popLast() {
            if !c.isClosed { return c }
        }
        nextID += 1
        return try await PostgresConnection.connect(configuration: try configuration(), id: nextID, logger: logger)
    }

    func release(_ c: PostgresConnection, reusable: Bool) {
        if reusable && !closed && !c.isClosed && idle.count < 8 {
            idle.append(c)
        } else {
            // Not awaited: closing a connection left mid-COPY by a dead server can wait
            // forever, and the writer must not wait with it.
            Task { try? await c.close() }
        }
    }

    func close() async {
        closed = true
        let all = idle
        idle.removeAll()
        for c in all { Task { try? await c.close() } }
    }

    private func configuration() throws -> PostgresConnection.Configuration {
        var config: PostgresConnection.Configuration
        if target.isUnixSocket {
            config = .init(
                unixSocketPath: target.socketPath, username: target.user, password: target.password,
                database: target.database)
        } else {
            let tls: PostgresConnection.Configuration.TLS
            switch target.sslMode {
            case "disable", "allow":
                tls = .disable
            default:
                if tlsContext == nil {
                    var t = TLSConfiguration.makeClientConfiguration()
                    // libpq's prefer and require encrypt without checking the certificate.
                    if target.sslMode != "verify-ca" && target.sslMode != "verify-full" {
                        t.certificateVerification = .none
                    }
                    tlsContext = try NIOSSLContext(configuration: t)
                }
                tls = target.sslMode == "prefer" ? .prefer(tlsContext!) : .require(tlsContext!)
            }
            config = .init(host: target.host, port: target.port, username: target.user, password: target.password,
                           database: target.database, tls: tls)
        }
        config.options.connectTimeout = .seconds(Int64(target.connectTimeoutSeconds))
        return config
    }
}

/// postgres-nio logs through swift-log; Sniff reports failures itself, so only its
/// critical messages would be shown.
let pgLogger: Logger = {
    var l = Logger(label: "sniff.store")
    l.logLevel = .critical
    return l
}()
