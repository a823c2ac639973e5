import SniffCore
import SniffDecode

/// Schema version 9 of SQLite: flows like packets since version 7, with no secondary
/// B-tree. Ids are given by the writer; `SegmentedTable.flows` indexes every complete
/// segment with key runs on the addresses, ports and the three sort keys. Addresses are
/// their 4 or 16 network-order bytes (`CompactPacket`); `flows_v` shows them as text.
extension SQLiteSchema {
    static let segmentedFlowsVersion = 9

    /// Version 9's table: its columns then; migration 10 adds the rest.
    static let segmentedFlowStatements = [
        "CREATE TABLE flows (id INTEGER PRIMARY KEY, "
            + Schema.flowColumnsV9.map { "\($0) \(flowColumnType($0))" }.joined(separator: ", ") + ")",
        flowViewSQL(Schema.flowColumnsV9),
    ]

    /// Migration 10: the hosts and process columns (nullable, no default: nothing is
    /// rewritten), `flows_v` made again with them, and the hosts tables.
    static let enrichmentStatements: [String] = Schema.flowEnrichmentColumns.map {
        "ALTER TABLE flows ADD COLUMN \($0) \(flowColumnType($0))"
    } + ["DROP VIEW flows_v", flowViewSQL(Schema.flowColumns)] + [
        """
        CREATE TABLE hosts (
            capture_id INTEGER NOT NULL, sensor TEXT NOT NULL, address TEXT NOT NULL, first_ts INTEGER NOT NULL,
            last_ts INTEGER NOT NULL, country TEXT, asn INTEGER, org TEXT, category TEXT NOT NULL,
            PRIMARY KEY (capture_id, sensor, address)) WITHOUT ROWID
        """,
        "CREATE INDEX hosts_address ON hosts (address)",
        "CREATE INDEX hosts_last ON hosts (last_ts)",
        """
        CREATE TABLE host_names (
            capture_id INTEGER NOT NULL, sensor TEXT NOT NULL, address TEXT NOT NULL, name TEXT NOT NULL,
            first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
            PRIMARY KEY (capture_id, sensor, address, name)) WITHOUT ROWID
        """,
        "CREATE INDEX host_names_address ON host_names (address)",
        "CREATE INDEX host_names_name ON host_names (name)",
    ]

    /// A flow column's SQLite type: the addresses are bytes, counters and times integers,
    /// the rest text; NOT NULL where `FlowRow` has no nil.
    static func flowColumnType(_ column: String) -> String {
        let integers: Set = [
            "capture_id", "ts", "last_ts", "orig_p", "resp_p", "ip_proto", "duration_ns", "orig_bytes",
            "resp_bytes", "local_orig", "local_resp", "missed_bytes", "orig_pkts", "orig_ip_bytes",
            "resp_pkts", "resp_ip_bytes", "vlan", "orig_l2_bytes", "resp_l2_bytes", "total_bytes", "total_pkts"
        ]
        let nullable = Set<String>([
            "service", "duration_ns", "orig_bytes", "resp_bytes", "local_orig", "local_resp", "history",
            "vlan", "dns_query", "tls_sni", "tls_version", "http_host", "http_method", "http_uri",
            "ssh_client", "ssh_server", "quic_version", "orig_tcp_flags", "resp_tcp_flags", "end_reason"
        ])
        .union(Schema.flowHandshakeColumns).union(Schema.flowEnrichmentColumns).union(Schema.flowTunnelColumns)
        let type =
            column == "orig_h" || column == "resp_h"
            ? "BLOB"
            : integers.contains(column) || Schema.flowEnrichmentIntegers.contains(column) || column == "tunnel_id"
                ? "INTEGER" : "TEXT"
        return nullable.contains(column) ? type : type + " NOT NULL"
    }

    /// `flows_v`: the flows with addresses as text and `time` as RFC 3339, for people in
    /// the sqlite3 shell (built-in SQL functions only). `source` is the flows table, or
    /// since version 11 a subquery that takes the cold BLOB apart (`FlowTable.viewSQL`).
    static func flowViewSQL(_ columns: [String], from source: String = "flows") -> String {
        let rest = columns.map { c -> String in
            if c == "uid" { return "\(FlowUIDBytes.viewText("f.uid")) AS uid" }
            return c == "orig_h" || c == "resp_h" ? "\(CompactPacket.addressText("f.\(c)")) AS \(c)" : "f.\(c)"
        }.joined(separator: ", ")
        return """
            CREATE VIEW flows_v AS SELECT f.id,
                strftime('%Y-%m-%dT%H:%M:%S', f.ts / 1000000000, 'unixepoch') || '.' || printf('%09d', f.ts % 1000000000) || 'Z' AS time,
                \(rest)
            FROM \(source) f
            """
    }

