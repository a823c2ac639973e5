import SniffCore
import SniffDecode

/// A SQLite table without secondary B-trees (packets since schema 7, flows since 9).
/// Rows are appended with consecutive ids given by the writer; every `segmentRows` of
/// them form a segment, which the writer indexes in the transaction that completes it:
/// one `KeyRun` per key in `sniff_key_runs`, and the segment's id and time range in
/// `sniff_segments`. Rows after the last segment (the open tail, less than one
/// segment) are read by scanning their id range, so a row is found by every filter as
/// soon as its batch commits.
struct SegmentedTable: Sendable {
    /// The table; also its tag in `sniff_segments` and `sniff_key_runs`.
    let name: String
    /// The runs written for each segment, in the order `addKeys` fills them.
    let kinds: [String]
    /// Columns read to build the runs, after `id, ts`.
    let keyColumns: String
    /// Adds the keys of the current row of a `SELECT id, ts, keyColumns` to `entries`
    /// (one array per kind).
    let addKeys: @Sendable (SQLiteStatement, UInt32, inout [[KeyRun.Entry]]) -> Void

    /// The writer's note on the open tail (see `updateTail`).
    var tailTag: String { name + "_tail" }

    static let packets = SegmentedTable(
        name: "packets", kinds: ["src", "dst", "sport", "dport", "transport", "app"],
        keyColumns: "src, dst, sport, dport, transport, app"
    ) { st, row, entries in
        if !st.isNull(2) { entries[0].append(KeyRun.Entry(bytes: st.blob(2), row: row)) }
        if !st.isNull(3) { entries[1].append(KeyRun.Entry(bytes: st.blob(3), row: row)) }
        if let v = st.optionalInt64(4) {
            entries[2].append(KeyRun.Entry(integer: UInt64(truncatingIfNeeded: v), width: 2, row: row))
        }
        if let v = st.optionalInt64(5) {
            entries[3].append(KeyRun.Entry(integer: UInt64(truncatingIfNeeded: v), width: 2, row: row))
        }
        // NULL transport and app are stored as code 0 (none, unknown), which is what
        // a filter for them looks up.
        entries[4].append(
            KeyRun.Entry(integer: UInt64(truncatingIfNeeded: st.optionalInt64(6) ?? 0), width: 1, row: row))
        entries[5].append(
            KeyRun.Entry(integer: UInt64(truncatingIfNeeded: st.optionalInt64(7) ?? 0), width: 1, row: row))
    }

    /// Flows (schema 9): the addresses and ports the filters look up, and the three
    /// sort keys of /api/flows as `KeyRun.sortKey`s, so that "newest", "biggest" and
    /// "most packets" first read each segment's run backwards instead of sorting rows.
    static let flows = SegmentedTable(
        name: "flows", kinds: ["orig_h", "resp_h", "orig_p", "resp_p", "ts", "bytes", "pkts"],
        keyColumns: "orig_h, resp_h, orig_p, resp_p, total_bytes, total_pkts"
    ) { st, row, entries in
        entries[0].append(KeyRun.Entry(bytes: st.blob(2), row: row))
        entries[1].append(KeyRun.Entry(bytes: st.blob(3), row: row))
        entries[2].append(KeyRun.Entry(integer: UInt64(truncatingIfNeeded: st.int64(4)), width: 2, row: row))
        entries[3].append(KeyRun.Entry(integer: UInt64(truncatingIfNeeded: st.int64(5)), width: 2, row: row))
        entries[4].append(KeyRun.Entry(integer: KeyRun.sortKey(st.int64(1)), width: 8, row: row))
        entries[5].append(KeyRun.Entry(integer: KeyRun.sortKey(st.int64(6)), width: 8, row: row))
        entries[6].append(KeyRun.Entry(integer: KeyRun.sortKey(st.int64(7)), width: 8, row: row))
    }

    struct Segment {
        let first: Int64
        let last: Int64
        let minTs: Int64
        let maxTs: Int64
        /// Times never decrease with the id: the newest rows are the highest ids.
        let ordered: Bool
    }

