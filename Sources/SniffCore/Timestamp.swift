/// A capture timestamp with nanosecond resolution.
///
/// Seconds are 64-bit because pcapng can carry times past 2106 (the 32-bit pcap limit),
/// and nanoseconds are kept as an integer so that printing is exact; a Double would
/// lose the last digits of a nanosecond epoch time.
public struct Timestamp: Hashable, Comparable, Sendable {
    public var seconds: Int64
    public var nanoseconds: UInt32

    @inlinable
    public init(seconds: Int64, nanoseconds: UInt32) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    public static let zero = Timestamp(seconds: 0, nanoseconds: 0)

    /// Total nanoseconds since the epoch; saturates instead of trapping for extreme values.
    @inlinable
    public var totalNanoseconds: Int64 {
        let (m, o1) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if o1 { return seconds < 0 ? .min : .max }
        let (s, o2) = m.addingReportingOverflow(Int64(nanoseconds))
        return o2 ? .max : s
    }

    @inlinable
    public init(totalNanoseconds ns: Int64) {
        var s = ns / 1_000_000_000
        var r = ns % 1_000_000_000
        if r < 0 { r += 1_000_000_000; s -= 1 }
        self.init(seconds: s, nanoseconds: UInt32(r))
    }

    @inlinable
    public static func < (a: Timestamp, b: Timestamp) -> Bool {
        a.seconds != b.seconds ? a.seconds < b.seconds : a.nanoseconds < b.nanoseconds
    }

    /// Seconds as a Double, for durations and display; not for exact output.
    @inlinable
    public var doubleValue: Double { Double(seconds) + Double(nanoseconds) / 1e9 }

    /// Difference `self - other` in nanoseconds (saturating).
    @inlinable
    public func nanoseconds(since other: Timestamp) -> Int64 {
        let ds = seconds &- other.seconds
        let (m, o) = ds.multipliedReportingOverflow(by: 1_000_000_000)
        if o { return ds < 0 ? .min : .max }
        return m &+ (Int64(nanoseconds) - Int64(other.nanoseconds))
    }

    /// "1700000000.123456789": seconds since the epoch with exactly nine fractional digits.
    public var epochString: String {
        var sink = ByteSink()
        sink.appendEpoch(self)
        return sink.string
    }
}
