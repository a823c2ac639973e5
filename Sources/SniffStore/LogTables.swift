import SniffCore

extension Schema {
    /// The version that adds the protocol log tables.
    static let logsVersion = 12

    /// A log table's columns, in the order the writers send them.
    static func logColumns(_ k: LogKind) -> [String] {
        ["capture_id", "sensor"] + LogRow.commonColumns + k.columns.map(\.name)
    }

    /// The tables of `LogKind`, for both databases: addresses as text (SQLite, bytes
    /// since `SQLiteSchema.logAddressBytesVersion`) or inet,
    /// vectors as text (see `LogValue`), booleans as 0/1 (SQLite) or boolean. Few rows
    /// next to packets and flows, so PostgreSQL does not partition them: retention
    /// deletes by `ts`, as for alerts.
    static func logTableStatements(_ d: SQLDialect) -> [String] {
        let pg = d == .postgres
        return LogKind.allCases.flatMap { k -> [String] in
            let t = k.table
            let columns = k.createdColumns.map { c -> String in
                switch c.kind {
                case .int: return "\(c.name) \(pg ? "bigint" : "INTEGER")"
                case .bool: return "\(c.name) \(pg ? "boolean" : "INTEGER")"
                case .text, .texts, .ints: return "\(c.name) \(pg ? "text" : "TEXT")"
                }
            }
            let common =
                pg
                ? [
                    "id bigserial PRIMARY KEY", "capture_id bigint NOT NULL", "sensor text NOT NULL",
                    "ts bigint NOT NULL",
                    "uid text NOT NULL", "orig_h inet NOT NULL", "orig_p integer NOT NULL", "resp_h inet NOT NULL",
                    "resp_p integer NOT NULL", "proto text NOT NULL"
                ]
                : [
                    "id INTEGER PRIMARY KEY", "capture_id INTEGER NOT NULL", "sensor TEXT NOT NULL",
                    "ts INTEGER NOT NULL",
                    "uid TEXT NOT NULL", "orig_h TEXT NOT NULL", "orig_p INTEGER NOT NULL", "resp_h TEXT NOT NULL",
                    "resp_p INTEGER NOT NULL", "proto TEXT NOT NULL"
                ]
            return [
                "CREATE TABLE \(t) (\((common + columns).joined(separator: ", ")))",
                "CREATE INDEX \(t)_ts ON \(t) (ts)",
                "CREATE INDEX \(t)_uid ON \(t) (uid)",
                "CREATE INDEX \(t)_orig ON \(t) (orig_h, ts)",
                "CREATE INDEX \(t)_resp ON \(t) (resp_h, ts)"
            ]
        }
    }

    /// The version whose uid and address indexes lead with the row's segment.
    static let logSegmentsVersion = 15
    /// Log rows `s << 13 ..< (s + 1) << 13` (by id) form segment s.
    static let logSegmentShift = 13
    static let logSegment = "(id >> \(logSegmentShift))"

    /// The uid and address B-trees of schema 12, keyed by uid or address alone, took a
    /// random page per row and index, which made storing DNS rows cost about as much as
    /// storing their packets. Keyed by (segment, key), only the newest segment's part of
    /// each tree is written to; `log_segments` keeps each segment's time range so that
    /// a read visits segments newest first and stops when no older one can hold a row
    /// of its page (`logRounds`). The `ts` index stays: it pages every other filter.
    static func logSegmentStatements(_ d: SQLDialect) -> [String] {
        let pg = d == .postgres
        let table = pg
            ? "CREATE TABLE log_segments (kind text NOT NULL, seg bigint NOT NULL, min_ts bigint NOT NULL, max_ts bigint NOT NULL, PRIMARY KEY (kind, seg))"
            : "CREATE TABLE log_segments (kind TEXT NOT NULL, seg INTEGER NOT NULL, min_ts INTEGER NOT NULL, max_ts INTEGER NOT NULL, PRIMARY KEY (kind, seg)) WITHOUT ROWID"
        return [table] + LogKind.allCases.flatMap { k -> [String] in
            let t = k.table
            return ["DROP INDEX \(t)_uid", "DROP INDEX \(t)_orig", "DROP INDEX \(t)_resp",
                    "CREATE INDEX \(t)_uid ON \(t) (\(logSegment), uid)",
                    "CREATE INDEX \(t)_orig ON \(t) (\(logSegment), orig_h)",
                    "CREATE INDEX \(t)_resp ON \(t) (\(logSegment), resp_h)",
                    "INSERT INTO log_segments (kind, seg, min_ts, max_ts) SELECT '\(t)', \(logSegment), min(ts), max(ts) FROM \(t) GROUP BY \(logSegment)"]
        }
    }

