import SniffCore

extension Schema {
    /// The version that adds the protocol log tables.
    static let logsVersion = 12

    /// A log table's columns, in the order the writers send them.
    static func logColumns(_ k: LogKind) -> [String] { ["capture_id", "sensor"] + LogRow.commonColumns + k.columns.map(\.name) }

    /// The tables of `LogKind`, for both databases: addresses as text (SQLite) or inet,
    /// vectors as text (see `LogValue`), booleans as 0/1 (SQLite) or boolean. Few rows
    /// next to packets and flows, so PostgreSQL does not partition them: retention
    /// deletes by `ts`, as for alerts.
    static func logTableStatements(_ d: SQLDialect) -> [String] {
        let pg = d == .postgres
        return LogKind.allCases.flatMap { k -> [String] in
            let t = k.table
            let columns = k.columns.map { c -> String in
                switch c.kind {
                case .int: return "\(c.name) \(pg ? "bigint" : "INTEGER")"
                case .bool: return "\(c.name) \(pg ? "boolean" : "INTEGER")"
                case .text, .texts, .ints: return "\(c.name) \(pg ? "text" : "TEXT")"
                }
            }
            let common = pg
                ? ["id bigserial PRIMARY KEY", "capture_id bigint NOT NULL", "sensor text NOT NULL", "ts bigint NOT NULL",
                   "uid text NOT NULL", "orig_h inet NOT NULL", "orig_p integer NOT NULL", "resp_h inet NOT NULL",
                   "resp_p integer NOT NULL", "proto text NOT NULL"]
                : ["id INTEGER PRIMARY KEY", "capture_id INTEGER NOT NULL", "sensor TEXT NOT NULL", "ts INTEGER NOT NULL",
                   "uid TEXT NOT NULL", "orig_h TEXT NOT NULL", "orig_p INTEGER NOT NULL", "resp_h TEXT NOT NULL",
                   "resp_p INTEGER NOT NULL", "proto TEXT NOT NULL"]
            return ["CREATE TABLE \(t) (\((common + columns).joined(separator: ", ")))",
                    "CREATE INDEX \(t)_ts ON \(t) (ts)",
                    "CREATE INDEX \(t)_uid ON \(t) (uid)",
                    "CREATE INDEX \(t)_orig ON \(t) (orig_h, ts)",
                    "CREATE INDEX \(t)_resp ON \(t) (resp_h, ts)"]
        }
    }

    /// The columns a read selects, `id` first (PostgreSQL's addresses as text).
    static func logSelect(_ k: LogKind, _ d: SQLDialect) -> String {
        let cols = ["id"] + logColumns(k).map { c in
            d == .postgres && (c == "orig_h" || c == "resp_h") ? "host(\(c)) AS \(c)" : c
        }
        return "SELECT \(cols.joined(separator: ", ")) FROM \(k.table)"
    }

    /// The WHERE clause and ORDER of a `LogQuery` (newest first, by time then id).
    static func logQuerySQL(_ q: LogQuery, _ d: SQLDialect) throws -> (sql: String, binds: [SQLValue], limit: Int) {
        let cursor = try Cursor.parse(q.cursor, kind: "l", count: 2)
        var b = SQLBuilder(d)
        let f = q.filter
        if let n = f.ip { b.add("(\(b.address("orig_h", n)) OR \(b.address("resp_h", n)))") }
        if let n = f.src { b.add(b.address("orig_h", n)) }
        if let n = f.dst { b.add(b.address("resp_h", n)) }
        if let p = f.port { let v = b.param(Int64(p)); b.add("(orig_p = \(v) OR resp_p = \(v))") }
        if let p = f.sport { b.add("orig_p = \(b.param(Int64(p)))") }
        if let p = f.dport { b.add("resp_p = \(b.param(Int64(p)))") }
        if let t = f.transport { b.add("proto = \(b.param(t == .tcp ? "tcp" : "udp"))") }
        b.rangeFilter(f, ts: "ts")
        if let t = f.text { b.add(b.contains(q.kind.textColumn, t)) }
        if let u = q.uid { b.add("uid = \(b.param(u))") }
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
    public static let names = ["ip", "src", "dst", "port", "sport", "dport", "transport", "from", "to", "capture", "sensor",
                               "q", "uid", "flow", "sort"]

    public init(kind: LogKind, filter: TrafficFilter = TrafficFilter(), uid: String? = nil, cursor: String? = nil,
                limit: Int = 100) {
        self.kind = kind; self.filter = filter; self.uid = uid; self.cursor = cursor; self.limit = limit
    }

    public init(kind: LogKind, parameters p: [String: String]) throws {
        self.kind = kind
        filter = try TrafficFilter(parameters: p.filter { $0.key != "app" })
        if let t = filter.transport, t != .tcp && t != .udp {
            throw StoreError.badParameter(name: "transport", message: "protocol logs are over tcp or udp")
        }
        for name in ["uid", "flow"] {
            guard let u = p[name] else { continue }
            guard !u.isEmpty, u.utf8.count <= 64, u.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw StoreError.badParameter(name: name, message: "a flow uid such as CHhAvVGS1DHFjwGM9")
            }
            if let other = uid, other != u {
                throw StoreError.badParameter(name: name, message: "uid and flow name the same thing; give one")
            }
            uid = u
        }
        if let s = p["sort"], s.lowercased() != "time" {
            throw StoreError.badParameter(name: "sort", message: "protocol logs are sorted by time (newest first); valid value: time")
        }
        cursor = p["cursor"]
        limit = try PacketQuery.limit(p)
    }
}