    /// The first id after every indexed segment (1 in a new table).
    func tailStart(_ c: SQLiteConnection) throws -> Int64 {
        let st = try c.cached("SELECT max(last_id) FROM sniff_segments WHERE tbl = ?1")
        st.bind(1, name)
        defer { st.rewind() }
        return (try st.step() ? st.optionalInt64(0) ?? 0 : 0) + 1
    }

    /// The largest id stored. Table names come from the two fixed tables, never input.
    func maxID(_ c: SQLiteConnection) throws -> Int64? {
        try c.scalar("SELECT max(id) FROM \(name)")
    }

    /// The id the next stored row gets. Never an id a segment covers, even when
    /// retention has deleted the newest rows.
    func nextID(_ c: SQLiteConnection) throws -> Int64 {
        max(try tailStart(c), (try maxID(c) ?? 0) + 1)
    }

    /// Indexes every complete segment of the tail. Runs inside the caller's write
    /// transaction, so the rows and their runs commit together; the same call catches
    /// up after a migration. `closed` is called with each segment indexed.
    func indexComplete(_ c: SQLiteConnection, segmentRows: Int64,
                       closed: (Segment) throws -> Void = { _ in }) throws {
        var first = try tailStart(c)
        let top = try maxID(c) ?? 0
        while top - first + 1 >= segmentRows {
            try closed(try index(c, first: first, last: first + segmentRows - 1))
            first += segmentRows
        }
    }

    /// The keys this connection collected while writing (`TailKeys`); they stay
    /// with the connection, between batches.
    func kept(_ c: SQLiteConnection) -> TailKeys {
        if let t = c.tailKeys[name] { return t }
        let t = TailKeys(kinds: kinds.count)
        c.tailKeys[name] = t
        return t
    }

    /// Indexes the segment `first...last`: from the keys the writer kept when they
    /// cover it, else (`readBack`, a migration, another writer, a restart) by reading
    /// the segment's rows back.
    @discardableResult
    func index(_ c: SQLiteConnection, first: Int64, last: Int64, readBack: Bool = false) throws -> Segment {
        var entries: [[KeyRun.Entry]]
        var minTs = Int64.max, maxTs = Int64.min, previous = Int64.min
        var ordered = true
        if !readBack, let held = c.tailKeys[name]?.take(first: first, last: last) {
            entries = held.entries
            for ts in held.times {
                if ts < previous { ordered = false }
                previous = ts
                minTs = min(minTs, ts); maxTs = max(maxTs, ts)
            }
        } else {
            let st = try c.cached("SELECT id, ts, \(keyColumns) FROM \(name) WHERE id BETWEEN ?1 AND ?2 ORDER BY id")
            st.bind(1, first); st.bind(2, last)
            entries = [[KeyRun.Entry]](repeating: [], count: kinds.count)
            for k in entries.indices { entries[k].reserveCapacity(Int(last - first + 1)) }
            defer { st.reset() }
            while try st.step() {
                let row = UInt32(truncatingIfNeeded: st.int64(0) - first)
                let ts = st.int64(1)
                if ts < previous { ordered = false }
                previous = ts
                minTs = min(minTs, ts); maxTs = max(maxTs, ts)
                addKeys(st, row, &entries)
            }
        }
        if minTs > maxTs { minTs = 0; maxTs = 0 }
        let seg = try c.cached("""
            INSERT OR REPLACE INTO sniff_segments (tbl, first_id, last_id, min_ts, max_ts, ordered) VALUES (?6, ?1, ?2, ?3, ?4, ?5)
            """)
        seg.bind(1, first); seg.bind(2, last); seg.bind(3, minTs); seg.bind(4, maxTs); seg.bind(5, ordered ? 1 : 0);
        seg.bind(6, name)
        try seg.run()
        let put = try c.cached(
            "INSERT OR REPLACE INTO sniff_key_runs (tbl, first_id, kind, data) VALUES (?4, ?1, ?2, ?3)")
        var scratch: [KeyRun.Entry] = []
        for (k, kind) in kinds.enumerated() {
            // Entries were appended in id order (kept or read back), as `KeyRun.sort` needs.
            KeyRun.sort(&entries[k], scratch: &scratch)
            let run = KeyRun.encode(entries[k])
            put.bind(1, first); put.bind(2, kind); put.bind(4, name)
            try run.withUnsafeBytes { b in
                put.bindBlobStatic(3, b)
                try put.run()
            }
        }
        return Segment(first: first, last: last, minTs: minTs, maxTs: maxTs, ordered: ordered)
    }

