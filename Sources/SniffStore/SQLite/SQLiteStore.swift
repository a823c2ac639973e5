import CSQLite
import SniffCore
import SniffDecode
#if canImport(Glibc)
import Glibc
#endif

/// The embedded store: one SQLite file in WAL mode. Writes go through one connection
/// on a writer thread (prepared statements inside one transaction per batch); reads
/// through another connection on a reader thread, which WAL lets run beside the writes.
public final class SQLiteStore: PacketStore, @unchecked Sendable {
    public let path: String
    public var backend: String { "sqlite" }
    public var location: String { "sqlite:" + path }
    private let writer: SQLiteExecutor
    let reader: SQLiteExecutor
    /// Packets per indexed segment (see `SegmentedTable`). Tests use small ones.
    let segmentRows: Int64
    /// Flows per indexed segment: smaller than the packets', because every query reads
    /// the open tail of flows by scanning it, and flow rows are wider.
    let flowSegmentRows: Int64

    public init(path: String, segmentRows: Int64 = 65_536, flowSegmentRows: Int64? = nil) {
        self.path = path
        self.segmentRows = max(segmentRows, 1)
        self.flowSegmentRows = max(flowSegmentRows ?? min(segmentRows, 16_384), 1)
        writer = SQLiteExecutor(name: "sniff-sqlite-writer") { try SQLiteStore.open(path, writer: true) }
        reader = SQLiteExecutor(name: "sniff-sqlite-reader") { try SQLiteStore.open(path, writer: false) }
    }

    static func open(_ path: String, writer: Bool) throws -> SQLiteConnection {
        let c = try SQLiteConnection(path: path)
        // A new file gets 16 KiB pages (an existing one keeps its own): measured 5-15%
        // faster writing than the default 4 KiB on the small capture, file size equal
        // (docs/PERFORMANCE.md, "Faster SQLite writer"). Must come before WAL is set.
        try c.exec("PRAGMA page_size=16384")
        // WAL: readers do not block the writer; synchronous=NORMAL syncs at checkpoints
        // only (a power cut may lose the last transactions, never corrupt the file).
        try c.exec("PRAGMA journal_mode=WAL")
        try c.exec("PRAGMA synchronous=NORMAL")
        try c.exec("PRAGMA temp_store=MEMORY")
        try c.exec(writer ? "PRAGMA cache_size=-262144" : "PRAGMA cache_size=-65536")
        try c.exec("PRAGMA mmap_size=268435456")
        return c
    }

    public func close() async {
        writer.stop()
        reader.stop()
    }

    // MARK: schema

    @discardableResult
    public func migrate() async throws -> [Migration] { try await migrate(through: Schema.latestVersion) }

    /// Applies the versions up to `last` (tests stop early to write an older schema).
    func migrate(through last: Int) async throws -> [Migration] {
        let sizes = (self.segmentRows, self.flowSegmentRows)
        return try await writer.run { c in
            try SQLiteStore.migrate(c, segmentRows: sizes.0, flowSegmentRows: sizes.1, through: last)
        }
    }

    static func migrate(_ c: SQLiteConnection, segmentRows: Int64, flowSegmentRows: Int64,
                        through last: Int = Schema.latestVersion) throws -> [Migration] {
        try c.exec(Schema.migrationsTable(.sqlite))
        // Without it, every RENAME TABLE and ADD COLUMN re-resolves every view of the file
        // to check and rewrite its references: 0.24 s per rename once `flows_v` (140 kB of
        // SQL) and `packets_v` exist, about 1 s of CPU to create a new file. No view
        // names a table a migration renames (each drops its views first and makes them
        // again), so the checks find nothing to change.
        try c.exec("PRAGMA legacy_alter_table = ON")
        defer { try? c.exec("PRAGMA legacy_alter_table = OFF") }
        try c.exec("BEGIN IMMEDIATE")
        do {
            let applied = Set(try c.query("SELECT version FROM sniff_migrations", []) { Int($0.int64(0)) })
            var done: [Migration] = []
            for m in try Schema.pending(applied: applied, through: last) {
                switch m.sqlite {
                case .statements(let statements):
                    for sql in statements { try c.exec(sql) }
                case .convert(.compactPackets):
                    try SQLiteSchema.migrateToCompactPackets(c, segmentRows: segmentRows)
                case .convert(.segmentedFlows):
                    try SQLiteSchema.migrateToSegmentedFlows(c, segmentRows: flowSegmentRows) { _ in }
                case .convert(.coldColumns):
                    try SQLiteSchema.migrateToColdColumns(c)
                case .convert(.packetCodes):
                    try PacketCodes.migrate(c)
                }
                let now = Timestamp.now().totalNanoseconds
                let st = try c.prepare("INSERT INTO sniff_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)")
                try st.bind([.int(Int64(m.version)), .text(m.name), .int(now)])
                try st.run()
                done.append(Migration(version: m.version, name: m.name, appliedAt: now))
            }
            if applied.contains(SQLiteSchema.compactPacketsVersion)
                || done.contains(where: { $0.version == SQLiteSchema.compactPacketsVersion }) {
                try SQLiteSchema.refreshLookups(c)
            }
            try c.exec("COMMIT")
            return done
        } catch {
            try? c.exec("ROLLBACK")
            throw error
        }
    }