    /// Widens the time ranges of the segments of the rows after id `$1`/`?1` (the
    /// largest id before the writer's batch). SQLite is told NOT INDEXED: left to
    /// itself it reads the whole `(segment, address)` index in order to group by
    /// segment, testing every entry's id, so each batch cost as much as the table had
    /// rows (0.13 s at 140 k rows); NOT INDEXED still seeks the rowid range.
    static func logSegmentUpsert(_ k: LogKind, _ d: SQLDialect) -> String {
        let (p, lo, hi, hint) = d == .postgres ? ("$1", "least", "greatest", "") : ("?1", "min", "max", " NOT INDEXED")
        return "INSERT INTO log_segments (kind, seg, min_ts, max_ts) SELECT '\(k.table)', \(logSegment), min(ts), max(ts) FROM \(k.table)\(hint) "
            + "WHERE id > \(p) GROUP BY \(logSegment) ON CONFLICT (kind, seg) DO UPDATE SET "
            + "min_ts = \(lo)(log_segments.min_ts, excluded.min_ts), max_ts = \(hi)(log_segments.max_ts, excluded.max_ts)"
    }

    /// What a query looks up in the segment-keyed indexes: the uid, else an exact
    /// address (a network has no index to seek), else nothing (the `ts` index pages it).
    private enum LogKey { case uid(String), orig(IPNetwork), resp(IPNetwork), either(IPNetwork) }

    private static func logKey(_ q: LogQuery) -> LogKey? {
        func exact(_ n: IPNetwork?) -> IPNetwork? {
            n.flatMap { $0.prefixLength == ($0.address.isIPv6 ? 128 : 32) ? $0 : nil }
        }
        if let u = q.uid { return .uid(u) }
        if let n = exact(q.filter.src) { return .orig(n) }
        if let n = exact(q.filter.dst) { return .resp(n) }
        if let n = exact(q.filter.ip) { return .either(n) }
        return nil
    }

    /// The segments a keyed query reads (seg, max_ts), newest rows first; nil when the
    /// query is not keyed.
    static func logSegmentsSQL(_ q: LogQuery, _ d: SQLDialect) throws -> SQLQuery? {
        guard logKey(q) != nil else { return nil }
        var b = SQLBuilder(d)
        b.add("kind = \(b.param(q.kind.table))")
        if let v = q.filter.from { b.add("max_ts >= \(b.param(v))") }
        if let v = q.filter.to { b.add("min_ts < \(b.param(v))") }
        if let c = try Cursor.parse(q.cursor, kind: "l", count: 2) { b.add("min_ts <= \(b.param(c.values[0]))") }
        return SQLQuery(
            sql: "SELECT seg, max_ts FROM log_segments" + b.whereClause + " ORDER BY max_ts DESC, seg DESC",
            binds: b.binds)
    }

    /// Segments in rounds of 1, 2, 4 ... 256, each with the largest max_ts of the
    /// segments after it (nil for the last round): a page is complete once its last row
    /// is newer than that.
    static func logRounds(_ segments: [(seg: Int64, maxTs: Int64)]) -> [(segments: [Int64], next: Int64?)] {
        var out: [(segments: [Int64], next: Int64?)] = []
        var i = 0, size = 1
        while i < segments.count {
            let end = min(i + size, segments.count)
            out.append((segments[i..<end].map { $0.seg }, end < segments.count ? segments[end].maxTs : nil))
            i = end; size = min(size * 2, 256)
        }
        return out
    }

