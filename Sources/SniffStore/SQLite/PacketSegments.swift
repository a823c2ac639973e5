import SniffCore
import SniffDecode

/// SQLite's packets have no secondary B-tree. Rows are appended with consecutive ids;
/// every `segmentRows` of them form a segment, which the writer indexes in the
/// transaction that completes it: one `KeyRun` per key (src, dst, sport, dport,
/// transport, app) in `sniff_key_runs`, and the segment's id and time range in
/// `sniff_segments`. Rows after the last segment (the open tail, less than one
/// segment) are read by scanning their id range, so a row is found by every filter as
/// soon as its batch commits.
enum PacketSegments {
    static let table = "packets"
    static let kinds = ["src", "dst", "sport", "dport", "transport", "app"]

    struct Segment {
        let first: Int64
        let last: Int64
        let minTs: Int64
        let maxTs: Int64
        /// Times never decrease with the id: the newest rows are the highest ids.
        let ordered: Bool
    }

    /// The first id after every indexed segment (1 in a new table).
    static func tailStart(_ c: SQLiteConnection) throws -> Int64 {
        (try c.scalar("SELECT max(last_id) FROM sniff_segments WHERE tbl = 'packets'") ?? 0) + 1
    }

    /// The id the next stored row gets. Never an id a segment covers, even when
    /// retention has deleted the newest rows.
    static func nextID(_ c: SQLiteConnection) throws -> Int64 {
        max(try tailStart(c), (try c.scalar("SELECT max(id) FROM packets") ?? 0) + 1)
    }

    /// Indexes every complete segment of the tail. Runs inside the caller's write
    /// transaction, so the rows and their runs commit together; the same call catches
    /// up after a migration.
    static func indexComplete(_ c: SQLiteConnection, segmentRows: Int64) throws {
        var first = try tailStart(c)
        let top = try c.scalar("SELECT max(id) FROM packets") ?? 0
        while top - first + 1 >= segmentRows {
            try index(c, first: first, last: first + segmentRows - 1)
            first += segmentRows
        }
    }

    static func index(_ c: SQLiteConnection, first: Int64, last: Int64) throws {
        let st = try c.cached("SELECT id, ts, src, dst, sport, dport, transport, app FROM packets WHERE id BETWEEN ?1 AND ?2 ORDER BY id")
        st.bind(1, first); st.bind(2, last)
        var entries = [[KeyRun.Entry]](repeating: [], count: kinds.count)
        for k in entries.indices { entries[k].reserveCapacity(Int(last - first + 1)) }
        var minTs = Int64.max, maxTs = Int64.min, previous = Int64.min
        var ordered = true
        defer { st.reset() }
        while try st.step() {
            let row = UInt32(truncatingIfNeeded: st.int64(0) - first)
            let ts = st.int64(1)
            if ts < previous { ordered = false }
            previous = ts
            minTs = min(minTs, ts); maxTs = max(maxTs, ts)
            if !st.isNull(2) { entries[0].append(KeyRun.Entry(bytes: st.blob(2), row: row)) }
            if !st.isNull(3) { entries[1].append(KeyRun.Entry(bytes: st.blob(3), row: row)) }
            if let v = st.optionalInt64(4) { entries[2].append(KeyRun.Entry(integer: UInt64(truncatingIfNeeded: v), width: 2, row: row)) }
            if let v = st.optionalInt64(5) { entries[3].append(KeyRun.Entry(integer: UInt64(truncatingIfNeeded: v), width: 2, row: row)) }
            // NULL transport and app are stored as code 0 (none, unknown), which is what
            // a filter for them looks up.
            entries[4].append(KeyRun.Entry(integer: UInt64(truncatingIfNeeded: st.optionalInt64(6) ?? 0), width: 1, row: row))
            entries[5].append(KeyRun.Entry(integer: UInt64(truncatingIfNeeded: st.optionalInt64(7) ?? 0), width: 1, row: row))
        }
        if minTs > maxTs { minTs = 0; maxTs = 0 }
        let seg = try c.cached("""
            INSERT OR REPLACE INTO sniff_segments (tbl, first_id, last_id, min_ts, max_ts, ordered) VALUES ('packets', ?1, ?2, ?3, ?4, ?5)
            """)
        seg.bind(1, first); seg.bind(2, last); seg.bind(3, minTs); seg.bind(4, maxTs); seg.bind(5, ordered ? 1 : 0)
        try seg.run()
        let put = try c.cached("INSERT OR REPLACE INTO sniff_key_runs (tbl, first_id, kind, data) VALUES ('packets', ?1, ?2, ?3)")
        for (k, kind) in kinds.enumerated() {
            entries[k].sort(by: KeyRun.Entry.before)
            let run = KeyRun.encode(entries[k])
            put.bind(1, first); put.bind(2, kind)
            try run.withUnsafeBytes { b in
                put.bindBlobStatic(3, b)
                try put.run()
            }
        }
    }

