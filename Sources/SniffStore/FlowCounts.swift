/// Finished flows per second of their start, per IP protocol and app (the `flow_counts`
/// table). The protocol summary counts flows in a time range; counting the flows table
/// itself reads every flow of the range (126 000 rows for 300 000 synthetic packets,
/// about 200 ms in a debug build), where these sums are a few rows per second.
struct FlowCounts {
    struct Key: Hashable {
        var second: Int64
        var ipProto: UInt8
        var app: String
    }

    /// One batch's flows, summed. Written in the batch's transaction, so a replayed
    /// batch (skipped by its id) is never counted twice. In the order of their keys:
    /// ClickHouse identifies a sum by its position in the batch, so a batch written
    /// again must list them in the same order, which a dictionary's does not keep
    /// (its seed differs per instance, so a retried batch could count its flows twice).
    static func count(_ rows: [FlowRow]) -> [(key: Key, flows: Int64)] {
        var sums: [Key: Int64] = [:]
        rows.withUnsafeBufferPointer { f in
            // Fields read in place: `for f in rows` copied each row, retaining its dozen strings.
            for i in f.indices {
                sums[Key(second: floorSecond(f[i].ts), ipProto: f[i].ipProto, app: f[i].app), default: 0] += 1
            }
        }
        return sums.map { ($0.key, $0.value) }.sorted {
            ($0.key.second, $0.key.ipProto, $0.key.app) < ($1.key.second, $1.key.ipProto, $1.key.app)
        }
    }

    static let second: Int64 = 1_000_000_000

    static func floorSecond(_ t: Int64) -> Int64 { t - ((t % second) + second) % second }

    static func ceilSecond(_ t: Int64) -> Int64 {
        let f = floorSecond(t)
        if f == t { return t }
        let (up, overflow) = f.addingReportingOverflow(second)
        return overflow ? .max : up
    }

    /// Where the flows of [from, to) are counted: the whole seconds inside the range
    /// from `flow_counts`, and the parts of a second at either end (a range need not
    /// start or end on a second) from `flows`, so that the totals equal counting the
    /// flows themselves.
    struct Plan: Equatable {
        /// The range to read from `flow_counts`, or nil when the range holds no whole second.
        var counts: RangeQuery?
        /// Ranges to count in `flows`.
        var edges: [RangeQuery]
    }

    static func plan(_ r: RangeQuery) -> Plan {
        func with(_ from: Int64?, _ to: Int64?) -> RangeQuery {
            var q = r
            q.from = from; q.to = to
            return q
        }
        let fromSec = r.from.map(ceilSecond), toSec = r.to.map(floorSecond)
        if let f = fromSec, let t = toSec, f >= t { return Plan(counts: nil, edges: [r]) }
        var edges: [RangeQuery] = []
        if let from = r.from, let f = fromSec, from != f { edges.append(with(from, f)) }
        if let to = r.to, let t = toSec, to != t { edges.append(with(t, to)) }
        return Plan(counts: with(fromSec, toSec), edges: edges)
    }
}
