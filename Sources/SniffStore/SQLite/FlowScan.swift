import SniffCore
import SniffDecode

/// The flows that match an address or port filter, read once for the aggregates
/// (protocol summary by flows, talkers) when the segments' key runs name few of them:
/// those rows are read by id instead of a scan of every flow of the time range (1.5-4 s
/// on a 3.6 M-packet database). Without a run lookup, or when a segment's runs name more
/// than a quarter of its rows (a busy port, a wide network), `run` declines and the
/// caller's SQL aggregate over the id ranges is the cheaper way.
struct FlowScan {
    let c: SQLiteConnection
    /// The selected columns, read by `body` from column 0.
    let columns: String
    let filter: TrafficFilter

    /// Calls `body` with each matching flow and returns true, or returns false at once
    /// (no row read) when the runs do not narrow the search.
    func run(_ body: (SQLiteStatement) -> Void) throws -> Bool {
        guard let lookup = SQLiteStore.flowLookup(filter) else { return false }
        let table = SegmentedTable.flows
        let runs = try c.prepare("SELECT data FROM sniff_key_runs WHERE tbl = 'flows' AND first_id = ?1 AND kind = ?2")
        var ids: [Int64] = []
        var rows: [UInt32] = []
        for s in try table.segments(c) {
            if let f = filter.from, s.maxTs < f { continue }
            if let t = filter.to, s.minTs >= t { continue }
            rows.removeAll(keepingCapacity: true)
            for kind in lookup.kinds {
                runs.bind(1, s.first); runs.bind(2, kind)
                defer { runs.rewind() }
                // No run (a damaged or foreign file): the caller scans.
                guard try runs.step() else { return false }
                KeyRun.rows(in: runs.blob(0), from: lookup.lo, through: lookup.hi, into: &rows)
            }
            if rows.count > Int(s.last - s.first + 1) / 4 { return false }
            ids += rows.map { s.first + Int64($0) }
        }
        ids.sort()
        var b = SQLBuilder(.sqlite)
        b.flowFilter(filter)
        let cond = b.conditions.isEmpty ? "" : " AND " + b.conditions.joined(separator: " AND ")
        let n = Int32(b.binds.count)
        // Columns come from the callers' fixed lists; values are bound.
        let point = try c.prepare("SELECT \(columns) FROM flows WHERE id = ?\(n + 1)\(cond)")
        let tail = try c.prepare("SELECT \(columns) FROM flows WHERE id >= ?\(n + 1)\(cond)")
        try point.bind(b.binds); try tail.bind(b.binds)
        var previous: Int64? = nil
        for id in ids where id != previous {
            previous = id
            point.bind(n + 1, id)
            defer { point.rewind() }
            if try point.step() { body(point) }
        }
        // The open tail (less than a segment) has no runs yet: scanned.
        tail.bind(n + 1, try table.tailStart(c))
        defer { tail.rewind() }
        while try tail.step() { body(tail) }
        return true
    }
}

/// The talkers of the flows a `FlowScan` reads: each endpoint (address, port,
/// protocol) and each host with the packets, bytes and flows of its flows.
struct TalkerTotals {
    /// An address as stored (4 or 16 bytes), kept in two words.
    struct Address: Hashable, Comparable {
        var hi: UInt64 = 0, lo: UInt64 = 0, count: UInt8 = 0
        init(_ b: UnsafeRawBufferPointer) {
            count = UInt8(truncatingIfNeeded: min(b.count, 16))
            for i in 0..<Int(count) {
                let v = UInt64(b[i]) << UInt64(56 - 8 * (i % 8))
                if i < 8 { hi |= v } else { lo |= v }
            }
        }
        /// SQLite's order of blobs: bytes compared, then the shorter first.
        static func < (a: Address, b: Address) -> Bool {
            let n = min(a.count, b.count)
            func masked(_ x: Address) -> (UInt64, UInt64) {
                let bits = UInt64(n) * 8
                let h = bits >= 64 ? x.hi : bits == 0 ? 0 : x.hi & ~(UInt64.max >> bits)
                let l = bits <= 64 ? 0 : bits >= 128 ? x.lo : x.lo & ~(UInt64.max >> (bits - 64))
                return (h, l)
            }
            let (ma, mb) = (masked(a), masked(b))
            if ma != mb { return ma < mb }
            return a.count < b.count
        }
        var bytes: [UInt8] {
            (0..<Int(count)).map { i -> UInt8 in
                let word: UInt64 = i < 8 ? hi : lo
                let shift = UInt64(56 - 8 * (i % 8))
                return UInt8(truncatingIfNeeded: word >> shift)
            }
        }
    }
    struct Endpoint: Hashable { var address: Address; var port: UInt16; var proto: String }
    struct Sum { var packets: UInt64 = 0, bytes: UInt64 = 0, flows: UInt64 = 0 }

    var pairs: [Endpoint: Sum] = [:]
    var hosts: [Address: Sum] = [:]

    /// The columns `add` reads, from 0.
    static let columns = "orig_h, orig_p, resp_h, resp_p, proto, total_pkts, total_bytes"

    mutating func add(_ st: SQLiteStatement) {
        let proto = st.text(4)
        let packets = UInt64(clamping: st.int64(5)), bytes = UInt64(clamping: st.int64(6))
        for h: Int32 in [0, 2] {
            let a = Address(st.blob(h))
            let e = Endpoint(address: a, port: UInt16(truncatingIfNeeded: st.int64(h + 1)), proto: proto)
            pairs[e, default: Sum()].add(packets, bytes)
            hosts[a, default: Sum()].add(packets, bytes)
        }
    }

    /// The largest `limit` by bytes, ties by address, port and protocol (as SQL's
    /// ORDER BY SUM(b) DESC, h, p).
    func talkers(limit: Int) -> Talkers {
        var t = Talkers()
        let p = pairs.sorted { x, y in
            if x.value.bytes != y.value.bytes { return x.value.bytes > y.value.bytes }
            if x.key.address != y.key.address { return x.key.address < y.key.address }
            if x.key.port != y.key.port { return x.key.port < y.key.port }
            return x.key.proto < y.key.proto
        }.prefix(limit)
        t.pairs = p.map { e in
            Talkers.Pair(
                address: address(e.key.address), port: e.key.port, proto: e.key.proto, packets: e.value.packets,
                bytes: e.value.bytes, flows: e.value.flows)
        }
        let h = hosts.sorted { x, y in
            x.value.bytes != y.value.bytes ? x.value.bytes > y.value.bytes : x.key < y.key
        }.prefix(limit)
        t.hosts = h.map { e in
            Talkers.Host(address: address(e.key), packets: e.value.packets, bytes: e.value.bytes, flows: e.value.flows)
        }
        return t
    }

    private func address(_ a: Address) -> IPAddress {
        a.bytes.withUnsafeBytes { CompactPacket.address($0) } ?? .none
    }
}

extension TalkerTotals.Sum {
    mutating func add(_ p: UInt64, _ b: UInt64) { packets &+= p; bytes &+= b; flows &+= 1 }
}