    private func readSegments(_ c: SQLiteConnection, tag: String) throws -> [Segment] {
        try c.query(
            "SELECT first_id, last_id, min_ts, max_ts, ordered FROM sniff_segments WHERE tbl = ?1", [.text(tag)]
        ) {
            Segment(
                first: $0.int64(0), last: $0.int64(1), minTs: $0.int64(2), maxTs: $0.int64(3), ordered: $0.int64(4) != 0
            )
        }
    }

    /// The open tail's id and time range, and whether its times rise with its ids, kept
    /// by the writer in `sniff_segments` under `tailTag` (one row, rewritten with every
    /// batch): a reader then takes the newest rows of an ordered tail from its highest
    /// ids instead of reading every (id, ts) of it.
    func updateTail(_ c: SQLiteConnection, times: [Int64], firstNewID: Int64) throws {
        let start = try tailStart(c)
        guard let top = try maxID(c), top >= start else { return }
        let old = try readSegments(c, tag: tailTag).first
        var t: Segment
        if let old, old.first == start, old.last == firstNewID - 1, firstNewID >= start, !times.isEmpty {
            var ordered = old.ordered, previous = old.maxTs, lo = old.minTs, hi = old.maxTs
            for ts in times {
                if ts < previous { ordered = false }
                previous = ts; lo = min(lo, ts); hi = max(hi, ts)
            }
            t = Segment(first: start, last: top, minTs: lo, maxTs: hi, ordered: ordered)
        } else {
            // A new tail (a segment was just indexed, or the first batch): read it once.
            let st = try c.prepare("SELECT ts FROM \(name) WHERE id >= ?1 ORDER BY id")
            st.bind(1, start)
            var ordered = true, previous = Int64.min, lo = Int64.max, hi = Int64.min
            while try st.step() {
                let ts = st.int64(0)
                if ts < previous { ordered = false }
                previous = ts; lo = min(lo, ts); hi = max(hi, ts)
            }
            t = Segment(first: start, last: top, minTs: lo, maxTs: hi, ordered: ordered)
        }
        let put = try c.cached("""
            INSERT OR REPLACE INTO sniff_segments (tbl, first_id, last_id, min_ts, max_ts, ordered) VALUES (?6, ?1, ?2, ?3, ?4, ?5)
            """)
        let clear = try c.cached("DELETE FROM sniff_segments WHERE tbl = ?1")
        clear.bind(1, tailTag)
        try clear.run()
        put.bind(1, t.first); put.bind(2, t.last); put.bind(3, t.minTs); put.bind(4, t.maxTs);
        put.bind(5, t.ordered ? 1 : 0)
        put.bind(6, tailTag)
        try put.run()
    }

    /// The tail as an ordered segment, when the writer's note of it covers every row.
    func orderedTail(_ c: SQLiteConnection, start: Int64) throws -> Segment? {
        guard let t = try readSegments(c, tag: tailTag).first, t.ordered, t.first == start else { return nil }
        let top = try maxID(c) ?? 0
        return top <= t.last ? t : nil
    }

    func segments(_ c: SQLiteConnection) throws -> [Segment] { try readSegments(c, tag: name) }

