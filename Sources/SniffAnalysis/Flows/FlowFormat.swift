import SniffCore
import SniffDecode

/// Settings shared by the flow writers: what counts as local, the seeds for uid and
/// Community ID, and where names, countries and ASNs of addresses come from.
public struct FlowFormat: Sendable {
    public var localNetworks: LocalNetworks
    public var uidSeed: UInt64
    public var communityIDSeed: UInt16
    /// When set, flows carry `orig_name`/`resp_name`, `_cc`, `_asn` and `_org` where known.
    public var hosts: HostEnrichment?

    public init(localNetworks: LocalNetworks = .defaults, uidSeed: UInt64 = 0, communityIDSeed: UInt16 = 0,
                hosts: HostEnrichment? = nil) {
        self.localNetworks = localNetworks
        self.uidSeed = uidSeed
        self.communityIDSeed = communityIDSeed
        self.hosts = hosts
    }

    /// The host facts of both ends, asked once per flow end (each cached per address).
    public func hostPair(_ f: Flow) -> (orig: HostInfo, resp: HostInfo)? {
        guard let hosts else { return nil }
        let (o, r) = hosts.hosts(f.origAddress, f.respAddress)
        return (o, r)
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
