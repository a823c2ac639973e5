import NIOCore
import SniffCore
import SniffDecode
import Synchronization

/// Writing to ClickHouse: the writer hands over every batch it has queued (up to
/// `coalesceRows` rows), and they go as one `INSERT … FORMAT RowBinary` per table, the
/// tables' inserts in flight together, then one insert of all their ids into
/// `sniff_batches`. ClickHouse makes a part of every column per insert and merges
/// them later, so a few inserts of 100 k+ rows cost far less than one insert per
/// table per 1-8 k-row batch.
///
/// A batch counts as stored only once its id is in `sniff_batches`, which is written
/// after all the rows of every batch in the call. A failure anywhere leaves no id
/// written, so the writer retries the batches (or the journal replays them); their
/// rows written again share their sorting key with the first copies, which the
/// ReplacingMergeTree tables keep once (see `ClickHouseStore`).
extension ClickHouseStore {
    /// Rows per `write(_:)` call: large enough that a call is a few big inserts,
    /// bounded so that the rows being encoded stay a few tens of megabytes.
    public var coalesceRows: Int { 262_144 }

    /// At most about one write call a second while batches keep coming: the server's
    /// merges of small parts were half its CPU in a load (docs/SCALING.md). A finishing
    /// writer's last call and the journal's replays are never held (`WriterStateMachine`).
    public var writePaceNanos: Int64 { 1_000_000_000 }

    @discardableResult
    public func write(_ batch: StoreBatch) async throws -> Bool {
        try await write([batch])[0]
    }

    public func write(_ batches: [StoreBatch]) async throws -> [Bool] {
        guard let first = batches.first else { return [] }
        let what = batches.count == 1 ? "write \(first.content.kindName) batch \(first.id)"
            : "write \(batches.count) batches from \(first.id)"
        let ids = batches.map { "(\($0.id.writer), \($0.id.seq))" }.joined(separator: ", ")
        var seen = Set<BatchID>()
        // Writing into its own shard, a sensor's batch ids are there: read there, so that
        // the sensor depends on its server alone.
        let known = writeTable("sniff_batches")
        for r in try await http.rows("SELECT writer_id, seq FROM \(known) WHERE (writer_id, seq) IN (\(ids))",
                                     what: what) where r.count == 2 {
            if let w = r[0].flatMap({ Int64($0) }), let s = r[1].flatMap({ Int64($0) }) { seen.insert(BatchID(writer: w, seq: s)) }
        }
        var inserts = ClickHouseInserts(buffers: buffers)
        var stored: [Bool] = []
        stored.reserveCapacity(batches.count)
        for b in batches {
            let new = !seen.contains(b.id)
            stored.append(new)
            if new { inserts.add(b) }
        }
        guard !inserts.isEmpty else { return stored }
        try await inserts.send(self, what: what)
        var ledger = ClickHouseInserts(buffers: buffers)
        let now = Timestamp.now().totalNanoseconds
        for (b, new) in zip(batches, stored) where new {
            ledger.append("sniff_batches", ClickHouseSchema.batchColumns) { out in
                let range = b.timeRange
                out.i64(b.id.writer); out.i64(b.id.seq); out.string(b.sensor); out.i64(b.captureID)
                out.string(b.content.kindName); out.i64(Int64(b.content.rowCount))
                out.nullableI64(range?.0); out.nullableI64(range?.1); out.i64(b.createdAt); out.i64(now)
            }
        }
        try await ledger.send(self, what: what)
        return stored
    }

    /// The table a write names, its rows' inserts and the read of its batch ids alike:
    /// the plain table (on a cluster, the Distributed one), or with `localShard` this
    /// server's own `<table>_local`.
    func writeTable(_ table: String) -> String {
        localShard ? ClickHouseSchema.localTable(table) : table
    }
}

/// Each table's encode buffer between write calls. A call's buffers grow to tens of
/// megabytes (262 k packet or flow rows); made anew per call, their pages were faulted
/// in and zeroed by the kernel every time (about a sixth of sniff's CPU in a load).
/// Taken back once the insert is answered, when the HTTP client no longer holds them.
final class ClickHouseBuffers: Sendable {
    private let free = Mutex<[String: ByteBuffer]>([:])

    func take(_ table: String) -> ByteBuffer? { free.withLock { $0.removeValue(forKey: table) } }

    func give(_ table: String, _ buffer: ByteBuffer) { free.withLock { $0[table] = buffer } }
}

/// The rows of one write call, per table, in RowBinary; `send` posts each table's rows
/// as one insert, all tables at once.
struct ClickHouseInserts {
    /// A table's rows in the call (a class: `RowBinary` is `~Copyable`, which an
    /// array's element cannot be).
    private final class Table {
        let table: String, columns: [ClickHouseSchema.Column]
        var rows: RowBinary
        init(_ table: String, _ columns: [ClickHouseSchema.Column], _ rows: consuming RowBinary) {
            self.table = table; self.columns = columns; self.rows = rows
        }
    }
    private var tables: [Table] = []
    private var index: [String: Int] = [:]
    private let buffers: ClickHouseBuffers?

    init(buffers: ClickHouseBuffers? = nil) {
        self.buffers = buffers
    }

    var isEmpty: Bool { tables.allSatisfy { $0.rows.count == 0 } }