    /// Converts the flows of versions 2-8 (text addresses, six indexes): rows copied in id
    /// order into the new table (new ids, consecutive), the old table and its indexes
    /// dropped, the complete segments indexed. Inside the migration's transaction: an
    /// interrupted conversion leaves version 8 as it was.
    static func migrateToSegmentedFlows(_ c: SQLiteConnection, segmentRows: Int64,
                                        closed: (SegmentedTable.Segment) throws -> Void) throws {
        try c.exec("ALTER TABLE flows RENAME TO flows_v8")
        for sql in segmentedFlowStatements { try c.exec(sql) }
        let read = try c.prepare(
            "SELECT id, " + Schema.flowColumnsV9.joined(separator: ", ") + " FROM flows_v8 ORDER BY id")
        let write = try c.prepare(MultiRowInsert.sql(table: "flows", columns: ["id"] + Schema.flowColumnsV9, rows: 1))
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 32, alignment: 8)
        defer { scratch.deallocate() }
        let arena = BindArena()
        var id: Int64 = 1
        var times: [Int64] = []
        while try read.step() {
            let f = SQLiteStore.readFlowV10(read, from: 1, addresses: .text, enrichment: false)
            SQLiteStore.bindFlowV10(
                write, id: id, captureID: f.captureID, sensor: f.sensor, f.row, scratch: scratch, arena: arena,
                enrichment: false)
            try write.run()
            arena.reset()
            times.append(f.row.ts)
            id += 1
        }
        try c.exec("DROP TABLE flows_v8")
        try SegmentedTable.flows.indexComplete(c, segmentRows: segmentRows, closed: closed)
        try SegmentedTable.flows.updateTail(c, times: [], firstNewID: id)
    }
}

extension SQLiteStore {
    /// The flows table of schemas 9-10 (every field a column), as migration 9 writes it.
    static let insertFlowV10SQL = MultiRowInsert.sql(table: "flows", columns: ["id"] + Schema.flowColumns, rows: 1)

    /// Binds one flow to `insertFlowV10SQL` (or, `enrichment` false, version 9's
    /// columns); `scratch` (32 bytes) and `arena` hold the two addresses and the text
    /// until the statement runs.
    static func bindFlowV10(
        _ st: SQLiteStatement, base: Int32 = 0, id: Int64, captureID: Int64, sensor: String, _ f: FlowRow,
        scratch: UnsafeMutableRawPointer, arena: BindArena, enrichment: Bool = true
    ) {
        var k: Int32 = base
        func int(_ v: Int64?) { k += 1; if let v { st.bind(k, v) } else { st.bindNull(k) } }
        func text(_ v: String?) { k += 1; st.bind(k, v, arena: arena) }
        func bool(_ v: Bool?) { int(v.map { $0 ? 1 : 0 }) }
        func address(_ a: IPAddress, at offset: Int) {
            k += 1
            let n = CompactPacket.write(a, to: scratch + offset)
            st.bindBlobStatic(k, UnsafeRawBufferPointer(start: scratch + offset, count: n))
        }
        int(id); int(captureID); text(sensor); int(f.ts); int(f.lastTs); text(f.uid)
        address(f.origH, at: 0); int(Int64(f.origP)); address(f.respH, at: 16); int(Int64(f.respP))
        text(f.proto); int(Int64(f.ipProto)); text(f.service); int(f.durationNanos)
        int(f.origBytes.map { Int64(clamping: $0) }); int(f.respBytes.map { Int64(clamping: $0) })
        text(f.connState); bool(f.localOrig); bool(f.localResp); int(Int64(clamping: f.missedBytes)); text(f.history)
        int(Int64(clamping: f.origPkts)); int(Int64(clamping: f.origIPBytes)); int(Int64(clamping: f.respPkts))
        int(Int64(clamping: f.respIPBytes)); text(f.communityID); int(f.vlan.map { Int64($0) }); text(f.app);
        text(f.appSource)
        text(f.dnsQuery); text(f.tlsSNI); text(f.tlsVersion); text(f.httpHost); text(f.httpMethod); text(f.httpURI)
        text(f.sshClient); text(f.sshServer); text(f.quicVersion); text(f.origTCPFlags); text(f.respTCPFlags)
        int(Int64(clamping: f.origL2Bytes)); int(Int64(clamping: f.respL2Bytes)); text(f.endReason)
        int(Int64(clamping: f.totalBytes)); int(Int64(clamping: f.totalPackets))
        for s in f.handshakeColumns { text(s) }
        guard enrichment else { return }
        text(f.origName); text(f.respName); text(f.origCC); text(f.respCC)
        int(f.origASN.map { Int64($0) }); int(f.respASN.map { Int64($0) }); text(f.origOrg); text(f.respOrg)
        int(f.pid.map { Int64($0) }); text(f.process); text(f.user); text(f.container); bool(f.processIsOrig)
    }

    /// How a flows table keeps its addresses: text before version 9, bytes since.
    enum AddressForm { case text, bytes }