    /// Retention: whole segments older than the cutoff lose their rows by id range and
    /// their runs; a segment straddling the cutoff and the tail lose their old rows (a
    /// run may then name a deleted id, which a lookup simply does not find). `changed`
    /// is called, in the same transaction, with each segment whose rows were deleted and
    /// whether it is gone.
    func deleteBefore(_ cutoff: Int64, _ c: SQLiteConnection,
                      changed: (Segment, _ dropped: Bool) throws -> Void = { _, _ in }) throws -> Int64 {
        // Deleted rows must not reach a run: the next segment is read back.
        c.tailKeys[name] = nil
        var deleted: Int64 = 0
        for s in try segments(c) where s.minTs < cutoff {
            try c.exec("BEGIN IMMEDIATE")
            do {
                if s.maxTs < cutoff {
                    let d = try c.prepare("DELETE FROM \(name) WHERE id BETWEEN ?1 AND ?2")
                    d.bind(1, s.first); d.bind(2, s.last)
                    try d.run()
                    deleted += Int64(c.changes)
                    for sql in ["DELETE FROM sniff_key_runs WHERE tbl = ?2 AND first_id = ?1",
                                "DELETE FROM sniff_segments WHERE tbl = ?2 AND first_id = ?1"] {
                        let st = try c.prepare(sql)
                        st.bind(1, s.first); st.bind(2, name)
                        try st.run()
                    }
                    try changed(s, true)
                } else {
                    let d = try c.prepare("DELETE FROM \(name) WHERE id BETWEEN ?1 AND ?2 AND ts < ?3")
                    d.bind(1, s.first); d.bind(2, s.last); d.bind(3, cutoff)
                    try d.run()
                    let n = c.changes
                    deleted += Int64(n)
                    if n > 0 { try changed(s, false) }
                }
                try c.exec("COMMIT")
            } catch {
                try? c.exec("ROLLBACK")
                throw error
            }
        }
        try c.exec("BEGIN IMMEDIATE")
        do {
            let d = try c.prepare("DELETE FROM \(name) WHERE id >= ?1 AND ts < ?2")
            d.bind(1, try tailStart(c)); d.bind(2, cutoff)
            try d.run()
            deleted += Int64(c.changes)
            try c.exec("COMMIT")
        } catch {
            try? c.exec("ROLLBACK")
            throw error
        }
        return deleted
    }

    /// The ids of the rows whose `ts` is in `from..<to`: through each overlapping
    /// segment's "ts" run (tables that have one), else by scanning the id ranges.
    /// For the few rows at the edges of a range (partial seconds), never a whole table.
    func ids(_ c: SQLiteConnection, from: Int64, to: Int64) throws -> [Int64] {
        guard from < to else { return [] }
        var ids: [Int64] = []
        let scan = try c.prepare("SELECT id FROM \(name) WHERE id BETWEEN ?1 AND ?2 AND ts >= ?3 AND ts < ?4")
        func scanRange(_ lo: Int64, _ hi: Int64) throws {
            scan.bind(1, lo); scan.bind(2, hi); scan.bind(3, from); scan.bind(4, to)
            while try scan.step() { ids.append(scan.int64(0)) }
            scan.rewind()
        }
        let hasRun = kinds.contains("ts")
        let runs = try c.prepare("SELECT data FROM sniff_key_runs WHERE tbl = ?1 AND first_id = ?2 AND kind = 'ts'")
        for s in try segments(c) where s.maxTs >= from && s.minTs < to {
            runs.bind(1, name); runs.bind(2, s.first)
            if hasRun, try runs.step() {
                var rows: [UInt32] = []
                KeyRun.rows(
                    in: runs.blob(0), from: KeyRun.sortKeyBytes(from), through: KeyRun.sortKeyBytes(to - 1), into: &rows
                )
                ids += rows.map { s.first + Int64($0) }
            } else {
                try scanRange(s.first, s.last)
            }
            runs.rewind()
        }
        try scanRange(try tailStart(c), Int64.max)
        return ids
    }
}

/// One page of a segmented table's rows, largest (sort key, id) first: the open tail
/// scanned, then the segments, each searched through its runs, until no other segment
/// can hold a row for the page. Sorted by `ts`, segments are visited from the newest
/// time down and the walk stops at the first one too old; sorted by another key, every
/// segment in the time range is visited, each read backwards through its run of that
/// key and left at its first row smaller than the page's last.
struct SegmentSearch<Row> {
    /// A run lookup: the kinds whose rows are united, and the key range.
    struct Lookup {
        var kinds: [String]
        var lo: [UInt8]
        var hi: [UInt8]
    }

    let c: SQLiteConnection
    let table: SegmentedTable
    /// Rows wanted: the page and one more (to know whether there is a next page).
    let need: Int
    let cursor: (key: Int64, id: Int64)?
    let lookup: Lookup?
    /// (key, id, row), largest first, at most `need`.
    private(set) var found: [(key: Int64, id: Int64, row: Row)] = []

