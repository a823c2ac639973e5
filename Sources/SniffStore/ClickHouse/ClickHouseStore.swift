import SniffCore
import SniffDecode

/// The ClickHouse store, over the server's HTTP interface (18.16 and later).
///
/// Writing (ClickHouseWriter.swift): the queued batches' rows go in one `INSERT … FORMAT
/// RowBinary` per table, then the batches' rows in `sniff_batches`. ClickHouse has no transactions, so a replay is made
/// idempotent in two ways: a batch whose id is in `sniff_batches` is skipped (the
/// common case: the journal replays what the server had already stored), and a batch
/// whose rows arrived but whose id did not (the connection broke between the two
/// inserts) writes the same rows again, which share their sorting key with the first
/// copy, so the ReplacingMergeTree tables keep one of them once parts merge
/// (`SELECT … FINAL` sees one at once).
///
/// Reading: `ClickHouseReads.swift` serves packets, flows, alerts, protocol logs, the
/// summaries and pcap export through the query layer the other databases share; `stats`
/// and `captures` fold their rows here; hosts, processes and network shares run the
/// statements of `HostQueries` as the other databases do.
public final class ClickHouseStore: PacketStore {
    public let target: ClickHouseTarget
    let http: ClickHouseHTTP
    /// The write calls' encode buffers, kept from one call to the next.
    let buffers = ClickHouseBuffers()
    /// Rows go into this server's own shard, its `<table>_local` tables, not through
    /// the Distributed tables (`--store-local-shard`; ClickHouseCluster.swift says why).
    public let localShard: Bool

    public var backend: String { "clickhouse" }
    public var location: String { target.redacted }

    public init(target: ClickHouseTarget, localShard: Bool = false) {
        self.target = target
        self.localShard = localShard
        http = ClickHouseHTTP(target: target)
    }

    public func close() async { await http.shutdown() }

    // MARK: schema

    @discardableResult
    public func migrate() async throws -> [Migration] {
        try await migrate(inCluster: nil)
    }

    /// Applies the pending migrations to one server, or to one server of `cluster`
    /// (ClickHouseCluster turns each statement into that server's), up to `last` (an
    /// earlier version only for the tests of a migration).
    @discardableResult
    func migrate(inCluster cluster: String?, through last: Int = Schema.latestVersion) async throws -> [Migration] {
        if localShard, cluster == nil { try await requireLocalTables() }
        try await http.run("CREATE DATABASE IF NOT EXISTS \(target.database)", database: "default", what: "migrate")
        try await http.run(ClickHouseSchema.migrationsTable, what: "migrate")
        let applied = Set(try await appliedVersions().keys)
        let pending = try Schema.pending(applied: applied, through: last)
        var done: [Migration] = []
        if cluster == nil, !pending.isEmpty,
           try await http.int("SELECT count() FROM system.tables WHERE database = \(ClickHouseSchema.literal(target.database)) AND name = 'packets_local'",
                              what: "migrate") ?? 0 > 0 {
            // A server of a cluster: the plain statements would make a table on this
            // server alone.
            throw StoreError.database("ClickHouse at \(target.redacted) is a server of a cluster and its schema is behind; run: sniff db migrate --cluster NAME",
                                      detail: "migrate: packets_local exists")
        }
        for m in pending {
            let what = "migrate to version \(m.version)"
            for step in m.clickhouse {
                if case .packetUIDBytes = step {
                    try await convertPackets(inCluster: cluster, what: what)
                    continue
                }
                let statements =
                    cluster.map { ClickHouseCluster.statements(step.sql, cluster: $0, database: target.database) } ?? [
                        step.sql
                    ]
                for sql in statements {
                    if case .addColumns(_, let columns, _) = step, let table = ClickHouseCluster.alteredTable(sql),
                       try await has(columns, in: table, what: what) {
                        continue
                    }
                    try await http.run(sql, what: what)
                }
            }
            let now = Timestamp.now().totalNanoseconds
            var out = RowBinary(capacity: 64)
            out.i64(Int64(m.version)); out.string(m.name); out.i64(now)
            try await http.run(
                "INSERT INTO sniff_migrations (version, name, applied_at) FORMAT RowBinary", body: out.bytes,
                what: "migrate to version \(m.version)")
            done.append(Migration(version: m.version, name: m.name, appliedAt: now))
        }
        return done
    }