    public func info() async throws -> StoreInfo {
        let path = self.path
        return try await reader.run { c in
            var info = StoreInfo(
                backend: "sqlite", location: "sqlite:" + path, serverVersion: String(cString: sqlite3_libversion()),
                schemaVersion: 0, latestKnownVersion: Schema.latestVersion)
            let hasTable =
                try c.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sniff_migrations'")
                ?? 0
            var applied: [Int: Int64] = [:]
            if hasTable > 0 {
                for (v, at) in try c.query(
                    "SELECT version, applied_at FROM sniff_migrations", [], { (Int($0.int64(0)), $0.int64(1)) }) {
                    applied[v] = at
                }
            }
            info.schemaVersion = applied.keys.max() ?? 0
            info.migrations = Schema.migrationStatus(applied: applied)
            let tables = Set(try c.query("SELECT name FROM sqlite_master WHERE type = 'table'", []) { $0.text(0) })
            for t in Schema.infoTables where tables.contains(t) {
                // Table names come from the fixed list above, never from input.
                info.tables.append((t, try c.scalar("SELECT count(*) FROM \(t)") ?? 0))
            }
            let pages = try c.scalar("PRAGMA page_count") ?? 0
            let size = try c.scalar("PRAGMA page_size") ?? 0
            info.sizeBytes = pages * size
            return info
        }
    }

    // MARK: writing

    @discardableResult
    public func write(_ batch: StoreBatch) async throws -> Bool {
        try await write([batch])[0]
    }

    /// Rows the writer may hand over at once when it has fallen behind: they go in one
    /// transaction. A commit writes every page the transaction changed to the WAL
    /// (and a checkpoint again to the file), and the pages of the trees keyed by
    /// address (hosts) or time (the logs' `ts`, `traffic`) are changed by nearly every
    /// batch: one commit for several batches writes each of them once. Bounded so that
    /// a transaction stays well under a second.
    public var coalesceRows: Int { 65_536 }

    public func write(_ batches: [StoreBatch]) async throws -> [Bool] {
        let sizes = (self.segmentRows, self.flowSegmentRows)
        return try await writer.run { c in
            try SQLiteStore.write(batches, c, segmentRows: sizes.0, flowSegmentRows: sizes.1)
        }
    }

    static let insertBatchSQL = """
        INSERT OR IGNORE INTO sniff_batches (writer_id, seq, sensor, capture_id, kind, row_count, first_ts, last_ts, created_at, stored_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
        """

    /// The batches in one transaction, each with its id in `sniff_batches`; a batch
    /// whose id is there already (a replay) writes nothing and returns false. On a
    /// throw nothing is written.
    static func write(
        _ batches: [StoreBatch], _ c: SQLiteConnection, segmentRows: Int64, flowSegmentRows: Int64
    ) throws -> [Bool] {
        try c.exec("BEGIN IMMEDIATE")
        do {
            var stored: [Bool] = []
            stored.reserveCapacity(batches.count)
            for batch in batches {
                stored.append(try writeOne(batch, c, segmentRows: segmentRows, flowSegmentRows: flowSegmentRows))
            }
            try c.exec("COMMIT")
            return stored
        } catch {
            try? c.exec("ROLLBACK")
            // The kept keys may name rows that were rolled back, and the codes too.
            c.tailKeys.removeAll()
            c.packetCodes.forget()
            throw error
        }
    }

