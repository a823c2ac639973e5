import SniffCore

/// Schema 23 (SQLite): a packet row names its capture and sensor by one small integer,
/// `origin`, a code of `sniff_origins (code, capture_id, sensor)`, and its two MAC
/// addresses by `mac_src` and `mac_dst`, codes of `sniff_macs (code, mac)`. The capture
/// id is a random 63-bit number (8 bytes in every row) and the sensor a name (5 bytes
/// and more), where a code below 128 takes one byte; the MACs took 12 bytes of the cold
/// BLOB, their codes take 2-4. Codes are given by the writer in its transaction and
/// never change nor go away (retention keeps the dictionaries: a few rows), so a reader
/// may cache what it read of them for as long as its connection lives.
enum PacketCodes {
    static let version = 23

    static let createStatements = [
        """
        CREATE TABLE sniff_origins (
            code INTEGER PRIMARY KEY, capture_id INTEGER NOT NULL, sensor TEXT NOT NULL, UNIQUE (capture_id, sensor))
        """,
        "CREATE TABLE sniff_macs (code INTEGER PRIMARY KEY, mac INTEGER NOT NULL UNIQUE)",
    ]

    /// The packets a filter on the capture or the sensor keeps (`SQLBuilder.compactPacketFilter`).
    static func originFilter(capture: String?, sensor: String?) -> String? {
        var parts: [String] = []
        if let capture { parts.append("capture_id = \(capture)") }
        if let sensor { parts.append("sensor = \(sensor)") }
        if parts.isEmpty { return nil }
        return "origin IN (SELECT code FROM sniff_origins WHERE \(parts.joined(separator: " AND ")))"
    }

    /// Converts the packets of version 22 (`PacketsV22`) into `PacketTable`'s, keeping every
    /// id (the segments and key runs stay valid), and makes `packets_v` again. Inside the
    /// migration's transaction: an interrupted conversion leaves version 22 as it was.
    static func migrate(_ c: SQLiteConnection) throws {
        for sql in createStatements { try c.exec(sql) }
        try c.exec("DROP VIEW IF EXISTS packets_v")
        try c.exec("ALTER TABLE packets RENAME TO packets_v22")
        try c.exec(PacketTable.createSQL)
        let read = try c.prepare("SELECT \(PacketsV22.selectColumns), raw FROM packets_v22 ORDER BY id")
        let write = try c.prepare(PacketTable.insertSQL)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 32, alignment: 8)
        defer { scratch.deallocate() }
        let arena = BindArena()
        let rawColumn = Int32(PacketsV22.columns.count + 1)
        // Codes given here are part of this transaction: on a throw, none of them stays.
        defer { c.packetCodes.forget() }
        while try read.step() {
            let p = PacketsV22.read(read)
            let origin = try c.packetCodes.originCode(captureID: p.captureID, sensor: p.sensor, c)
            PacketTable.bind(write, id: read.int64(0), origin: origin, try c.packetCodes.macCodes(p.row, c), p.row,
                             raw: read.isNull(rawColumn) ? nil : read.blob(rawColumn), scratch: scratch, arena: arena)
            try write.run()
            arena.reset()
        }
        try c.exec("DROP TABLE packets_v22")
        try c.exec(PacketTable.viewSQL)
    }
}

/// A connection's cache of the dictionaries of `PacketCodes`, both ways. The writer's
/// connection adds codes; any connection reads them. A code is cached once it was read
/// or written; a code written in a transaction that rolled back must be forgotten
/// (`forget`), since another value may take it later.
final class PacketCodeCache {
    private var originCodes: [OriginKey: Int64] = [:]
    private var origins: [Int64: (captureID: Int64, sensor: String)] = [:]
    private var macCodes: [UInt64: Int64] = [:]
    private var macs: [Int64: UInt64] = [:]
    /// `sniff_names` (`DNSTable`): the writer's side only, the reads join in SQL.
    private var nameCodes: [String: Int64] = [:]

    private struct OriginKey: Hashable {
        let captureID: Int64
        let sensor: String
    }

    /// Forgets everything (after a rollback of the writer's transaction).
    func forget() {
        originCodes.removeAll(); origins.removeAll(); macCodes.removeAll(); macs.removeAll(); nameCodes.removeAll()
    }

