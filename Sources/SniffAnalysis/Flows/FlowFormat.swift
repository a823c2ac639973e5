import SniffCore
import SniffDecode

/// Settings shared by the flow writers: what counts as local, and the seeds for uid and
/// Community ID.
public struct FlowFormat: Sendable {
    public var localNetworks: LocalNetworks
    public var uidSeed: UInt64
    public var communityIDSeed: UInt16

    public init(localNetworks: LocalNetworks = .defaults, uidSeed: UInt64 = 0, communityIDSeed: UInt16 = 0) {
        self.localNetworks = localNetworks
        self.uidSeed = uidSeed
        self.communityIDSeed = communityIDSeed
    }

    /// Seconds with six decimals from nanoseconds (Zeek's precision), rounded.
    static func appendSeconds(_ nanos: Int64, into s: inout ByteSink) {
        var micros = nanos >= 0 ? (nanos &+ 500) / 1000 : (nanos &- 500) / 1000
        if micros < 0 { s.append(UInt8(ascii: "-")); micros = -micros }
        s.append(decimal: UInt64(micros / 1_000_000))
        s.append(UInt8(ascii: "."))
        s.append(decimal: UInt64(micros % 1_000_000), width: 6)
    }

    /// Zeek logs duration and byte counts only when the duration is positive.
    static func hasDuration(_ f: Flow) -> Bool { f.durationNanos > 0 }
}