    private static func writeOne(
        _ batch: StoreBatch, _ c: SQLiteConnection, segmentRows: Int64, flowSegmentRows: Int64
    ) throws -> Bool {
        let mark = try c.cached(insertBatchSQL)
        mark.bind(1, batch.id.writer); mark.bind(2, batch.id.seq); mark.bind(3, batch.sensor)
        mark.bind(4, batch.captureID); mark.bind(5, batch.content.kindName); mark.bind(6, Int64(batch.content.rowCount))
        if let (lo, hi) = batch.timeRange {
            mark.bind(7, lo); mark.bind(8, hi)
        } else {
            mark.bindNull(7); mark.bindNull(8)
        }
        mark.bind(9, batch.createdAt); mark.bind(10, Timestamp.now().totalNanoseconds)
        try mark.run()
        guard c.changes == 1 else { return false }
        switch batch.content {
        case .capture(let info): try upsertCapture(info, c)
        case .packets(let rows):
            let first = try insertPackets(rows, batch, c)
            SegmentedTable.packets.kept(c).append(rows, firstID: first)
            try SegmentedTable.packets.indexComplete(c, segmentRows: segmentRows)
            try SegmentedTable.packets.updateTail(c, times: rows.map { $0.ts }, firstNewID: first)
        case .flows(let rows):
            let first = try insertFlows(rows, batch, c)
            SegmentedTable.flows.kept(c).append(rows, firstID: first)
            try SegmentedTable.flows.indexComplete(c, segmentRows: flowSegmentRows)
            try SegmentedTable.flows.updateTail(c, times: rows.map { $0.ts }, firstNewID: first)
        case .alerts(let rows): try insertAlerts(rows, batch, c)
        case .traffic(let rows): try insertTraffic(rows, batch, c)
        case .hosts(let rows): try upsertHosts(rows, batch, c)
        case .logs(let rows): try insertLogs(rows, batch, c)
        }
        return true
    }

    static let upsertCaptureSQL: String = {
        let counters = Schema.captureCounters
        let cols =
            ["id", "sensor", "source", "start_ns", "end_ns", "filters", "first_packet_ns", "last_packet_ns"] + counters
            + ["store_packets"]
        let values = (1...cols.count).map { "?\($0)" }.joined(separator: ", ")
        let updates = ["end_ns = COALESCE(excluded.end_ns, end_ns)",
                       "first_packet_ns = MIN(COALESCE(first_packet_ns, excluded.first_packet_ns), COALESCE(excluded.first_packet_ns, first_packet_ns))",
                       "last_packet_ns = MAX(COALESCE(last_packet_ns, excluded.last_packet_ns), COALESCE(excluded.last_packet_ns, last_packet_ns))"]
            + counters.map { "\($0) = MAX(\($0), excluded.\($0))" }
        return
            "INSERT INTO captures (\(cols.joined(separator: ", "))) VALUES (\(values)) ON CONFLICT (id) DO UPDATE SET "
            + updates.joined(separator: ", ")
    }()

    static func upsertCapture(_ i: CaptureInfo, _ c: SQLiteConnection) throws {
        let st = try c.cached(upsertCaptureSQL)
        st.bind(1, i.id); st.bind(2, i.sensor); st.bind(3, i.source); st.bind(4, i.start)
        if let e = i.end { st.bind(5, e) } else { st.bindNull(5) }
        st.bind(6, i.filters)
        if let v = i.firstPacket { st.bind(7, v) } else { st.bindNull(7) }
        if let v = i.lastPacket { st.bind(8, v) } else { st.bindNull(8) }
        let counters = [i.packetsSeen, i.packetsMatched, i.bytesSeen, i.packetsStored, i.flows, i.alerts,
                        i.kernelDropped, i.interfaceDropped, i.sniffDropped]
        for (k, v) in counters.enumerated() { st.bind(Int32(9 + k), Int64(clamping: v)) }
        st.bind(Int32(9 + counters.count), i.storePackets)
        try st.run()
    }

    /// The hot loop: ids are given (see `SegmentedTable.nextID`), rows go in
    /// `PacketTable.rowsPerInsert` at a time (the rest one by one), addresses, text and
    /// kept bytes are bound without copies by SQLite, and rows are read in place.
    @discardableResult
    static func insertPackets(_ rows: [PacketRow], _ batch: StoreBatch, _ c: SQLiteConnection) throws -> Int64 {
        let one = try c.cached(PacketTable.insertSQL)
        let many = try c.cached(PacketTable.insertManySQL)
        let first = try SegmentedTable.packets.nextID(c)
        let origin = try c.packetCodes.originCode(captureID: batch.captureID, sensor: batch.sensor, c)
        let macs = try rows.withUnsafeBufferPointer { r in try r.indices.map { try c.packetCodes.macCodes(r[$0], c) } }
        try batch.frames.withUnsafeBytes { frames in
            try rows.withUnsafeBufferPointer { rows in
                try MultiRowInsert.run(count: rows.count, per: PacketTable.rowsPerInsert, one: one, many: many) {
                    st, slot, n, space in
                    let raw = rows[n].has(.frame) && batch.frameInBounds(rows[n]) ? frame(of: rows[n], in: frames) : nil
                    PacketTable.bind(st, base: Int32(slot) * PacketTable.parametersPerRow, id: first + Int64(n),
                                     origin: origin, macs[n], rows[n], raw: raw,
                                     scratch: space.scratch, arena: space.arena)
                }
            }
        }
        return first
    }

