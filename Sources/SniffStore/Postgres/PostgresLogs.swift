import PostgresNIO
import SniffCore

/// The protocol log tables in PostgreSQL (`LogKind`): COPY with the rows' batch, read
/// newest first.
extension PostgresStore {
    func copyLogs(_ rows: [LogRow], prefix: [UInt8], _ c: PostgresConnection) async throws {
        for k in LogKind.allCases {
            let these = rows.filter { $0.kind == k }
            guard !these.isEmpty else { continue }
            try await copy(c, table: k.table, columns: Schema.logColumns(k), count: these.count) { out, n in
                let r = these[n]
                out.sink.bytes.append(contentsOf: prefix)
                out.int(r.ts); out.tab(); out.text(r.uid); out.tab(); out.text(r.origH.description); out.tab()
                out.int(Int64(r.origP)); out.tab(); out.text(r.respH.description); out.tab(); out.int(Int64(r.respP)); out.tab()
                out.text(r.proto)
                for v in r.values {
                    out.tab()
                    switch v {
                    case .null: out.nullValue()
                    case .int(let x): out.int(x)
                    case .text(let s): out.text(s)
                    case .bool(let b): out.bool(b)
                    case .list(let l): out.text(LogValue.joined(l))
                    }
                }
                out.newline()
            }
        }
    }

    public func logs(_ q: LogQuery) async throws -> Page<StoredLog> {
        let (sql, binds, limit) = try Schema.logQuerySQL(q, .postgres)
        let kind = q.kind
        let rows = try await rows(kind.table, sql, binds).map { row -> (Int64, StoredLog) in
            let c = PGCells(row)
            return try Schema.logRow(kind) { i, type -> LogValue in
                switch type {
                case .int: return try c.int(i).map { .int($0) } ?? .null
                case .bool: return try c.bool(i).map { .bool($0) } ?? .null
                case .text: return try c.text(i).map { .text($0) } ?? .null
                case .texts, .ints: return try c.text(i).map { .list(LogValue.split($0)) } ?? .null
                }
            }
        }
        return Schema.logPage(rows, limit: limit)
    }
}
