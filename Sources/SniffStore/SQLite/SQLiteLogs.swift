import SniffCore

/// The protocol log tables in SQLite (`LogKind`): written with the rows' batch,
/// read newest first.
extension SQLiteStore {
    static let insertLogSQL: [LogKind: String] = Dictionary(uniqueKeysWithValues: LogKind.allCases.map { k in
        let cols = Schema.logColumns(k)
        return (k, "INSERT INTO \(k.table) (\(cols.joined(separator: ", "))) VALUES ("
            + (1...cols.count).map { "?\($0)" }.joined(separator: ", ") + ")")
    })

    /// Text is bound from an arena reset after each row, the vectors written into it as
    /// text: no copy by SQLite and no String per value. The addresses are their 4 or 16
    /// bytes (`SQLiteSchema.logAddressBytesVersion`).
    static func insertLogs(_ rows: [LogRow], _ batch: StoreBatch, _ c: SQLiteConnection) throws {
        let arena = BindArena(capacity: 1 << 16)
        var text = ByteSink(capacity: 1024)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 32, alignment: 8)
        defer { scratch.deallocate() }
        func address(_ a: IPAddress, at offset: Int) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(start: scratch + offset, count: CompactPacket.write(a, to: scratch + offset))
        }
        for k in LogKind.allCases where rows.contains(where: { $0.kind == k }) {
            let before = try c.scalar("SELECT coalesce(max(id), 0) FROM \(k.table)") ?? 0
            // The dns table keeps codes and the uid's bytes (`DNSTable`): its columns
            // are one to the left, `origin` standing for capture_id and sensor.
            let coded = DNSTable.isCoded(k, .sqlite)
            let st = try c.cached(coded ? DNSTable.insertSQL : insertLogSQL[k]!)
            let shift: Int32 = coded ? -1 : 0
            if coded {
                st.bind(1, try c.packetCodes.originCode(captureID: batch.captureID, sensor: batch.sensor, c))
            } else {
                st.bind(1, batch.captureID); st.bind(2, batch.sensor)
            }
            func bind(_ i: Int32, _ write: (inout ByteSink) -> Void) {
                text.removeAll()
                write(&text)
                text.bytes.withUnsafeBufferPointer { st.bind(i, bytes: $0, arena: arena) }
            }
            for r in rows where r.kind == k {
                st.bind(3 + shift, r.ts)
                if coded {
                    FlowUIDBytes.bind(st, 4 + shift, r.uid, arena: arena)
                } else {
                    st.bind(4, r.uid, arena: arena)
                }
                st.bindBlobStatic(5 + shift, address(r.origH, at: 0))
                st.bind(6 + shift, Int64(r.origP)); st.bindBlobStatic(7 + shift, address(r.respH, at: 16))
                st.bind(8 + shift, Int64(r.respP))
                if coded {
                    st.bind(9 + shift, try c.packetCodes.nameCode(r.proto, c))
                } else {
                    st.bind(9, r.proto, arena: arena)
                }
                for (j, v) in r.values.enumerated() {
                    let i = Int32(10 + j) + shift
                    switch v {
                    case .null: st.bindNull(i)
                    case .int(let x): st.bind(i, x)
                    case .text(let s) where coded && DNSTable.namedValues[j]:
                        st.bind(i, try c.packetCodes.nameCode(s, c))
                    case .text(let s): st.bind(i, s, arena: arena)
                    case .bool(let b): st.bind(i, Int64(b ? 1 : 0))
                    case .list(let l): bind(i) { LogValue.append(joined: l, into: &$0) }
                    }
                }
                try st.run()
                arena.reset()
            }
            let segments = try c.cached(Schema.logSegmentUpsert(k, .sqlite))
            segments.bind(1, before)
            try segments.run()
        }
    }

    public func logs(_ q: LogQuery) async throws -> Page<StoredLog> {
        let kind = q.kind
        @Sendable func read(_ c: SQLiteConnection, _ sql: String, _ binds: [SQLValue]) throws -> [(Int64, StoredLog)] {
            try c.query(sql, binds) { st in
                try Schema.logRow(kind) { i, type -> LogValue in
                    let k = Int32(i)
                    if st.isNull(k) { return .null }
                    switch type {
                    case .int: return .int(st.int64(k))
                    case .bool: return .bool(st.int64(k) != 0)
                    // The uid of `DNSTable` is bytes when it is one of Sniff's.
                    case .text where i == 4 && st.isBlob(k): return .text(FlowUIDBytes.read(st, k) ?? "")
                    // The addresses are bytes (text in a row the conversion could not read).
                    case .text:
                        return .text(st.isBlob(k) ? CompactPacket.address(st.blob(k))?.description ?? "" : st.text(k))
                    case .texts, .ints: return .list(LogValue.split(st.text(k)))
                    }
                }
            }
        }
        guard let keyed = try Schema.logSegmentsSQL(q, .sqlite) else {
            let (sql, binds, limit) = try Schema.logQuerySQL(q, .sqlite)
            return Schema.logPage(try await reader.run { c in try read(c, sql, binds) }, limit: limit)
        }
        let merge = try await reader.run { c in
            let segments = try c.query(keyed.sql, keyed.binds) { st in (seg: st.int64(0), maxTs: st.int64(1)) }
            var merge = Schema.LogMerge(limit: min(max(q.limit, 1), PacketQuery.maximumLimit))
            for round in Schema.logRounds(segments) {
                let (sql, binds, _) = try Schema.logQuerySQL(q, .sqlite, segments: round.segments)
                merge.add(try read(c, sql, binds))
                if merge.complete(before: round.next) { break }
            }
            return merge
        }
        return Schema.logPage(merge.rows, limit: merge.limit)
    }
}

/// The log tables' addresses as bytes (`CompactPacket`): a DNS row's two addresses as
/// text were 27 bytes of its record and 13 of each address index's entries on a capture
/// of IPv4 clients. The columns keep their declared type (a BLOB is stored as given
/// whatever the affinity); `dns_v`, `http_v` and `tls_v` show the addresses as text.
extension SQLiteSchema {
    static let logAddressBytesVersion = 20

    /// Rows are rewritten in place; a value that is no address stays text (the reads
    /// take either). A later version that adds a log column makes the view again.
    static let logAddressBytesStatements: [String] = LogKind.allCases.flatMap { k -> [String] in
        let t = k.table
        func bytes(_ c: String) -> String { "\(c) = coalesce(sniff_address_bytes(\(c)), \(c))" }
        let cols = ["id"] + Schema.logColumns(k).map { c in
            guard c == "orig_h" || c == "resp_h" else { return c }
            return "CASE typeof(\(c)) WHEN 'blob' THEN \(CompactPacket.addressText(c)) ELSE \(c) END AS \(c)"
        }
        return ["UPDATE \(t) SET \(bytes("orig_h")), \(bytes("resp_h"))",
                "CREATE VIEW \(t)_v AS SELECT \(cols.joined(separator: ", ")) FROM \(t)"]
    }
}