    @inline(__always)
    static func frame(of r: PacketRow, in frames: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: frames[Int(r.frameOffset)..<(Int(r.frameOffset) + Int(r.frameLength))])
    }

    static let insertFlowCountSQL =
        "INSERT INTO flow_counts (\(Schema.flowCountColumns.joined(separator: ", "))) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"

    static let insertAlertSQL = "INSERT INTO alerts (\(Schema.alertColumns.joined(separator: ", "))) VALUES ("
        + (1...Schema.alertColumns.count).map { "?\($0)" }.joined(separator: ", ") + ")"

    static func insertAlerts(_ rows: [AlertRow], _ batch: StoreBatch, _ c: SQLiteConnection) throws {
        let st = try c.cached(insertAlertSQL)
        for a in rows {
            st.bind(1, batch.captureID); st.bind(2, batch.sensor); st.bind(3, a.id); st.bind(4, a.ts)
            st.bind(5, a.severity); st.bind(6, Schema.severityLevel(a.severity)); st.bind(7, a.rule); st.bind(8, a.kind)
            st.bind(9, a.message); st.bind(10, a.uid); st.bind(11, a.hosts.map(\.description).joined(separator: ","))
            st.bind(12, Int64(clamping: a.suppressed))
            try st.run()
        }
    }

    static let upsertHostSQL = Schema.hostUpsert.replacingOccurrences(of: "$", with: "?")
    static let upsertHostNameSQL = Schema.hostNameUpsert.replacingOccurrences(of: "$", with: "?")

    static func upsertHosts(_ rows: [HostRow], _ batch: StoreBatch, _ c: SQLiteConnection) throws {
        let st = try c.cached(upsertHostSQL)
        let names = try c.cached(upsertHostNameSQL)
        // The 4 or 16 bytes (`SQLiteSchema.hostBytesVersion`), bound without a copy until the next row.
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 8)
        defer { scratch.deallocate() }
        for h in rows {
            let address = UnsafeRawBufferPointer(start: scratch, count: CompactPacket.write(h.address, to: scratch))
            st.bind(1, batch.captureID); st.bind(2, batch.sensor); st.bindBlobStatic(3, address); st.bind(4, h.firstTs)
            st.bind(5, h.lastTs); st.bind(6, h.country)
            if let a = h.asn { st.bind(7, Int64(a)) } else { st.bindNull(7) }
            st.bind(8, h.org); st.bind(9, h.category); st.bind(10, h.mac); st.bind(11, h.vendor)
            try st.run()
            guard let name = h.name else { continue }
            names.bind(1, batch.captureID); names.bind(2, batch.sensor); names.bindBlobStatic(3, address)
            names.bind(4, name)
            names.bind(5, h.nameFirstSeen); names.bind(6, h.nameLastSeen); names.bind(7, h.nameSource.rawValue)
            try names.run()
        }
    }

    static let insertTrafficSQL =
        "INSERT INTO traffic (\(Schema.trafficColumns.joined(separator: ", "))) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"

    static func insertTraffic(_ rows: [TrafficRow], _ batch: StoreBatch, _ c: SQLiteConnection) throws {
        let st = try c.cached(insertTrafficSQL)
        st.bind(1, batch.captureID); st.bind(2, batch.sensor)
        for t in rows {
            st.bind(3, t.ts)
            if t.transport == .none { st.bindNull(4) } else { st.bind(4, t.transport.label) }
            if t.app == .unknown { st.bindNull(5) } else { st.bind(5, t.app.name) }
            st.bind(6, t.packets); st.bind(7, t.bytes)
            try st.run()
        }
    }

    // MARK: retention

    @discardableResult
    public func maintain(now: Int64, retentionCutoff: Int64?) async throws -> MaintenanceReport {
        guard let cutoff = retentionCutoff else { return MaintenanceReport() }
        return try await writer.run { c in
            var report = MaintenanceReport()
            // In slices, so that a long delete never holds the write lock for long.
            report.rowsDeleted += try SegmentedTable.packets.deleteBefore(cutoff, c)
            report.rowsDeleted += try SegmentedTable.flows.deleteBefore(cutoff, c)
            for table in ["flow_counts", "traffic", "alerts"] + LogKind.allCases.map(\.table) {
                while true {
                    try c.exec("BEGIN IMMEDIATE")
                    do {
                        let st = try c.prepare(
                            "DELETE FROM \(table) WHERE rowid IN (SELECT rowid FROM \(table) WHERE ts < ?1 LIMIT 50000)"
                        )
                        st.bind(1, cutoff)
                        try st.run()
                        let n = c.changes
                        try c.exec("COMMIT")
                        report.rowsDeleted += Int64(n)
                        if n < 50_000 { break }
                    } catch {
                        try? c.exec("ROLLBACK")
                        throw error
                    }
                }
            }
            for sql in [
                "DELETE FROM captures WHERE end_ns IS NOT NULL AND end_ns < ?1",
                "DELETE FROM log_segments WHERE max_ts < ?1",
                "DELETE FROM sniff_batches WHERE stored_at < ?1 AND (last_ts IS NULL OR last_ts < ?1)"
            ] {
                let st = try c.prepare(sql)
                st.bind(1, cutoff)
                try st.run()
                report.rowsDeleted += Int64(c.changes)
            }
            return report
        }
    }

    // MARK: reading

    public func packets(_ q: PacketQuery) async throws -> Page<StoredPacket> {
        let cursor = try Cursor.parse(q.cursor, kind: "p", count: 2)
        let limit = min(max(q.limit, 1), PacketQuery.maximumLimit)
        let filter = q.filter
        let found = try await reader.run { c in
            // One read transaction: the segments, their runs and the rows are one snapshot.
            try c.exec("BEGIN")
            defer { try? c.exec("COMMIT") }
            return try PacketSearch.run(
                c, filter: filter, need: limit + 1, cursor: cursor.map { ($0.values[0], $0.values[1]) }
            )
            .map { ($0.id, $0.row) }
        }
        let more = found.count > limit
        let page = Array(found.prefix(limit))
        let next = more ? page.last.map { Cursor(kind: "p", values: [$0.1.row.ts, $0.0]).text } : nil
        return Page(rows: page.map(\.1), nextCursor: next)
    }

    public func frameSummary(_ filter: TrafficFilter) async throws -> FrameSummary {
        var b = SQLBuilder(.sqlite)
        b.compactPacketFilter(filter)
        let sql = "SELECT link, count(*), count(raw), max(caplen) FROM packets" + b.whereClause + " GROUP BY link"
        let binds = b.binds
        let links = try await reader.run { c in
            try c.query(sql, binds) {
                FrameSummary.Link(
                    link: LinkType(UInt32(truncatingIfNeeded: $0.int64(0))), packets: $0.int64(1),
                    withBytes: $0.int64(2), maxCaplen: $0.int64(3))
            }
        }
        return FrameSummary(links: links)
    }

    public func frames(_ q: PacketQuery) async throws -> FramePage {
        let cursor = try Cursor.parse(q.cursor, kind: "r", count: 2)
        let limit = min(max(q.limit, 1), FramePage.pageSize)
        let select = "SELECT id, ts, len, link, raw FROM packets", order = " ORDER BY ts, id LIMIT \(limit + 1)"
        var b = SQLBuilder(.sqlite)
        // Oldest first through every match (an export reads them all): SQLite scans the
        // table and sorts the matches for each page; see docs/SCALING.md.
        b.compactPacketFilter(q.filter)
        b.add("raw IS NOT NULL")
        if let cursor { b.add("(ts, id) > (\(b.param(cursor.values[0])), \(b.param(cursor.values[1])))") }
        let sql = select + b.whereClause + order
        let binds = b.binds
        return try await reader.run { c in
            let st = try c.prepare(sql)
            try st.bind(binds)
            var page = FramePage()
            var last: (Int64, Int64) = (0, 0)
            while try st.step() {
                guard page.frames.count < limit else {
                    page.nextCursor = Cursor(kind: "r", values: [last.0, last.1]).text
                    break
                }
                let ts = st.int64(1)
                last = (ts, st.int64(0))
                let bytes = st.blob(4)
                page.frames.append(
                    FramePage.Frame(
                        ts: ts, wireLength: UInt32(clamping: st.int64(2)),
                        link: LinkType(UInt32(truncatingIfNeeded: st.int64(3))),
                        offset: page.bytes.count, count: bytes.count))
                page.bytes.append(contentsOf: bytes)
            }
            return page
        }
    }

    public func flows(_ q: FlowQuery) async throws -> Page<StoredFlow> {
        let cursor = try Cursor.parse(q.cursor, kind: "f", count: 2)
        var b = SQLBuilder(.sqlite)
        let key = FlowSortKey(q.sort)
        b.flowListing(q, key: key, cursor: cursor)
        let limit = min(max(q.limit, 1), PacketQuery.maximumLimit)
        let (conditions, binds, filter, sortColumn, sortRun) = (b.conditions, b.binds, q.filter, key.column, key.run)
        let keyColumn = FlowTable.selectIndex(key.column)
        let columns = FlowTable.selectColumns
        let rows = try await reader.run { c in
            // One read transaction: the segments, their runs and the rows are one snapshot.
            try c.exec("BEGIN")
            defer { try? c.exec("COMMIT") }
            var search = try SegmentSearch<StoredFlow>(
                c, table: .flows, columns: columns, keyColumn: keyColumn, sortColumn: sortColumn, sortRun: sortRun,
                conditions: conditions, binds: binds, from: filter.from, to: filter.to, need: limit + 1,
                cursor: cursor.map { ($0.values[0], $0.values[1]) }, lookup: SQLiteStore.flowLookup(filter)) {
                FlowTable.read($0)
            }
            try search.run()
            return search.found.map { ($0.id, $0.row) }
        }
        let more = rows.count > limit
        let page = Array(rows.prefix(limit))
        let next = more ? page.last.map { Cursor(kind: "f", values: [key.value($0.1.row), $0.0]).text } : nil
        return Page(rows: page.map(\.1), nextCursor: next)
    }

    public func protocolSummary(_ range: RangeQuery) async throws -> ProtocolSummaryTable {
        if range.needsFlows { return try await flowSummary(range) }
        var b = SQLBuilder(.sqlite)
        b.rangeFilter(range.asFilter, ts: "ts")
        b.trafficRollupFilter(range.traffic)
        let w = b.whereClause, binds = b.binds
        // Flows: whole seconds from flow_counts, the ends of the range from flows.
        let plan = FlowCounts.plan(range)
        var counted: [(sql: String, binds: [SQLValue])] = []
        if let r = plan.counts {
            var cb = SQLBuilder(.sqlite)
            cb.rangeFilter(r.asFilter, ts: "ts")
            cb.flowProtoFilter(r.traffic)
            counted.append(
                ("SELECT ip_proto, SUM(flows) FROM flow_counts\(cb.whereClause) GROUP BY ip_proto", cb.binds))
            counted.append(("SELECT app, SUM(flows) FROM flow_counts\(cb.whereClause) GROUP BY app", cb.binds))
        }
        let edges = plan.edges
        let flowQueries = counted
        return try await reader.run { c in
            let byTransport = try c.query(
                "SELECT transport, SUM(packets), SUM(bytes) FROM traffic\(w) GROUP BY transport", binds
            ) {
                ($0.optionalText(0) ?? "none", UInt64(clamping: $0.int64(1)), UInt64(clamping: $0.int64(2)))
            }
            let byApp = try c.query("SELECT app, SUM(packets), SUM(bytes) FROM traffic\(w) GROUP BY app", binds) {
                ($0.optionalText(0) ?? "unknown", UInt64(clamping: $0.int64(1)), UInt64(clamping: $0.int64(2)))
            }
            var flowsByProto: [(UInt8, UInt64)] = []
            var flowsByApp: [(String, UInt64)] = []
            for k in stride(from: 0, to: flowQueries.count, by: 2) {
                flowsByProto += try c.query(flowQueries[k].sql, flowQueries[k].binds) {
                    (UInt8(truncatingIfNeeded: $0.int64(0)), UInt64(clamping: $0.int64(1)))
                }
                flowsByApp += try c.query(flowQueries[k + 1].sql, flowQueries[k + 1].binds) {
                    ($0.text(0), UInt64(clamping: $0.int64(1)))
                }
            }
            // The partial seconds at the ends: their few flows found through the time runs.
            for r in edges {
                let point = try c.prepare("SELECT ip_proto, app, capture_id, sensor FROM flows WHERE id = ?1")
                var protos: [UInt8: UInt64] = [:], apps: [String: UInt64] = [:]
                for id in try SegmentedTable.flows.ids(c, from: r.from ?? Int64.min, to: r.to ?? Int64.max) {
                    point.bind(1, id)
                    defer { point.rewind() }
                    guard try point.step() else { continue }
                    if let cap = r.capture, point.int64(2) != cap { continue }
                    if let s = r.sensor, point.text(3) != s { continue }
                    let proto = UInt8(truncatingIfNeeded: point.int64(0)), app = point.text(1)
                    if let t = r.traffic.transport, !SQLBuilder.flowTransport(t, matches: proto) { continue }
                    if let a = r.traffic.app, app != a.name { continue }
                    protos[proto, default: 0] += 1
                    apps[app, default: 0] += 1
                }
                flowsByProto += protos.map { ($0.key, $0.value) }
                flowsByApp += apps.map { ($0.key, $0.value) }
            }
            return SummaryAssembler.assemble(
                byTransport: byTransport, byApp: byApp, flowsByProto: flowsByProto, flowsByApp: flowsByApp)
        }
    }

    /// The protocol summary of the flows that match an address or port filter and
    /// start in the range: the few flows the key runs name (`FlowScan`), else one SQL
    /// pass over the flows of the range, as the talkers list makes.
    func flowSummary(_ range: RangeQuery) async throws -> ProtocolSummaryTable {
        let filter = range.asFilter
        return try await reader.run { c in
            try c.exec("BEGIN")
            defer { try? c.exec("COMMIT") }
            struct Key: Hashable { let proto: UInt8; let app: String }
            var sums: [Key: (packets: UInt64, bytes: UInt64, flows: UInt64)] = [:]
            var rows: [(UInt8, String, UInt64, UInt64, UInt64)]
            let narrow = try FlowScan(c: c, columns: "ip_proto, app, total_pkts, total_bytes", filter: filter).run {
                st in
                let k = Key(proto: UInt8(truncatingIfNeeded: st.int64(0)), app: st.text(1))
                let v = sums[k] ?? (0, 0, 0)
                sums[k] = (
                    v.packets &+ UInt64(clamping: st.int64(2)), v.bytes &+ UInt64(clamping: st.int64(3)), v.flows &+ 1
                )
            }
            if narrow {
                rows = sums.map { ($0.key.proto, $0.key.app, $0.value.packets, $0.value.bytes, $0.value.flows) }
            } else {
                let (w, binds) = try Self.flowWhere(c, filter)
                rows = try c.query(
                    "SELECT ip_proto, app, SUM(total_pkts), SUM(total_bytes), count(*) FROM flows\(w)"
                        + " GROUP BY ip_proto, app", binds
                ) {
                    (
                        UInt8(truncatingIfNeeded: $0.int64(0)), $0.text(1), UInt64(clamping: $0.int64(2)),
                        UInt64(clamping: $0.int64(3)),
                        UInt64(clamping: $0.int64(4))
                    )
                }
            }
            var t = SummaryAssembler.assembleFlows(rows)
            t.countedFromFlows = true
            return t
        }
    }

    /// The WHERE clause of a flow filter. No index on the flows' ts since schema 9: a
    /// time range reads the id ranges of the segments whose times can hold it, and the tail.
    static func flowWhere(_ c: SQLiteConnection, _ filter: TrafficFilter) throws -> (String, [SQLValue]) {
        var b = SQLBuilder(.sqlite)
        b.flowFilter(filter)
        if filter.from != nil || filter.to != nil {
            let table = SegmentedTable.flows
            let hit = try table.segments(c).filter { s in
                filter.from.map { s.maxTs >= $0 } ?? true && filter.to.map { s.minTs < $0 } ?? true
            }
            if hit.count <= 500 {
                var parts = hit.map { "id BETWEEN \(b.param($0.first)) AND \(b.param($0.last))" }
                parts.append("id >= \(b.param(try table.tailStart(c)))")
                b.add("(" + parts.joined(separator: " OR ") + ")")
            }
        }
        return (b.whereClause, b.binds)
    }

    public func timeSeries(_ q: TimeSeriesQuery) async throws -> [TimeSeriesPoint] {
        var b = SQLBuilder(.sqlite)
        b.rangeFilter(q.range.asFilter, ts: "ts")
        b.trafficRollupFilter(q.range.traffic)
        let step = q.step.nanoseconds
        let key = q.by == .transport ? "transport" : "app"
        let none = q.by == .transport ? "none" : "unknown"
        let stepParam = b.param(step)
        let sql = "SELECT (ts / \(stepParam)) * \(stepParam) AS bucket, \(key), SUM(packets), SUM(bytes) FROM traffic\(b.whereClause)"
            + " GROUP BY bucket, \(key) ORDER BY bucket DESC, \(key) LIMIT \(q.maxPoints)"
        let binds = b.binds
        let points = try await reader.run { c in
            try c.query(sql, binds) {
                TimeSeriesPoint(
                    ts: $0.int64(0), key: $0.optionalText(1) ?? none, packets: UInt64(clamping: $0.int64(2)),
                    bytes: UInt64(clamping: $0.int64(3)))
            }
        }
        return points.reversed()
    }

    /// Endpoints and hosts of the flows that match: the few flows the key runs name,
    /// summed here (`FlowScan`), else grouped in SQL over the flows of the range.
    public func talkers(_ q: TalkersQuery) async throws -> Talkers {
        let limit = min(max(q.limit, 1), PacketQuery.maximumLimit)
        let filter = q.range.asFilter
        return try await reader.run { c in
            try c.exec("BEGIN")
            defer { try? c.exec("COMMIT") }
            var totals = TalkerTotals()
            if try FlowScan(c: c, columns: TalkerTotals.columns, filter: filter).run({ totals.add($0) }) {
                return totals.talkers(limit: limit)
            }
            let (w, binds) = try Self.flowWhere(c, filter)
            let endpoints = """
                SELECT orig_h AS h, orig_p AS p, proto, total_pkts AS pk, total_bytes AS b FROM flows\(w)
                UNION ALL SELECT resp_h, resp_p, proto, total_pkts, total_bytes FROM flows\(w)
                """
            var t = Talkers()
            t.pairs = try c.query(
                "SELECT h, p, proto, SUM(pk), SUM(b), count(*) FROM (\(endpoints)) GROUP BY h, p, proto"
                    + " ORDER BY SUM(b) DESC, h, p, proto LIMIT \(limit)", binds
            ) {
                Talkers.Pair(
                    address: CompactPacket.address($0.blob(0)) ?? .none, port: UInt16(truncatingIfNeeded: $0.int64(1)),
                    proto: $0.text(2),
                    packets: UInt64(clamping: $0.int64(3)), bytes: UInt64(clamping: $0.int64(4)),
                    flows: UInt64(clamping: $0.int64(5)))
            }
            t.hosts = try c.query("SELECT h, SUM(pk), SUM(b), count(*) FROM (\(endpoints)) GROUP BY h ORDER BY SUM(b) DESC, h LIMIT \(limit)", binds) {
                Talkers.Host(address: CompactPacket.address($0.blob(0)) ?? .none, packets: UInt64(clamping: $0.int64(1)),
                             bytes: UInt64(clamping: $0.int64(2)), flows: UInt64(clamping: $0.int64(3)))
            }
            return t
        }
    }

    var hostQueries: HostQueries {
        HostQueries(dialect: .sqlite) { sql, binds in
            try await self.reader.run { c in try c.query(sql, binds) { $0.cells() } }
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

    public func alerts(_ q: AlertQuery) async throws -> Page<StoredAlert> { try await readAlerts(q) }

    public func captures(_ q: CaptureQuery) async throws -> [CaptureInfo] { try await readCaptures(q) }

    public func stats() async throws -> StoreStats { try await readStats() }
}

extension SQLiteStore: SQLReading {
    var dialect: SQLDialect { .sqlite }

    func read<T: Sendable>(
        _ what: String, _ q: SQLQuery, _ map: @escaping @Sendable (any RowReader) throws -> T
    ) async throws -> [T] {
        try await reader.run { c in try c.query(q.sql, q.binds) { try map(SQLiteRow(st: $0)) } }
    }
}

/// The statement's current row as a `RowReader`.
struct SQLiteRow: RowReader {
    let st: SQLiteStatement
    func int(_ i: Int) -> Int64? { st.optionalInt64(Int32(i)) }
    func text(_ i: Int) -> String? { st.optionalText(Int32(i)) }
}

extension SQLiteConnection {
    /// A statement prepared once per connection and reset after each use.
    func cached(_ sql: String) throws -> SQLiteStatement {
        if let st = statementCache[sql] { return st }
        let st = try prepare(sql)
        statementCache[sql] = st
        return st
    }
}

/// The column used by each flow sort, and its value in a row (for the cursor).
struct FlowSortKey {
    let column: String
    /// The kind of SQLite's per-segment run sorted by this key (`SegmentedTable.flows`).
    let run: String
    let value: (FlowRow) -> Int64

    init(_ sort: FlowSort) {
        switch sort {
        case .bytes: column = "total_bytes"; run = "bytes"; value = { Int64(clamping: $0.totalBytes) }
        case .packets: column = "total_pkts"; run = "pkts"; value = { Int64(clamping: $0.totalPackets) }
        case .time: column = "ts"; run = "ts"; value = { $0.ts }
        }
    }
}