    /// The open tail's id and time range, and whether its times rise with its ids, kept
    /// by the writer in `sniff_segments` as table 'packets_tail' (one row, rewritten
    /// with every batch): a reader then takes the newest rows of an ordered tail from
    /// its highest ids instead of reading every (id, ts) of it.
    static func updateTail(_ c: SQLiteConnection, batch rows: [PacketRow], firstNewID: Int64) throws {
        let start = try tailStart(c)
        guard let top = try c.scalar("SELECT max(id) FROM packets"), top >= start else { return }
        let old = try c.query("SELECT first_id, last_id, min_ts, max_ts, ordered FROM sniff_segments WHERE tbl = 'packets_tail'", []) {
            Segment(first: $0.int64(0), last: $0.int64(1), minTs: $0.int64(2), maxTs: $0.int64(3), ordered: $0.int64(4) != 0)
        }.first
        var t: Segment
        if let old, old.first == start, old.last == firstNewID - 1, firstNewID >= start, !rows.isEmpty {
            var ordered = old.ordered, previous = old.maxTs, lo = old.minTs, hi = old.maxTs
            for r in rows {
                if r.ts < previous { ordered = false }
                previous = r.ts; lo = min(lo, r.ts); hi = max(hi, r.ts)
            }
            t = Segment(first: start, last: top, minTs: lo, maxTs: hi, ordered: ordered)
        } else {
            // A new tail (a segment was just indexed, or the first batch): read it once.
            let st = try c.prepare("SELECT ts FROM packets WHERE id >= ?1 ORDER BY id")
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
            INSERT OR REPLACE INTO sniff_segments (tbl, first_id, last_id, min_ts, max_ts, ordered) VALUES ('packets_tail', ?1, ?2, ?3, ?4, ?5)
            """)
        try c.exec("DELETE FROM sniff_segments WHERE tbl = 'packets_tail'")
        put.bind(1, t.first); put.bind(2, t.last); put.bind(3, t.minTs); put.bind(4, t.maxTs); put.bind(5, t.ordered ? 1 : 0)
        try put.run()
    }

    /// The tail as an ordered segment, when the writer's note of it covers every row.
    static func orderedTail(_ c: SQLiteConnection, start: Int64) throws -> Segment? {
        guard let t = try c.query("SELECT first_id, last_id, min_ts, max_ts, ordered FROM sniff_segments WHERE tbl = 'packets_tail'", [], {
            Segment(first: $0.int64(0), last: $0.int64(1), minTs: $0.int64(2), maxTs: $0.int64(3), ordered: $0.int64(4) != 0)
        }).first, t.ordered, t.first == start else { return nil }
        let top = try c.scalar("SELECT max(id) FROM packets") ?? 0
        return top <= t.last ? t : nil
    }

    static func segments(_ c: SQLiteConnection) throws -> [Segment] {
        try c.query("SELECT first_id, last_id, min_ts, max_ts, ordered FROM sniff_segments WHERE tbl = 'packets'", []) {
            Segment(first: $0.int64(0), last: $0.int64(1), minTs: $0.int64(2), maxTs: $0.int64(3), ordered: $0.int64(4) != 0)
        }
    }

    /// Retention: whole segments older than the cutoff lose their rows by id range and
    /// their runs; a segment straddling the cutoff and the tail lose their old rows (a
    /// run may then name a deleted id, which a lookup simply does not find).
    static func deleteBefore(_ cutoff: Int64, _ c: SQLiteConnection) throws -> Int64 {
        var deleted: Int64 = 0
        for s in try segments(c) where s.minTs < cutoff {
            try c.exec("BEGIN IMMEDIATE")
            do {
                if s.maxTs < cutoff {
                    let d = try c.prepare("DELETE FROM packets WHERE id BETWEEN ?1 AND ?2")
                    d.bind(1, s.first); d.bind(2, s.last)
                    try d.run()
                    deleted += Int64(c.changes)
                    for sql in ["DELETE FROM sniff_key_runs WHERE tbl = 'packets' AND first_id = ?1",
                                "DELETE FROM sniff_segments WHERE tbl = 'packets' AND first_id = ?1"] {
                        let st = try c.prepare(sql)
                        st.bind(1, s.first)
                        try st.run()
                    }
                } else {
                    let d = try c.prepare("DELETE FROM packets WHERE id BETWEEN ?1 AND ?2 AND ts < ?3")
                    d.bind(1, s.first); d.bind(2, s.last); d.bind(3, cutoff)
                    try d.run()
                    deleted += Int64(c.changes)
                }
                try c.exec("COMMIT")
            } catch {
                try? c.exec("ROLLBACK")
                throw error
            }
        }
        try c.exec("BEGIN IMMEDIATE")
        do {
            let d = try c.prepare("DELETE FROM packets WHERE id >= ?1 AND ts < ?2")
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
}

/// One "newest first" page of packets: the open tail scanned, then the segments from
/// the newest time down, each searched through its runs, until no older segment can
/// hold a row newer than the page's last.
struct PacketSearch {
    let c: SQLiteConnection
    let filter: TrafficFilter
    /// Rows wanted: the page and one more (to know whether there is a next page).
    let need: Int
    let cursor: (ts: Int64, id: Int64)?
    /// (ts, id, row), newest first, at most `need`.
    private(set) var found: [(ts: Int64, id: Int64, row: StoredPacket)] = []

    private let point: SQLiteStatement
    private let byID: SQLiteStatement
    private let byTime: SQLiteStatement
    private let probe: SQLiteStatement
    private let runs: SQLiteStatement
    private let extra: Int32

    /// A run lookup: the kinds whose rows are united, and the key range.
    struct Lookup {
        var kinds: [String]
        var lo: [UInt8]
        var hi: [UInt8]
    }
    let lookup: Lookup?

    init(_ c: SQLiteConnection, filter: TrafficFilter, need: Int, cursor: (ts: Int64, id: Int64)?) throws {
        self.c = c; self.filter = filter; self.need = need; self.cursor = cursor
        var b = SQLBuilder(.sqlite)
        b.compactPacketFilter(filter)
        if let cursor { b.add("(ts, id) < (\(b.param(cursor.ts)), \(b.param(cursor.id)))") }
        let binds = b.binds
        extra = Int32(binds.count)
        let cond = b.conditions.isEmpty ? "" : " AND " + b.conditions.joined(separator: " AND ")
        let select = "SELECT \(CompactPacket.selectColumns) FROM packets"
        point = try c.prepare("\(select) WHERE id = ?\(extra + 1)\(cond)")
        byID = try c.prepare("\(select) WHERE id BETWEEN ?\(extra + 1) AND ?\(extra + 2)\(cond) ORDER BY id DESC LIMIT ?\(extra + 3)")
        // Without ORDER BY: sorting whole rows in SQLite cost 7 times the scan; the newest
        // (ts, id) pairs are picked in Swift and only those rows read.
        byTime = try c.prepare("SELECT id, ts FROM packets WHERE id BETWEEN ?\(extra + 1) AND ?\(extra + 2)\(cond)")
        for st in [point, byID, byTime] { try st.bind(binds) }
        probe = try c.prepare("SELECT id, ts FROM packets WHERE id >= ?1 AND id <= ?2 ORDER BY id LIMIT 1")
        runs = try c.prepare("SELECT data FROM sniff_key_runs WHERE tbl = 'packets' AND first_id = ?1 AND kind = ?2")
        lookup = Self.lookup(filter)
    }

    /// The run to read, by a fixed order of selectivity: an exact address, then a
    /// port, a network, the app, the transport.
    static func lookup(_ f: TrafficFilter) -> Lookup? {
        func exact(_ n: IPNetwork) -> Bool { n.prefixLength == (n.address.isIPv6 ? 128 : 32) }
        func net(_ kinds: [String], _ n: IPNetwork) -> Lookup {
            let (lo, hi) = CompactPacket.range(n)
            return Lookup(kinds: kinds, lo: lo, hi: hi)
        }
        func port(_ kinds: [String], _ p: UInt16) -> Lookup {
            let k = [UInt8(p >> 8), UInt8(p & 0xFF)]
            return Lookup(kinds: kinds, lo: k, hi: k)
        }
        if let n = f.src, exact(n) { return net(["src"], n) }
        if let n = f.dst, exact(n) { return net(["dst"], n) }
        if let n = f.ip, exact(n) { return net(["src", "dst"], n) }
        if let p = f.sport { return port(["sport"], p) }
        if let p = f.dport { return port(["dport"], p) }
        if let p = f.port { return port(["sport", "dport"], p) }
        if let n = f.src { return net(["src"], n) }
        if let n = f.dst { return net(["dst"], n) }
        if let n = f.ip { return net(["src", "dst"], n) }
        if let a = f.app { return Lookup(kinds: ["app"], lo: [a.rawValue], hi: [a.rawValue]) }
        if let t = f.transport { return Lookup(kinds: ["transport"], lo: [t.rawValue], hi: [t.rawValue]) }
        return nil
    }

    var full: Bool { found.count >= need }

    /// Whether a row at (ts, id) would enter the page.
    @inline(__always)
    func wanted(_ ts: Int64, _ id: Int64) -> Bool {
        guard full, let last = found.last else { return true }
        return (ts, id) > (last.ts, last.id)
    }

    mutating func add(_ st: SQLiteStatement) {
        let id = st.int64(0), ts = st.int64(4)
        guard wanted(ts, id) else { return }
        var a = 0, b = found.count
        while a < b {
            let m = (a + b) / 2
            if (found[m].ts, found[m].id) > (ts, id) { a = m + 1 } else { b = m }
        }
        found.insert((ts, id, CompactPacket.read(st)), at: a)
        if found.count > need { found.removeLast() }
    }

    mutating func run() throws {
        let tail = try PacketSegments.tailStart(c)
        if let t = try PacketSegments.orderedTail(c, start: tail) {
            try search(t)
        } else {
            try scan(byTime, from: tail, to: Int64.max)
        }
        let segments = try PacketSegments.segments(c).sorted { ($0.maxTs, $0.last) > ($1.maxTs, $1.last) }
        for s in segments {
            if full, let last = found.last, (s.maxTs, s.last) < (last.ts, last.id) { break }
            if let f = filter.from, s.maxTs < f { continue }
            if let t = filter.to, s.minTs >= t { continue }
            if let cur = cursor, s.minTs > cur.ts { continue }
            try search(s)
        }
    }

    private mutating func scan(_ st: SQLiteStatement, from: Int64, to: Int64) throws {
        guard from <= to else { return }
        if st === byTime { return try scanUnordered(from: from, to: to) }
        st.bind(extra + 1, from); st.bind(extra + 2, to); st.bind(extra + 3, Int64(need))
        defer { st.rewind() }
        while try st.step() {
            if !wanted(st.int64(4), st.int64(0)) { break }
            add(st)
        }
    }

    /// Rows of an id range whose times do not follow the ids (or may not: the tail):
    /// every matching (id, ts), the newest `need` of them, then those rows.
    private mutating func scanUnordered(from: Int64, to: Int64) throws {
        byTime.bind(extra + 1, from); byTime.bind(extra + 2, to)
        var pairs: [(ts: Int64, id: Int64)] = []
        while try byTime.step() {
            let id = byTime.int64(0), ts = byTime.int64(1)
            if wanted(ts, id) { pairs.append((ts, id)) }
        }
        byTime.rewind()
        if pairs.count > need {
            pairs.sort { ($0.ts, $0.id) > ($1.ts, $1.id) }
            pairs.removeLast(pairs.count - need)
        }
        try read(pairs.map(\.id), ordered: false)
    }

    /// Reads rows by id (checked against the whole filter again) into the page. With
    /// `ordered`, ids come newest first and reading stops at the first row too old.
    private mutating func read(_ ids: [Int64], ordered: Bool) throws {
        var previous = Int64.min
        for id in ids where id != previous {
            previous = id
            point.bind(extra + 1, id)
            if try point.step() {
                if ordered && !wanted(point.int64(4), id) {
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
        if s.ordered {
            // Times rise with ids: the time range and the cursor are an id range.
            if let f = filter.from { lo = max(lo, try firstAtLeast(f, Int64.min, lo: lo, hi: hi)) }
            if let t = filter.to { hi = min(hi, try firstAtLeast(t, Int64.min, lo: lo, hi: hi) - 1) }
            if let cur = cursor { hi = min(hi, try firstAtLeast(cur.ts, cur.id, lo: lo, hi: hi) - 1) }
            if lo > hi { return }
        }
        guard let lookup else {
            try scan(s.ordered ? byID : byTime, from: lo, to: hi)
            return
        }
        var rows: [UInt32] = []
        for kind in lookup.kinds {
            runs.bind(1, s.first); runs.bind(2, kind)
            if try runs.step() {
                KeyRun.rows(in: runs.blob(0), from: lookup.lo, through: lookup.hi, into: &rows)
            } else {
                // No run (a damaged or foreign file): the segment is scanned instead.
                runs.rewind()
                try scan(s.ordered ? byID : byTime, from: lo, to: hi)
                return
            }
            runs.rewind()
        }
        var ids = rows.map { s.first + Int64($0) }.filter { $0 >= lo && $0 <= hi }
        ids.sort(by: >)
        // Many matches (a busy port, a wide network): reading the range in order stops
        // sooner than reading each row.
        if ids.count > Int(hi - lo + 1) / 4 || (!s.ordered && ids.count > 4096) {
            try scan(s.ordered ? byID : byTime, from: lo, to: hi)
            return
        }
        try read(ids, ordered: s.ordered)
    }

    typealias Segment = PacketSegments.Segment
}