    /// The rows of a page read in rounds: the newest `limit + 1` so far.
    struct LogMerge {
        let limit: Int
        private(set) var rows: [(Int64, StoredLog)] = []

        init(limit: Int) { self.limit = limit }

        mutating func add(_ more: [(Int64, StoredLog)]) {
            rows += more
            rows.sort { ($0.1.row.ts, $0.0) > ($1.1.row.ts, $1.0) }
            if rows.count > limit + 1 { rows.removeLast(rows.count - limit - 1) }
        }

        /// Whether no row of a segment whose newest row is at `next` can enter the page.
        func complete(before next: Int64?) -> Bool {
            guard let next else { return true }
            return rows.count > limit && rows[limit].1.row.ts > next
        }
    }

    /// The columns a read selects, `id` first (PostgreSQL's addresses as text).
    static func logSelect(_ k: LogKind, _ d: SQLDialect) -> String {
        if DNSTable.isCoded(k, d) { return DNSTable.selectSQL }
        // ClickHouse has no row id: a hash of the row's batch and position stands for it.
        let id = d == .clickhouse ? "toInt64(cityHash64(writer_id, seq, i)) AS id" : "id"
        let cols = [id] + logColumns(k).map { c in
            guard c == "orig_h" || c == "resp_h" else { return c }
            // Unnamed on ClickHouse, whose WHERE would take the alias for the column.
            switch d {
            case .sqlite: return c
            case .postgres: return "\(d.addressText(c)) AS \(c)"
            case .clickhouse: return d.addressText(c)
            }
        }
        return "SELECT \(cols.joined(separator: ", ")) FROM \(d.from(k.table))"
    }

    /// Column `i` of a log row as the value of its kind (lists are stored joined).
    static func logValue(_ c: some RowReader, _ i: Int, _ type: LogColumn.Kind) throws -> LogValue {
        switch type {
        case .int: return try c.int(i).map { .int($0) } ?? .null
        case .bool: return try c.bool(i).map { .bool($0) } ?? .null
        case .text: return try c.text(i).map { .text($0) } ?? .null
        case .texts, .ints: return try c.text(i).map { .list(LogValue.split($0)) } ?? .null
        }
    }

    /// The WHERE clause and ORDER of a `LogQuery` (newest first, by time then id).
    /// With `segments`, only rows of those segments, found through the key's index.
    static func logQuerySQL(
        _ q: LogQuery, _ d: SQLDialect, segments: [Int64]? = nil
    ) throws -> (sql: String, binds: [SQLValue], limit: Int) {
        let cursor = try Cursor.parse(q.cursor, kind: "l", count: 2)
        var b = SQLBuilder(d)
        // SQLite's dns table keeps the uid's bytes, the origin and name codes (`DNSTable`).
        let coded = DNSTable.isCoded(q.kind, d)
        func uid(_ u: String) -> String { b.param(coded ? DNSTable.uidValue(u) : .text(u)) }
        if let segments, let key = logKey(q) {
            let t = q.kind.table
            let these = "\(logSegment) IN (\(segments.map { b.param($0) }.joined(separator: ", ")))"
            func ids(_ condition: String) -> String { "SELECT id FROM \(t) WHERE \(these) AND \(condition)" }
            switch key {
            case .uid(let u): b.add("id IN (\(ids("uid = \(uid(u))")))")
            case .orig(let n): b.add("id IN (\(ids(b.logAddress("orig_h", n))))")
            case .resp(let n): b.add("id IN (\(ids(b.logAddress("resp_h", n))))")
            case .either(let n):
                b.add("id IN (\(ids(b.logAddress("orig_h", n))) UNION ALL \(ids(b.logAddress("resp_h", n))))")
            }
        }
        let f = q.filter
        if let n = f.ip { b.add("(\(b.logAddress("orig_h", n)) OR \(b.logAddress("resp_h", n)))") }
        if let n = f.src { b.add(b.logAddress("orig_h", n)) }
        if let n = f.dst { b.add(b.logAddress("resp_h", n)) }
        if let p = f.port { let v = b.param(Int64(p)); b.add("(orig_p = \(v) OR resp_p = \(v))") }
        if let p = f.sport { b.add("orig_p = \(b.param(Int64(p)))") }
        if let p = f.dport { b.add("resp_p = \(b.param(Int64(p)))") }
        if let t = f.transport {
            let p = b.param(t == .tcp ? "tcp" : "udp")
            b.add(coded ? "proto IN (SELECT code FROM sniff_names WHERE name = \(p))" : "proto = \(p)")
        }
        if coded { b.originRangeFilter(f, ts: "ts") } else { b.rangeFilter(f, ts: "ts") }
        if let t = f.text { b.add(b.contains(q.kind.textColumn, t)) }
        if let u = q.uid { b.add("uid = \(uid(u))") }
        if let cursor { b.add("(ts, id) < (\(b.param(cursor.values[0])), \(b.param(cursor.values[1])))") }
        let limit = min(max(q.limit, 1), PacketQuery.maximumLimit)
        return (logSelect(q.kind, d) + b.whereClause + " ORDER BY ts DESC, id DESC LIMIT \(limit + 1)", b.binds, limit)
    }