    private let timeSorted: Bool
    private let sortRun: String?
    private let from: Int64?
    private let to: Int64?
    private let readRow: (SQLiteStatement) -> Row
    private let point: SQLiteStatement
    private let byID: SQLiteStatement
    private let byKey: SQLiteStatement
    private let probe: SQLiteStatement
    private let runs: SQLiteStatement
    private let extra: Int32

    /// - Parameters:
    ///   - columns: the selected columns, `id` first and the sort key at `keyColumn`.
    ///   - sortColumn: `ts`, or another integer column with a run (`sortRun`).
    ///   - conditions, binds: the whole filter (and the cursor), checked on every row.
    ///   - from, to: the filter's time range, to skip segments outside it.
    init(
        _ c: SQLiteConnection, table: SegmentedTable, columns: String, keyColumn: Int32, sortColumn: String,
        sortRun: String?,
        conditions: [String], binds: [SQLValue], from: Int64?, to: Int64?, need: Int, cursor: (key: Int64, id: Int64)?,
        lookup: Lookup?, read: @escaping (SQLiteStatement) -> Row
    ) throws {
        self.c = c; self.table = table; self.need = need; self.cursor = cursor; self.lookup = lookup
        self.timeSorted = sortColumn == "ts"; self.sortRun = sortRun; self.from = from; self.to = to
        self.readRow = read
        extra = Int32(binds.count)
        let cond = conditions.isEmpty ? "" : " AND " + conditions.joined(separator: " AND ")
        // Table and column names come from SegmentedTable and the callers' fixed lists.
        let select = "SELECT \(columns) FROM \(table.name)"
        point = try c.prepare("\(select) WHERE id = ?\(extra + 1)\(cond)")
        byID = try c.prepare(
            "\(select) WHERE id BETWEEN ?\(extra + 1) AND ?\(extra + 2)\(cond) ORDER BY id DESC LIMIT ?\(extra + 3)")
        // Without ORDER BY: sorting whole rows in SQLite cost 7 times the scan; the largest
        // (key, id) pairs are picked in Swift and only those rows read.
        byKey = try c.prepare(
            "SELECT id, \(sortColumn) FROM \(table.name) WHERE id BETWEEN ?\(extra + 1) AND ?\(extra + 2)\(cond)")
        for st in [point, byID, byKey] { try st.bind(binds) }
        probe = try c.prepare("SELECT id, ts FROM \(table.name) WHERE id >= ?1 AND id <= ?2 ORDER BY id LIMIT 1")
        runs = try c.prepare("SELECT data FROM sniff_key_runs WHERE tbl = ?3 AND first_id = ?1 AND kind = ?2")
        self.keyColumn = keyColumn
    }

    private let keyColumn: Int32

    var full: Bool { found.count >= need }

    /// Whether a row at (key, id) would enter the page.
    @inline(__always)
    func wanted(_ key: Int64, _ id: Int64) -> Bool {
        guard full, let last = found.last else { return true }
        return (key, id) > (last.key, last.id)
    }

    mutating func add(_ st: SQLiteStatement) {
        let id = st.int64(0), key = st.int64(keyColumn)
        guard wanted(key, id) else { return }
        var a = 0, b = found.count
        while a < b {
            let m = (a + b) / 2
            if (found[m].key, found[m].id) > (key, id) { a = m + 1 } else { b = m }
        }
        found.insert((key, id, readRow(st)), at: a)
        if found.count > need { found.removeLast() }
    }

    mutating func run() throws {
        let tail = try table.tailStart(c)
        if timeSorted, let t = try table.orderedTail(c, start: tail) {
            try search(t)
        } else {
            try scanUnordered(from: tail, to: Int64.max)
        }
        var segments = try table.segments(c)
        if timeSorted { segments.sort { ($0.maxTs, $0.last) > ($1.maxTs, $1.last) } }
        for s in segments {
            if timeSorted, full, let last = found.last, (s.maxTs, s.last) < (last.key, last.id) { break }
            if let f = from, s.maxTs < f { continue }
            if let t = to, s.minTs >= t { continue }
            if timeSorted, let cur = cursor, s.minTs > cur.key { continue }
            try search(s)
        }
    }

