import SniffCore
import SniffDecode

/// `--country` and `--asn`: keeps the packets with an end in one of the countries (and,
/// with both options, in one of the ASes), as the API's `country` and `asn` parameters
/// keep flows with either end there. Asks `HostEnrichment`, which looks an address up
/// once and caches it; a run without these options never calls it.
public final class GeoFilter: @unchecked Sendable {
    public let countries: Set<String>
    public let asns: Set<UInt32>
    let hosts: HostEnrichment

    /// Country codes upper case, as the databases give them.
    public init(countries: Set<String>, asns: Set<UInt32>, hosts: HostEnrichment) {
        self.countries = Set(countries.map { $0.uppercased() }); self.asns = asns; self.hosts = hosts
    }

    public var isEmpty: Bool { countries.isEmpty && asns.isEmpty }

    public func matches(_ p: borrowing DecodedPacket) -> Bool {
        guard p.ipVersion != 0 else { return false }
        let src = hosts.geo(for: p.src), dst = hosts.geo(for: p.dst)
        if !countries.isEmpty {
            guard src.countryCode.map(countries.contains) == true || dst.countryCode.map(countries.contains) == true else {
                return false
            }
        }
        if !asns.isEmpty {
            guard src.asn.map(asns.contains) == true || dst.asn.map(asns.contains) == true else { return false }
        }
        return true
    }
}