    /// Appends to `table`'s rows whatever `body` encodes. `columns` is asked only for a
    /// table new to the call (a log table's list is built, and logs come a row at a time).
    mutating func append(_ table: String, _ columns: @autoclosure () -> [ClickHouseSchema.Column],
                         capacity: Int = 1 << 16, _ body: (inout RowBinary) -> Void) {
        let i: Int
        if let known = index[table] { i = known } else {
            i = tables.count
            index[table] = i
            let reused = buffers?.take(table)
            tables.append(Table(table, columns(), reused.map { RowBinary(reusing: $0) } ?? RowBinary(capacity: capacity)))
        }
        body(&tables[i].rows)
        tables[i].rows.flush()
    }

    /// Posts every table's rows; once all are answered, their buffers go back for the
    /// next call (after a failure they are dropped: the call's rows are written again
    /// from the batches).
    func send(_ store: ClickHouseStore, what: String) async throws {
        let http = store.http
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in tables where t.rows.count > 0 {
                let table = store.writeTable(t.table)
                let sql = "INSERT INTO \(table) (\(t.columns.map(\.name).joined(separator: ", "))) FORMAT RowBinary"
                let body = t.rows.buffer
                group.addTask { try await http.run(sql, body: body, what: what) }
            }
            try await group.waitForAll()
        }
        if let buffers {
            for t in tables { buffers.give(t.table, t.rows.buffer) }
        }
    }

    /// A batch's rows, in the column order of `ClickHouseSchema`.
    mutating func add(_ batch: StoreBatch) {
        let captureID = batch.captureID, sensor = batch.sensor
        switch batch.content {
        case .capture(let c):
            append("captures", ClickHouseSchema.captureColumns) {
                ClickHouseRows.capture(c, updatedAt: batch.createdAt, into: &$0)
            }
        case .packets(let rows):
            // Rows are read where they lie (`withUnsafeBufferPointer`): a `for` over the
            // array copied each row, retaining and releasing its strings.
            append("packets", ClickHouseSchema.packetColumns, capacity: 1 << 22) { out in
                rows.withUnsafeBufferPointer { rows in
                    for i in rows.indices { ClickHouseRows.packet(rows[i], batch: batch, into: &out) }
                }
            }
        case .flows(let rows):
            append("flows", ClickHouseSchema.flowStoredColumns, capacity: 1 << 22) { out in
                rows.withUnsafeBufferPointer { rows in
                    for i in rows.indices {
                        ClickHouseRows.flow(rows[i], captureID: captureID, sensor: sensor, into: &out)
                        out.i64(batch.id.writer); out.i64(batch.id.seq); out.u32(UInt32(truncatingIfNeeded: i))
                    }
                }
            }
            append("flow_counts", ClickHouseSchema.flowCountColumns) { counts in
                for (i, c) in FlowCounts.count(rows).enumerated() {
                    counts.i64(captureID); counts.string(sensor); counts.i64(c.key.second); counts.u8(c.key.ipProto)
                    counts.string(c.key.app); counts.i64(c.flows)
                    counts.i64(batch.id.writer); counts.i64(batch.id.seq); counts.u32(UInt32(truncatingIfNeeded: i))
                }
            }
        case .alerts(let rows):
            append("alerts", ClickHouseSchema.alertColumns) { out in
                for a in rows {
                    out.i64(captureID); out.string(sensor); out.string(a.id); out.i64(a.ts); out.string(a.severity)
                    out.u8(UInt8(truncatingIfNeeded: Schema.severityLevel(a.severity))); out.string(a.rule);
                    out.string(a.kind)
                    out.string(a.message); out.nullableString(a.uid);
                    out.string(a.hosts.map(\.description).joined(separator: ","))
                    out.u64(a.suppressed)
                }
            }
        case .traffic(let rows):
            append("traffic", ClickHouseSchema.trafficColumns) { out in
                for (i, t) in rows.enumerated() {
                    out.i64(captureID); out.string(sensor); out.i64(t.ts); out.u8(t.transport.rawValue);
                    out.u8(t.app.rawValue)
                    out.i64(t.packets); out.i64(t.bytes)
                    out.i64(batch.id.writer); out.i64(batch.id.seq); out.u32(UInt32(truncatingIfNeeded: i))
                }
            }
        case .hosts(let rows):
            for h in rows {
                append("hosts", ClickHouseSchema.hostColumns) { out in
                    out.i64(captureID); out.string(sensor); out.address(h.address); out.i64(h.firstTs);
                    out.i64(h.lastTs)
                    out.nullableString(h.country); out.nullableU32(h.asn); out.nullableString(h.org);
                    out.string(h.category)
                    out.nullableString(h.mac); out.nullableString(h.vendor)
                }
                if let n = h.name {
                    append("host_names", ClickHouseSchema.hostNameColumns) { names in
                        names.i64(captureID); names.string(sensor); names.address(h.address); names.string(n)
                        names.i64(h.nameFirstSeen); names.i64(h.nameLastSeen); names.string(h.nameSource.rawValue)
                    }
                }
            }
        case .logs(let rows):
            rows.withUnsafeBufferPointer { rows in
                for i in rows.indices {
                    append(rows[i].kind.table, ClickHouseSchema.logColumns(rows[i].kind)) { out in
                        ClickHouseRows.log(rows[i], captureID: captureID, sensor: sensor, into: &out)
                        out.i64(batch.id.writer); out.i64(batch.id.seq); out.u32(UInt32(truncatingIfNeeded: i))
                    }
                }
            }
        }
    }
}