    private mutating func scan(_ st: SQLiteStatement, from: Int64, to: Int64) throws {
        guard from <= to else { return }
        if st === byKey { return try scanUnordered(from: from, to: to) }
        st.bind(extra + 1, from); st.bind(extra + 2, to); st.bind(extra + 3, Int64(need))
        defer { st.rewind() }
        while try st.step() {
            if !wanted(st.int64(keyColumn), st.int64(0)) { break }
            add(st)
        }
    }

    /// Rows of an id range whose keys do not follow the ids (or may not: the tail):
    /// every matching (id, key), the largest `need` of them, then those rows.
    private mutating func scanUnordered(from: Int64, to: Int64) throws {
        byKey.bind(extra + 1, from); byKey.bind(extra + 2, to)
        var pairs: [(key: Int64, id: Int64)] = []
        while try byKey.step() {
            let id = byKey.int64(0), key = byKey.int64(1)
            if wanted(key, id) { pairs.append((key, id)) }
        }
        byKey.rewind()
        if pairs.count > need {
            pairs.sort { ($0.key, $0.id) > ($1.key, $1.id) }
            pairs.removeLast(pairs.count - need)
        }
        try read(pairs.map(\.id), ordered: false)
    }

    /// Reads rows by id (checked against the whole filter again) into the page. With
    /// `ordered`, ids come largest key first and reading stops at the first row too small.
    private mutating func read(_ ids: [Int64], ordered: Bool) throws {
        var previous = Int64.min
        for id in ids where id != previous {
            previous = id
            point.bind(extra + 1, id)
            if try point.step() {
                if ordered && !wanted(point.int64(keyColumn), id) {
                    point.rewind()
                    break
                }
                add(point)
            }
            point.rewind()
        }
    }

    /// The smallest id in `lo...hi + 1` whose (ts, id) is at least (ts, id) in a segment
    /// whose times never decrease: a binary search of point reads.
    private func firstAtLeast(_ ts: Int64, _ id: Int64, lo: Int64, hi: Int64) throws -> Int64 {
        var a = lo, b = hi + 1
        while a < b {
            let m = a + (b - a) / 2
            probe.bind(1, m); probe.bind(2, hi)
            let row: (Int64, Int64)? = try probe.step() ? (probe.int64(0), probe.int64(1)) : nil
            probe.rewind()
            if let row, (row.1, row.0) < (ts, id) { a = row.0 + 1 } else { b = m }
        }
        return a
    }

    private mutating func search(_ s: Segment) throws {
        var lo = s.first, hi = s.last
        let ordered = timeSorted && s.ordered
        if ordered {
            // Times rise with ids: the time range and the cursor are an id range.
            if let f = from { lo = max(lo, try firstAtLeast(f, Int64.min, lo: lo, hi: hi)) }
            if let t = to { hi = min(hi, try firstAtLeast(t, Int64.min, lo: lo, hi: hi) - 1) }
            if let cur = cursor { hi = min(hi, try firstAtLeast(cur.key, cur.id, lo: lo, hi: hi) - 1) }
            if lo > hi { return }
        }
        guard let lookup else {
            if !ordered, let sortRun, try descending(s, run: sortRun, lo: lo, hi: hi) { return }
            try scan(ordered ? byID : byKey, from: lo, to: hi)
            return
        }
        var rows: [UInt32] = []
        for kind in lookup.kinds {
            runs.bind(1, s.first); runs.bind(2, kind); runs.bind(3, table.name)
            if try runs.step() {
                KeyRun.rows(in: runs.blob(0), from: lookup.lo, through: lookup.hi, into: &rows)
            } else {
                // No run (a damaged or foreign file): the segment is scanned instead.
                runs.rewind()
                try scan(ordered ? byID : byKey, from: lo, to: hi)
                return
            }
            runs.rewind()
        }
        var ids = rows.map { s.first + Int64($0) }.filter { $0 >= lo && $0 <= hi }
        ids.sort(by: >)
        // Many matches (a busy port, a wide network): reading the range in order stops
        // sooner than reading each row.
        if ids.count > Int(hi - lo + 1) / 4 || (!ordered && ids.count > 4096) {
            try scan(ordered ? byID : byKey, from: lo, to: hi)
            return
        }
        try read(ids, ordered: ordered)
    }