    /// A writer into this server's shard needs the shard's tables, which only a
    /// cluster's migration makes: refused before anything is created here.
    private func requireLocalTables() async throws {
        let sql = "SELECT count() FROM system.tables WHERE database = \(ClickHouseSchema.literal(target.database)) "
            + "AND name = \(ClickHouseSchema.literal(ClickHouseSchema.localTable("packets"))) FORMAT TabSeparated"
        let n = ClickHouseHTTP.parseTSV(try await http.run(sql, database: "default", what: "migrate")).first?.first
        guard n.flatMap({ $0.flatMap { Int($0) } }) ?? 0 == 0 else { return try await requireOwnCluster() }
        throw StoreError.database(
            "ClickHouse at \(target.redacted) has no shard tables (packets_local): --store-local-shard writes a "
                + "cluster's; make them with: sniff db migrate --cluster NAME --db URL, or drop --store-local-shard",
            detail: "migrate: no packets_local")
    }

    /// Whether `table` has every one of `columns` (a step that added them ran before).
    private func has(_ columns: [ClickHouseSchema.Column], in table: String, what: String) async throws -> Bool {
        let names = try await columnKinds(table, what: what)
        return columns.allSatisfy { names[$0.name] != nil }
    }

    /// `table`'s columns and how each is made: "" stored, "ALIAS", "DEFAULT", "MATERIALIZED".
    private func columnKinds(_ table: String, what: String) async throws -> [String: String] {
        let sql =
            "SELECT name, default_kind FROM system.columns WHERE database = \(ClickHouseSchema.literal(target.database)) "
            + "AND table = " + ClickHouseSchema.literal(table)
        var kinds: [String: String] = [:]
        for r in try await http.rows(sql, what: what) where r.count == 2 {
            if let name = r[0] { kinds[name] = r[1] ?? "" }
        }
        return kinds
    }

    /// Schema version `Schema.packetUIDBytesVersion` on this server (a cluster's: its
    /// shard's `packets_local`, then the Distributed table in front): the new columns
    /// added, the rows stored before converted by a mutation (`ALTER TABLE … UPDATE`,
    /// which rewrites the parts in the background; this waits for it), the old columns
    /// dropped and made again as ALIAS columns that rebuild them, so reads name them as
    /// before. Each part is done only when it is not yet, so a migration stopped midway
    /// runs again to the end.
    func convertPackets(inCluster cluster: String?, what: String) async throws {
        let table = cluster == nil ? "packets" : ClickHouseSchema.localTable("packets")
        let p = ClickHousePacketColumns.self
        var kinds = try await columnKinds(table, what: what)
        let added = [p.uidBytes, p.uidText, p.caplenCut].filter { kinds[$0.name] == nil }
        if !added.isEmpty {
            try await http.run(
                "ALTER TABLE \(table) " + added.map { "ADD COLUMN \($0.name) \($0.type)" }.joined(separator: ", "),
                what: what)
        }
        let stored = ["flow_uid", "caplen"].filter { kinds[$0] == "" }
        if !stored.isEmpty {
            let update = p.update(flowUID: stored.contains("flow_uid"), caplen: stored.contains("caplen"))
            try await http.run("ALTER TABLE \(table) \(update)", what: what)
            try await waitForMutations(table, what: what)
            try await http.run(
                "ALTER TABLE \(table) " + stored.map { "DROP COLUMN \($0)" }.joined(separator: ", "), what: what)
            kinds = try await columnKinds(table, what: what)
        }
        let aliases = p.aliases.filter { kinds[$0.name] == nil }
        if !aliases.isEmpty {
            try await http.run(
                "ALTER TABLE \(table) " + aliases.map { "ADD COLUMN \($0.name) \($0.type)" }.joined(separator: ", "),
                what: what)
        }
        // The Distributed table: made again in front of the converted table, with a
        // sharding key over the new columns (18.16 cannot alter a sharding key).
        if let cluster, try await columnKinds("packets", what: what)[p.uidBytes.name] == nil {
            try await http.run("DROP TABLE IF EXISTS packets", what: what)
            try await http.run(
                ClickHouseCluster.distributed(
                    "packets", cluster: cluster, database: target.database, key: p.shardingKey), what: what)
        }
    }

