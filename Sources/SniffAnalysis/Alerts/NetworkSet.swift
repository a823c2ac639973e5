import SniffCore

/// A set of IP networks for membership tests in O(log n): the networks as sorted,
/// merged address ranges. Blocklists such as FireHOL's run to tens of thousands of
/// entries, which a scan per new flow would pay in full.
public struct NetworkSet: Sendable, Equatable {
    /// First and last address of each range, sorted, not overlapping (IPv4 sorts before
    /// IPv6, so the two never mix within a range).
    private var ranges: [(first: IPAddress, last: IPAddress)] = []

    public init(_ networks: [IPNetwork]) {
        let sorted = networks.map { (first: $0.address, last: NetworkSet.lastAddress(of: $0)) }
            .sorted { $0.first < $1.first }
        for r in sorted {
            if let top = ranges.last, top.first.isIPv6 == r.first.isIPv6, !(top.last < r.first) {
                if top.last < r.last { ranges[ranges.count - 1].last = r.last }
            } else {
                ranges.append(r)
            }
        }
    }

    public var isEmpty: Bool { ranges.isEmpty }
    /// Ranges after merging (fewer than the networks when some overlap).
    public var rangeCount: Int { ranges.count }

    public func contains(_ a: IPAddress) -> Bool {
        // The last range starting at or before `a`.
        var lo = 0, hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if a < ranges[mid].first { hi = mid } else { lo = mid + 1 }
        }
        guard lo > 0 else { return false }
        let r = ranges[lo - 1]
        return r.first.isIPv6 == a.isIPv6 && !(r.last < a)
    }

    static func lastAddress(of n: IPNetwork) -> IPAddress {
        let a = n.address, len = n.prefixLength
        if !a.isIPv6 {
            let host: UInt32 = len >= 32 ? 0 : ~UInt32(0) >> UInt32(len)
            return IPAddress(v4: a.v4 | host)
        }
        let hh: UInt64 = len >= 64 ? 0 : ~UInt64(0) >> UInt64(len)
        let lh: UInt64 = len <= 64 ? ~0 : (len >= 128 ? 0 : ~UInt64(0) >> UInt64(len - 64))
        return IPAddress(v6High: a.high | hh, low: a.low | lh)
    }

    public static func == (a: NetworkSet, b: NetworkSet) -> Bool {
        a.ranges.count == b.ranges.count
            && zip(a.ranges, b.ranges).allSatisfy { $0.first == $1.first && $0.last == $1.last }
    }
}