    /// The code of (capture, sensor), added to `sniff_origins` if new.
    func originCode(captureID: Int64, sensor: String, _ c: SQLiteConnection) throws -> Int64 {
        let key = OriginKey(captureID: captureID, sensor: sensor)
        if let code = originCodes[key] { return code }
        let code = try Self.code(in: "sniff_origins", ["capture_id", "sensor"], detail: sensor, c) {
            $0.bind(1, captureID); $0.bind(2, sensor)
        }
        originCodes[key] = code
        origins[code] = (captureID, sensor)
        return code
    }

    /// The codes of the row's MAC addresses (nil where the row has none).
    @inline(__always)
    func macCodes(_ r: PacketRow, _ c: SQLiteConnection) throws -> (src: Int64?, dst: Int64?) {
        // The fields read before `macCode` runs: reading them across that call made the
        // compiler copy the whole row (retaining its strings) for every packet.
        let f = r.present, src = r.ethSrc.value, dst = r.ethDst.value
        return (f.contains(.ethSrc) ? try macCode(src, c) : nil, f.contains(.ethDst) ? try macCode(dst, c) : nil)
    }

    @inline(__always)
    func macCode(_ value: UInt64, _ c: SQLiteConnection) throws -> Int64 {
        if let code = macCodes[value] { return code }
        let code = try Self.code(in: "sniff_macs", ["mac"], detail: "\(value)", c) {
            $0.bind(1, Int64(bitPattern: value))
        }
        macCodes[value] = code
        macs[code] = value
        return code
    }

    /// The code of a name of `DNSTable.namedColumns`, added to `sniff_names` if new.
    func nameCode(_ name: String, _ c: SQLiteConnection) throws -> Int64 {
        if let code = nameCodes[name] { return code }
        let code = try Self.code(in: "sniff_names", ["name"], detail: name, c) { $0.bind(1, name) }
        nameCodes[name] = code
        return code
    }

    /// The code of a row of a dictionary table (`sniff_origins`, `sniff_macs`, `sniff_names`),
    /// whose `columns` are unique together: added if new, then read back. `bind` gives
    /// both statements the row's values as ?1, ?2… Called only for values the caches lack.
    private static func code(
        in table: String, _ columns: [String], detail: String, _ c: SQLiteConnection,
        bind: (SQLiteStatement) -> Void
    ) throws -> Int64 {
        let params = columns.indices.map { "?\($0 + 1)" }
        let add = try c.cached(
            "INSERT OR IGNORE INTO \(table) (\(columns.joined(separator: ", "))) "
                + "VALUES (\(params.joined(separator: ", ")))")
        bind(add)
        try add.run()
        let match = zip(columns, params).map { "\($0) = \($1)" }.joined(separator: " AND ")
        let find = try c.cached("SELECT code FROM \(table) WHERE \(match)")
        bind(find)
        defer { find.reset() }
        guard try find.step() else {
            throw StoreError.database("SQLite \(c.path): \(table) lost a row it was given", detail: detail)
        }
        return find.int64(0)
    }

    /// The capture and sensor of an origin code; (0, "") for a code the file lacks
    /// (a damaged or foreign file).
    func origin(_ code: Int64, _ c: SQLiteConnection) -> (captureID: Int64, sensor: String) {
        if let o = origins[code] { return o }
        guard let find = try? c.cached("SELECT capture_id, sensor FROM sniff_origins WHERE code = ?1") else {
            return (0, "")
        }
        find.bind(1, code)
        defer { find.reset() }
        guard (try? find.step()) == true else { return (0, "") }
        let o = (find.int64(0), find.text(1))
        origins[code] = o
        return o
    }

    /// The MAC address of a code; nil for a code the file lacks.
    func mac(_ code: Int64, _ c: SQLiteConnection) -> UInt64? {
        if let m = macs[code] { return m }
        guard let find = try? c.cached("SELECT mac FROM sniff_macs WHERE code = ?1") else { return nil }
        find.bind(1, code)
        defer { find.reset() }
        guard (try? find.step()) == true else { return nil }
        let m = UInt64(bitPattern: find.int64(0))
        macs[code] = m
        return m
    }
}