    /// Waits until `table` has no mutation left to do. 18.16 retries a failing mutation
    /// forever and does not say why, so a wait whose parts to do stop going down for
    /// `stall` gives up with what system.mutations shows.
    private func waitForMutations(_ table: String, what: String, stall: Duration = .seconds(600)) async throws {
        let sql = """
            SELECT count(), sum(parts_to_do) FROM system.mutations
            WHERE database = \(ClickHouseSchema.literal(target.database)) AND table = \(ClickHouseSchema.literal(table))
              AND is_done = 0
            """
        let clock = ContinuousClock()
        var fewest = Int64.max, since = clock.now
        while true {
            let r = try await http.rows(sql, what: what).first ?? []
            let left = r.first.flatMap { $0.flatMap { Int64($0) } } ?? 0
            guard left > 0 else { return }
            let parts = r.count > 1 ? r[1].flatMap { Int64($0) } ?? 0 : 0
            if parts < fewest {
                fewest = parts; since = clock.now
            } else if clock.now - since > stall {
                throw StoreError.database(
                    "ClickHouse's conversion of \(table) made no progress for \(stall); see system.mutations",
                    detail: "\(what): \(left) mutations, \(parts) parts to do")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Version → when it was applied (the earliest, if two processes migrated at once).
    private func appliedVersions() async throws -> [Int: Int64] {
        var applied: [Int: Int64] = [:]
        for r in try await http.rows(
            "SELECT version, min(applied_at) FROM sniff_migrations GROUP BY version", what: "read the schema version") {
            if let v = r.first.flatMap({ $0.flatMap { Int($0) } }) {
                applied[v] = r.count > 1 ? r[1].flatMap { Int64($0) } : nil
            }
        }
        return applied
    }

    public func info() async throws -> StoreInfo {
        let version = try await http.value("SELECT version()", what: "info")
        var info = StoreInfo(backend: backend, location: location, serverVersion: version ?? "",
                             schemaVersion: 0, latestKnownVersion: Schema.latestVersion)
        let db = ClickHouseSchema.literal(target.database)
        let tables = Set(
            try await http.rows("SELECT name FROM system.tables WHERE database = \(db)", what: "info").compactMap {
                $0.first ?? nil
            })
        guard tables.contains("sniff_migrations") else {
            info.migrations = Schema.migrationStatus(applied: [:])
            return info
        }
        let applied = try await appliedVersions()
        info.schemaVersion = applied.keys.max() ?? 0
        info.migrations = Schema.migrationStatus(applied: applied)
        for t in Schema.infoTables where tables.contains(t) {
            let sql = t == "captures" ? "SELECT uniqExact(id, sensor) FROM captures" : "SELECT count() FROM \(t)"
            let n = try await http.int(sql, what: "info") ?? 0
            info.tables.append((t, n))
        }
        let timeTables = ClickHouseSchema.timeTables.map(ClickHouseSchema.literal).joined(separator: ", ")
        for r in try await http.rows("""
            SELECT table, uniqExact(partition), min(partition), max(partition) FROM system.parts
            WHERE database = \(db) AND active AND table IN (\(timeTables)) GROUP BY table ORDER BY table
            """, what: "info") where r.count == 4 {
            info.partitions.append((r[0] ?? "", Int(r[1] ?? "") ?? 0, r[2], r[3]))
        }
        info.sizeBytes = try await http.int(
            "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = \(db) AND active", what: "info")
        return info
    }

    // MARK: writing (ClickHouseWriter.swift)

    // MARK: retention

    /// Drops the day partitions wholly before the cutoff's day (a partial day stays
    /// until its day is wholly past: ClickHouse deletes by partition, not by row).
    /// ClickHouse makes a partition when its first row arrives, so none is created.
    @discardableResult
    public func maintain(now: Int64, retentionCutoff: Int64?) async throws -> MaintenanceReport {
        var report = MaintenanceReport()
        guard let cutoff = retentionCutoff else { return report }
        let day = cutoff >= 0 ? cutoff / ClickHouseStore.dayNanos : (cutoff + 1) / ClickHouseStore.dayNanos - 1
        let db = ClickHouseSchema.literal(target.database)
        // A cluster's server holds its shard's rows in the `_local` tables.
        let names = ClickHouseSchema.timeTables + ClickHouseSchema.timeTables.map(ClickHouseSchema.localTable)
        let timeTables = names.map(ClickHouseSchema.literal).joined(separator: ", ")
        // The partition ids of a Date key are YYYYMMDD; the days since 1970 compare exactly.
        let parts = try await http.rows("""
            SELECT DISTINCT table, partition FROM system.parts
            WHERE database = \(db) AND active AND table IN (\(timeTables))
              AND toUInt32(toDate(partition)) < \(day)
            ORDER BY table, partition
            """, what: "retention")
        for p in parts where p.count == 2 {
            guard let table = p[0], let partition = p[1], names.contains(table) else { continue }
            try await http.run(
                "ALTER TABLE \(table) DROP PARTITION \(ClickHouseSchema.literal(partition))", what: "retention")
            report.partitionsDropped.append("\(table) \(partition)")
        }
        return report
    }

    static let dayNanos: Int64 = 86_400 * 1_000_000_000

    // MARK: reading

    /// Hosts, a host's page, processes and network shares: the statements SQLite and
    /// PostgreSQL run (`HostQueries`), answered as typed cells.
    var hostQueries: HostQueries {
        HostQueries(dialect: .clickhouse) { sql, binds in
            guard binds.isEmpty else {
                throw StoreError.database("internal: a ClickHouse query with bound values", detail: "hosts")
            }
            return try await self.http.cells(sql + Self.readSettings, what: "hosts")
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

    /// Each address's updates in a capture folded as the other databases' upsert
    /// (`Schema.hostUpsert`) folds them, under the table's name: the host filters
    /// (country, category, times) test the folded row, as they test the upserted one.
    /// Of two known values the upsert keeps the newer, this the greater; an address's
    /// country, AS and category come from the same databases all capture long.
    static let hostFold = """
        (SELECT capture_id, sensor, address, min(first_ts) AS first_ts, max(last_ts) AS last_ts, max(country) AS country,
                max(asn) AS asn, max(org) AS org, max(category) AS category, max(mac) AS mac, max(vendor) AS vendor
         FROM \(ClickHouseSchema.readTable("hosts")) GROUP BY capture_id, sensor, address) AS hosts
        """

    /// Each capture's updates folded as PostgreSQL's upsert folds them.
    static let captureFold = """
        SELECT id, sensor, argMax(source, updated_at), min(start_ns) AS first_start, max(end_ns), argMax(filters, updated_at),
               min(first_packet_ns), max(last_packet_ns), \(Schema.captureCounters.map { "max(\($0))" }.joined(separator: ", ")),
               argMax(store_packets, updated_at)
        FROM captures
        """

    public func captures(_ q: CaptureQuery) async throws -> [CaptureInfo] {
        let filter = q.sensor.map { " WHERE sensor = \(ClickHouseSchema.literal($0))" } ?? ""
        let sql = ClickHouseStore.captureFold + filter + " GROUP BY id, sensor ORDER BY first_start DESC, id DESC LIMIT \(min(max(q.limit, 1), PacketQuery.maximumLimit))"
        return try await http.rows(sql, what: "captures").map(ClickHouseRows.capture)
    }

    public func stats() async throws -> StoreStats {
        var s = StoreStats()
        func int(_ v: String??) -> Int64 { v.flatMap { $0.flatMap { Int64($0) } } ?? 0 }
        for r in try await http.rows(
            "SELECT kind, sum(row_count), count() FROM sniff_batches FINAL GROUP BY kind", what: "stats")
        where r.count == 3 {
            switch r[0] ?? "" {
            case "packets": s.packets = int(r[1])
            case "flows": s.flows = int(r[1])
            case "alerts": s.alerts = int(r[1])
            default: break
            }
            s.batches += int(r[2])
        }
        if let r = try await http.rows(
            "SELECT stored_at, created_at FROM sniff_batches ORDER BY stored_at DESC LIMIT 1", what: "stats"
        ).first,
            r.count == 2, let stored = r[0].flatMap({ Int64($0) }), let created = r[1].flatMap({ Int64($0) }) {
            s.lastWrite = stored
            s.lagNanos = max(0, stored - created)
        }
        let sums = """
            SELECT count(), sum(c_seen), sum(c_kernel), sum(c_iface), sum(c_sniff) FROM (SELECT max(packets_seen) AS c_seen,
                max(kernel_dropped) AS c_kernel, max(interface_dropped) AS c_iface, max(sniff_dropped) AS c_sniff
                FROM captures GROUP BY id, sensor)
            """
        if let r = try await http.rows(sums, what: "stats").first, r.count == 5 {
            s.captures = int(r[0])
            s.packetsSeen = UInt64(clamping: int(r[1])); s.kernelDropped = UInt64(clamping: int(r[2]))
            s.interfaceDropped = UInt64(clamping: int(r[3])); s.sniffDropped = UInt64(clamping: int(r[4]))
        }
        return s
    }
}

/// Rows to RowBinary in the column order of `ClickHouseSchema`, and back from text.
enum ClickHouseRows {
    static func packet(_ r: PacketRow, batch: StoreBatch, into out: inout RowBinary) {
        let keepsFrame = r.has(.frame) && batch.frameInBounds(r)
        var present = r.present
        if !keepsFrame { present.remove(.frame) }
        out.i64(batch.captureID); out.string(batch.sensor); out.u64(r.n); out.i64(r.ts); out.u32(present.rawValue)
        out.u32(r.len); out.u32(r.len &- r.caplen); out.u32(r.iface); out.u32(r.link.rawValue)
        out.u64(r.has(.ethSrc) ? r.ethSrc.value : 0); out.u64(r.has(.ethDst) ? r.ethDst.value : 0)
        out.u16(r.vlan); out.u8(r.ipVersion); out.u8(r.proto); out.address(r.src); out.address(r.dst)
        out.u8(r.transport.rawValue); out.u16(r.sport); out.u16(r.dport); out.u32(r.seq); out.u32(r.ack)
        out.u16(r.tcpFlags); out.u16(r.window); out.u32(r.payloadLen); out.u8(r.icmpType); out.u8(r.icmpCode)
        out.u8(r.app.rawValue); out.string(r.dnsQuery ?? ""); out.string(r.info ?? "")
        ClickHousePacketColumns.write(r.flowUID, into: &out)
        if keepsFrame {
            batch.frames.withUnsafeBytes { f in
                out.string(
                    UnsafeRawBufferPointer(rebasing: f[Int(r.frameOffset)..<(Int(r.frameOffset) + Int(r.frameLength))]))
            }
        } else {
            out.length(0)
        }
    }

    /// In `Schema.flowStoredColumns` order (`ClickHouseSchema.flowColumns` and
    /// `flowTunnelColumns` give their types).
    static func flow(_ f: FlowRow, captureID: Int64, sensor: String, into out: inout RowBinary) {
        out.i64(captureID); out.string(sensor); out.i64(f.ts); out.i64(f.lastTs); out.string(f.uid)
        out.address(f.origH); out.u16(f.origP); out.address(f.respH); out.u16(f.respP)
        out.string(f.proto); out.u8(f.ipProto); out.nullableString(f.service); out.nullableI64(f.durationNanos)
        out.nullableU64(f.origBytes); out.nullableU64(f.respBytes); out.string(f.connState)
        out.nullableBool(f.localOrig); out.nullableBool(f.localResp); out.u64(f.missedBytes);
        out.nullableString(f.history)
        out.u64(f.origPkts); out.u64(f.origIPBytes); out.u64(f.respPkts); out.u64(f.respIPBytes)
        out.string(f.communityID); out.nullableU16(f.vlan); out.string(f.app); out.string(f.appSource)
        // Field by field: an array of the optional strings would be allocated per row.
        out.nullableString(f.dnsQuery); out.nullableString(f.tlsSNI); out.nullableString(f.tlsVersion)
        out.nullableString(f.httpHost); out.nullableString(f.httpMethod); out.nullableString(f.httpURI)
        out.nullableString(f.sshClient); out.nullableString(f.sshServer); out.nullableString(f.quicVersion)
        out.nullableString(f.origTCPFlags); out.nullableString(f.respTCPFlags)
        out.u64(f.origL2Bytes); out.u64(f.respL2Bytes); out.nullableString(f.endReason)
        out.u64(f.totalBytes); out.u64(f.totalPackets)
        // `Schema.flowHandshakeColumns`' order (`FlowRow.handshakeColumns`).
        out.nullableString(f.tlsChosenVersion); out.nullableString(f.tlsCipher); out.nullableString(f.tlsNextProtocol)
        out.nullableString(f.tlsClientVersions); out.nullableString(f.tlsClientALPN)
        out.nullableString(f.ja3); out.nullableString(f.ja3s); out.nullableString(f.ja4)
        out.nullableString(f.origName); out.nullableString(f.respName); out.nullableString(f.origCC)
        out.nullableString(f.respCC)
        out.nullableU32(f.origASN); out.nullableU32(f.respASN); out.nullableString(f.origOrg);
        out.nullableString(f.respOrg)
        out.nullableI32(f.pid); out.nullableString(f.process); out.nullableString(f.user);
        out.nullableString(f.container)
        out.nullableBool(f.processIsOrig)
        out.nullableString(f.tunnel); out.nullableU32(f.tunnelID); out.nullableString(f.tunnelParents)
    }

    /// The common columns and the kind's values (the batch and position follow).
    static func log(_ r: LogRow, captureID: Int64, sensor: String, into out: inout RowBinary) {
        out.i64(captureID); out.string(sensor); out.i64(r.ts); out.string(r.uid)
        out.address(r.origH); out.u16(r.origP); out.address(r.respH); out.u16(r.respP); out.string(r.proto)
        for (i, c) in r.kind.columns.enumerated() {
            let v = i < r.values.count ? r.values[i] : .null
            switch (c.kind, v) {
            case (.int, .int(let n)): out.u8(0); out.i64(n)
            case (.bool, .bool(let b)): out.u8(0); out.u8(b ? 1 : 0)
            case (.text, .text(let s)): out.u8(0); out.string(s)
            case (.texts, .list(let l)) where !l.isEmpty, (.ints, .list(let l)) where !l.isEmpty:
                out.u8(0); out.string(LogValue.joined(l))
            default: out.u8(1)
            }
        }
    }

    static func capture(_ c: CaptureInfo, updatedAt: Int64, into out: inout RowBinary) {
        out.i64(c.id); out.string(c.sensor); out.string(c.source); out.i64(c.start); out.nullableI64(c.end)
        out.string(c.filters); out.nullableI64(c.firstPacket); out.nullableI64(c.lastPacket)
        for v in [c.packetsSeen, c.packetsMatched, c.bytesSeen, c.packetsStored, c.flows, c.alerts,
                  c.kernelDropped, c.interfaceDropped, c.sniffDropped] { out.u64(v) }
        out.string(c.storePackets); out.i64(updatedAt)
    }

    /// A row of `ClickHouseStore.captureFold`.
    static func capture(_ r: [String?]) -> CaptureInfo {
        func text(_ i: Int) -> String? { i < r.count ? r[i] : nil }
        func int(_ i: Int) -> Int64? { text(i).flatMap { Int64($0) } }
        func uint(_ i: Int) -> UInt64 { text(i).flatMap { UInt64($0) } ?? 0 }
        var c = CaptureInfo(id: int(0) ?? 0, sensor: text(1) ?? "", source: text(2) ?? "", start: int(3) ?? 0)
        c.end = int(4); c.filters = text(5) ?? ""; c.firstPacket = int(6); c.lastPacket = int(7)
        (c.packetsSeen, c.packetsMatched, c.bytesSeen) = (uint(8), uint(9), uint(10))
        (c.packetsStored, c.flows, c.alerts) = (uint(11), uint(12), uint(13))
        (c.kernelDropped, c.interfaceDropped, c.sniffDropped) = (uint(14), uint(15), uint(16))
        c.storePackets = text(17) ?? "all"
        return c
    }
}