    /// A flow of the tables of versions 2-10 (every field a column).
    static func readFlowV10(_ st: SQLiteStatement, from c0: Int32, addresses: AddressForm = .bytes,
                         enrichment: Bool = true) -> StoredFlow {
        var k = c0 - 1
        func int() -> Int64? { k += 1; return st.optionalInt64(k) }
        func text() -> String? { k += 1; return st.optionalText(k) }
        func u64() -> UInt64 { UInt64(clamping: int() ?? 0) }
        func address() -> IPAddress {
            k += 1
            switch addresses {
            case .text: return st.optionalText(k).flatMap { IPAddress($0) } ?? .none
            case .bytes: return st.isNull(k) ? .none : CompactPacket.address(st.blob(k)) ?? .none
            }
        }
        var f = FlowRow()
        let capture = int() ?? 0
        let sensor = text() ?? ""
        f.ts = int() ?? 0; f.lastTs = int() ?? 0; f.uid = text() ?? ""
        f.origH = address(); f.origP = UInt16(truncatingIfNeeded: int() ?? 0)
        f.respH = address(); f.respP = UInt16(truncatingIfNeeded: int() ?? 0)
        f.proto = text() ?? ""; f.ipProto = UInt8(truncatingIfNeeded: int() ?? 0); f.service = text()
        f.durationNanos = int(); f.origBytes = int().map { UInt64(clamping: $0) };
        f.respBytes = int().map { UInt64(clamping: $0) }
        f.connState = text() ?? ""; f.localOrig = int().map { $0 != 0 }; f.localResp = int().map { $0 != 0 }
        f.missedBytes = u64(); f.history = text()
        f.origPkts = u64(); f.origIPBytes = u64(); f.respPkts = u64(); f.respIPBytes = u64()
        f.communityID = text() ?? ""; f.vlan = int().map { UInt16(truncatingIfNeeded: $0) }
        f.app = text() ?? ""; f.appSource = text() ?? ""
        f.dnsQuery = text(); f.tlsSNI = text(); f.tlsVersion = text(); f.httpHost = text(); f.httpMethod = text()
        f.httpURI = text(); f.sshClient = text(); f.sshServer = text(); f.quicVersion = text()
        f.origTCPFlags = text(); f.respTCPFlags = text()
        f.origL2Bytes = u64(); f.respL2Bytes = u64(); f.endReason = text()
        k += 2  // total_bytes, total_pkts: sums of the above
        f.handshakeColumns = Schema.flowHandshakeColumns.map { _ in text() }
        if enrichment {
            f.origName = text(); f.respName = text(); f.origCC = text(); f.respCC = text()
            f.origASN = int().map { UInt32(truncatingIfNeeded: $0) };
            f.respASN = int().map { UInt32(truncatingIfNeeded: $0) }
            f.origOrg = text(); f.respOrg = text()
            f.pid = int().map { Int32(truncatingIfNeeded: $0) }; f.process = text(); f.user = text();
            f.container = text()
            f.processIsOrig = int().map { $0 != 0 }
        }
        return StoredFlow(sensor: sensor, captureID: capture, row: f)
    }

    /// The hot loop for flows: ids given (`SegmentedTable.nextID`), the addresses bound
    /// without copies. Returns the first id written.
    static func insertFlows(_ rows: [FlowRow], _ batch: StoreBatch, _ c: SQLiteConnection) throws -> Int64 {
        let one = try c.cached(FlowTable.insertSQL)
        let many = try c.cached(FlowTable.insertManySQL)
        let first = try SegmentedTable.flows.nextID(c)
        try rows.withUnsafeBufferPointer { rows in
            try MultiRowInsert.run(count: rows.count, per: FlowTable.rowsPerInsert, one: one, many: many) {
                st, slot, n, space in
                FlowTable.bind(
                    st, base: Int32(slot) * FlowTable.parametersPerRow, id: first + Int64(n),
                    captureID: batch.captureID, sensor: batch.sensor,
                    rows[n], scratch: space.scratch, arena: space.arena)
            }
        }
        let counts = try c.cached(insertFlowCountSQL)
        counts.bind(1, batch.captureID); counts.bind(2, batch.sensor)
        for (k, n) in FlowCounts.count(rows) {
            counts.bind(3, k.second); counts.bind(4, Int64(k.ipProto)); counts.bind(5, k.app); counts.bind(6, n)
            try counts.run()
        }
        return first
    }

    /// The run lookup for a flow filter: addresses and ports (src/sport are the
    /// originator's). Other filters are checked on the rows.
    static func flowLookup(_ f: TrafficFilter) -> SegmentSearch<StoredFlow>.Lookup? {
        SegmentLookup.addressOrPort(f, src: "orig_h", dst: "resp_h", sport: "orig_p", dport: "resp_p")
            .map { .init(kinds: $0.kinds, lo: $0.lo, hi: $0.hi) }
    }
}
