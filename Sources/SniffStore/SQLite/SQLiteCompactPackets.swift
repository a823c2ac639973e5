import SniffCore
import SniffDecode

/// Schema version 7 of SQLite: packets with compact types and no secondary index (see
/// `CompactPacket`, `SegmentedTable`), and the converter from versions 1-6.
extension SQLiteSchema {
    static let compactPacketsVersion = 7

    static let compactPacketStatements = [
        """
        CREATE TABLE packets (
            id INTEGER PRIMARY KEY, capture_id INTEGER NOT NULL, sensor TEXT NOT NULL,
            n INTEGER NOT NULL, ts INTEGER NOT NULL, len INTEGER NOT NULL, caplen INTEGER NOT NULL,
            iface INTEGER NOT NULL, link INTEGER NOT NULL, eth_src INTEGER, eth_dst INTEGER, vlan INTEGER,
            ip INTEGER, src BLOB, dst BLOB, proto INTEGER, transport INTEGER, sport INTEGER, dport INTEGER,
            seq INTEGER, ack INTEGER, tcp_flags INTEGER, tcp_window INTEGER, payload_len INTEGER,
            icmp_type INTEGER, icmp_code INTEGER, dns_query TEXT, app INTEGER, flow_uid TEXT,
            app_payload INTEGER, info TEXT, raw BLOB)
        """,
        """
        CREATE TABLE sniff_segments (
            tbl TEXT NOT NULL, first_id INTEGER NOT NULL, last_id INTEGER NOT NULL,
            min_ts INTEGER NOT NULL, max_ts INTEGER NOT NULL, ordered INTEGER NOT NULL,
            PRIMARY KEY (tbl, first_id)) WITHOUT ROWID
        """,
        """
        CREATE TABLE sniff_key_runs (
            tbl TEXT NOT NULL, first_id INTEGER NOT NULL, kind TEXT NOT NULL, data BLOB NOT NULL,
            PRIMARY KEY (tbl, first_id, kind))
        """,
        "CREATE TABLE sniff_transports (code INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE sniff_apps (code INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE sniff_links (code INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        PacketsV10.viewSQL,
    ]

    /// Converts the text-typed packets table of versions 1-6: rows are copied in id
    /// order into the compact table (new ids, consecutive), the old table and its six
    /// indexes are dropped, and the complete segments are indexed. Runs inside the
    /// migration's transaction: an interrupted conversion leaves version 6 intact.
    static func migrateToCompactPackets(_ c: SQLiteConnection, segmentRows: Int64) throws {
        try c.exec("ALTER TABLE packets RENAME TO packets_v6")
        for sql in compactPacketStatements { try c.exec(sql) }
        let read = try c.prepare(
            "SELECT id, " + Schema.packetColumns.joined(separator: ", ") + ", raw FROM packets_v6 ORDER BY id")
        let write = try c.prepare(PacketsV10.insertSQL)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 32, alignment: 8)
        defer { scratch.deallocate() }
        let arena = BindArena()
        let rawColumn = Int32(Schema.packetColumns.count + 1)
        var id: Int64 = 1
        while try read.step() {
            let p = try RowMapping.packet(SQLiteRow(st: read), from: 1)
            PacketsV10.bind(write, id: id, captureID: p.captureID, sensor: p.sensor, p.row,
                               raw: read.isNull(rawColumn) ? nil : read.blob(rawColumn), scratch: scratch, arena: arena)
            try write.run()
            arena.reset()
            id += 1
        }
        try c.exec("DROP TABLE packets_v6")
        try SegmentedTable.packets.indexComplete(c, segmentRows: segmentRows)
        try SegmentedTable.packets.updateTail(c, times: [], firstNewID: id)
    }

    static func refreshLookups(_ c: SQLiteConnection) throws {
        for (table, code, name) in CompactPacket.lookupRows() {
            // Table names come from CompactPacket's fixed list, never from input.
            let st = try c.cached("INSERT OR REPLACE INTO \(table) (code, name) VALUES (?1, ?2)")
            st.bind(1, code); st.bind(2, name)
            try st.run()
        }
    }
}

/// Schema version 11 of SQLite: the packet and flow fields no filter, sort, key run or
/// aggregate reads move into one `cold` BLOB per row (`PacketCold`, `FlowCold`).
extension SQLiteSchema {
    static let coldColumnsVersion = 11

    /// Rewrites packets and flows of version 10 into the tables of `PacketTable` and
    /// `FlowTable`, keeping every id (so the segments and key runs stay as they are),
    /// and makes the views again. Inside the migration's transaction: an interrupted
    /// conversion leaves version 10 as it was.
    static func migrateToColdColumns(_ c: SQLiteConnection) throws {
        try c.exec("DROP VIEW IF EXISTS packets_v")
        try c.exec("DROP VIEW IF EXISTS flows_v")
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 32, alignment: 8)
        defer { scratch.deallocate() }
        let arena = BindArena()

        try c.exec("ALTER TABLE packets RENAME TO packets_v10")
        try c.exec(PacketsV22.createSQL)
        let readPackets = try c.prepare("SELECT \(PacketsV10.selectColumns), raw FROM packets_v10 ORDER BY id")
        let writePacket = try c.prepare(PacketsV22.insertSQL)
        let rawColumn = Int32(Schema.packetColumns.count + 1)
        while try readPackets.step() {
            let p = PacketsV10.read(readPackets)
            PacketsV22.bind(writePacket, id: readPackets.int64(0), captureID: p.captureID, sensor: p.sensor, p.row,
                             raw: readPackets.isNull(rawColumn) ? nil : readPackets.blob(rawColumn),
                             scratch: scratch, arena: arena)
            try writePacket.run()
            arena.reset()
        }
        try c.exec("DROP TABLE packets_v10")
        try c.exec(PacketsV22.viewSQL)

        try c.exec("ALTER TABLE flows RENAME TO flows_v10")
        try c.exec(FlowTable.createSQL)
        let readFlows = try c.prepare(
            "SELECT id, \(Schema.flowColumns.joined(separator: ", ")) FROM flows_v10 ORDER BY id")
        let writeFlow = try c.prepare(FlowTable.insertV11SQL)
        while try readFlows.step() {
            let f = SQLiteStore.readFlowV10(readFlows, from: 1)
            FlowTable.bind(writeFlow, id: readFlows.int64(0), captureID: f.captureID, sensor: f.sensor, f.row,
                           scratch: scratch, arena: arena, tunnels: false)
            try writeFlow.run()
            arena.reset()
        }
        try c.exec("DROP TABLE flows_v10")
        try c.exec(FlowTable.viewSQL(tunnels: false))
    }
}