    /// A page from rows read with their ids.
    static func logPage(_ rows: [(Int64, StoredLog)], limit: Int) -> Page<StoredLog> {
        let more = rows.count > limit
        let page = Array(rows.prefix(limit))
        let next = more ? page.last.map { Cursor(kind: "l", values: [$0.1.row.ts, $0.0]).text } : nil
        return Page(rows: page.map(\.1), nextCursor: next)
    }

    /// A row from the cells of `logSelect` (`cell(i, kind)` reads column i: 0 is the id).
    static func logRow(_ k: LogKind, _ cell: (Int, LogColumn.Kind) throws -> LogValue) throws -> (Int64, StoredLog) {
        func text(_ i: Int) throws -> String { try cell(i, .text).textValue ?? "" }
        func int(_ i: Int) throws -> Int64 { try cell(i, .int).intValue ?? 0 }
        let base = 3 + LogRow.commonColumns.count
        var values: [LogValue] = []
        values.reserveCapacity(k.columns.count)
        for (j, c) in k.columns.enumerated() { values.append(try cell(base + j, c.kind)) }
        let row = LogRow(kind: k, ts: try int(3), uid: try text(4), origH: IPAddress(try text(5)) ?? .none,
                         origP: UInt16(clamping: try int(6)), respH: IPAddress(try text(7)) ?? .none,
                         respP: UInt16(clamping: try int(8)), proto: try text(9), values: values)
        return (try int(0), StoredLog(sensor: try text(2), captureID: try int(1), row: row))
    }
}

/// GET /api/dns, /api/http, /api/tls: newest first with keyset pagination.
public struct LogQuery: Sendable, Equatable {
    public var kind: LogKind
    /// Addresses, ports, time, capture, sensor, and `q`: a case-insensitive substring
    /// of the DNS query, the HTTP host or the TLS server name. `transport` is the
    /// log's `proto` (DNS goes over UDP and TCP).
    public var filter = TrafficFilter()
    /// The flow's uid (`uid` or `flow`).
    public var uid: String? = nil
    public var cursor: String? = nil
    public var limit = 100

    /// The parameters the routes take (besides `cursor` and `limit`).
    public static let names = [
        "ip", "src", "dst", "port", "sport", "dport", "transport", "from", "to", "capture", "sensor",
        "q", "uid", "flow", "sort"
    ]

    public init(kind: LogKind, filter: TrafficFilter = TrafficFilter(), uid: String? = nil, cursor: String? = nil,
                limit: Int = 100) {
        self.kind = kind; self.filter = filter; self.uid = uid; self.cursor = cursor; self.limit = limit
    }

}

extension SQLBuilder {
    /// A log table's address column in `net`: bytes in SQLite since
    /// `SQLiteSchema.logAddressBytesVersion`, inet in PostgreSQL, 16 bytes in ClickHouse.
    mutating func logAddress(_ column: String, _ net: IPNetwork) -> String {
        dialect == .sqlite ? compactAddress(column, net) : address(column, net)
    }
}