    /// A segment read backwards through its run of the sort key, each row checked by a
    /// point read. False when there is no run, or when so many rows failed the filter
    /// that scanning the segment is cheaper (the caller then scans it).
    private mutating func descending(_ s: Segment, run kind: String, lo: Int64, hi: Int64) throws -> Bool {
        runs.bind(1, s.first); runs.bind(2, kind); runs.bind(3, table.name)
        defer { runs.rewind() }
        guard try runs.step() else { return false }
        var rejected = 0, gaveUp = false
        var page = self
        KeyRun.descending(in: runs.blob(0), through: cursor?.key ?? Int64.max) { pairs in
            for (value, row) in pairs {
                let id = s.first + Int64(row)
                if id < lo || id > hi { continue }
                if !page.wanted(value, id) { return false }
                do {
                    page.point.bind(page.extra + 1, id)
                    defer { page.point.rewind() }
                    if try page.point.step() {
                        page.add(page.point)
                    } else {
                        rejected += 1
                        if rejected > 4096 { gaveUp = true; return false }
                    }
                } catch {
                    gaveUp = true
                    return false
                }
            }
            return true
        }
        if gaveUp { return false }
        self = page
        return true
    }

    typealias Segment = SegmentedTable.Segment
}

/// Packet pages: sorted by time, with the run lookup picked from the filter.
enum PacketSearch {
    static func run(_ c: SQLiteConnection, filter: TrafficFilter, need: Int, cursor: (ts: Int64, id: Int64)?) throws
        -> [(key: Int64, id: Int64, row: StoredPacket)] {
        var b = SQLBuilder(.sqlite)
        b.compactPacketFilter(filter)
        if let cursor { b.add("(ts, id) < (\(b.param(cursor.ts)), \(b.param(cursor.id)))") }
        var search = try SegmentSearch<StoredPacket>(
            c, table: .packets, columns: PacketTable.selectColumns, keyColumn: PacketTable.tsColumn, sortColumn: "ts",
            sortRun: nil,
            conditions: b.conditions, binds: b.binds, from: filter.from, to: filter.to, need: need,
            cursor: cursor.map { ($0.ts, $0.id) }, lookup: lookup(filter), read: PacketTable.read)
        try search.run()
        return search.found
    }

    typealias Lookup = SegmentSearch<StoredPacket>.Lookup

    /// The run to read, by a fixed order of selectivity: an exact address, then a
    /// port, a network, the app, the transport.
    static func lookup(_ f: TrafficFilter) -> Lookup? {
        if let l = SegmentLookup.addressOrPort(f, src: "src", dst: "dst", sport: "sport", dport: "dport") {
            return Lookup(kinds: l.kinds, lo: l.lo, hi: l.hi)
        }
        if let a = f.app { return Lookup(kinds: ["app"], lo: [a.rawValue], hi: [a.rawValue]) }
        if let t = f.transport { return Lookup(kinds: ["transport"], lo: [t.rawValue], hi: [t.rawValue]) }
        return nil
    }
}

/// The run lookups packets and flows share: addresses and ports under their kinds.
enum SegmentLookup {
    static func addressOrPort(_ f: TrafficFilter, src: String, dst: String, sport: String, dport: String)
        -> (kinds: [String], lo: [UInt8], hi: [UInt8])? {
        func exact(_ n: IPNetwork) -> Bool { n.prefixLength == (n.address.isIPv6 ? 128 : 32) }
        func net(_ kinds: [String], _ n: IPNetwork) -> ([String], [UInt8], [UInt8]) {
            let (lo, hi) = CompactPacket.range(n)
            return (kinds, lo, hi)
        }
        func port(_ kinds: [String], _ p: UInt16) -> ([String], [UInt8], [UInt8]) {
            let k = [UInt8(p >> 8), UInt8(p & 0xFF)]
            return (kinds, k, k)
        }
        if let n = f.src, exact(n) { return net([src], n) }
        if let n = f.dst, exact(n) { return net([dst], n) }
        if let n = f.ip, exact(n) { return net([src, dst], n) }
        if let p = f.sport { return port([sport], p) }
        if let p = f.dport { return port([dport], p) }
        if let p = f.port { return port([sport, dport], p) }
        if let n = f.src { return net([src], n) }
        if let n = f.dst { return net([dst], n) }
        if let n = f.ip { return net([src, dst], n) }
        return nil
    }
}
