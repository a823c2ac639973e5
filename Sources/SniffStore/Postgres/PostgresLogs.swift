import PostgresNIO
import SniffCore

/// The protocol log tables in PostgreSQL (`LogKind`): COPY with the rows' batch, read
/// newest first.
extension PostgresStore {
    func copyLogs(_ rows: [LogRow], prefix: [UInt8], _ c: PostgresConnection) async throws {
        for k in LogKind.allCases {
            let these = rows.filter { $0.kind == k }
            guard !these.isEmpty else { continue }
            let before =
                try await PG.rows(c, "SELECT coalesce(max(id), 0) FROM \(k.table)", []).first?.decode(Int64.self) ?? 0
            try await copy(c, table: k.table, columns: Schema.logColumns(k), count: these.count) { out, n in
                let r = these[n]
                out.sink.bytes.append(contentsOf: prefix)
                out.int(r.ts); out.tab(); out.text(r.uid); out.tab(); out.text(r.origH.description); out.tab()
                out.int(Int64(r.origP)); out.tab(); out.text(r.respH.description); out.tab(); out.int(Int64(r.respP));
                out.tab()
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
            _ = try await PG.rows(c, Schema.logSegmentUpsert(k, .postgres), [.int(before)])
        }
    }

    public func logs(_ q: LogQuery) async throws -> Page<StoredLog> {
        let kind = q.kind
        @Sendable func read(_ rows: [PostgresRow]) throws -> [(Int64, StoredLog)] {
            try rows.map { row -> (Int64, StoredLog) in
                let c = PGCells(row)
                return try Schema.logRow(kind) { i, type in try Schema.logValue(c, i, type) }
            }
        }
        guard let keyed = try Schema.logSegmentsSQL(q, .postgres) else {
            let (sql, binds, limit) = try Schema.logQuerySQL(q, .postgres)
            return Schema.logPage(try read(try await rows(kind.table, sql, binds)), limit: limit)
        }
        let merge = try await withConnection(kind.table) { c in
            let segments = try await PG.rows(c, keyed.sql, keyed.binds).map { r in
                let cells = PGCells(r)
                return (seg: try cells.int(0) ?? 0, maxTs: try cells.int(1) ?? 0)
            }
            var merge = Schema.LogMerge(limit: min(max(q.limit, 1), PacketQuery.maximumLimit))
            for round in Schema.logRounds(segments) {
                let (sql, binds, _) = try Schema.logQuerySQL(q, .postgres, segments: round.segments)
                merge.add(try read(try await PG.rows(c, sql, binds)))
                if merge.complete(before: round.next) { break }
            }
            return merge
        }
        return Schema.logPage(merge.rows, limit: merge.limit)
    }
}
