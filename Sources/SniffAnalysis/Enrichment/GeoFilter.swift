import SniffCore
import SniffDecode

/// `--country` and `--asn`: keeps the packets with an end in one of the countries (and,
/// with both options, in one of the ASes), as the API's `country` and `asn` parameters
/// keep flows with either end there. Asks `HostEnrichment`, which looks an address up
/// once and caches it; a run without these options never calls it.
public final class GeoFilter: Sendable {
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

extension GeoFilter {
    /// A two-letter ISO 3166 code in either case, upper-cased (as the databases give
    /// them); nil for anything else. `--country`, the API's `country` and the rules'
    /// `countries` take the same codes.
    public static func countryCode(_ text: some StringProtocol) -> String? {
        guard text.utf8.count == 2, text.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) || ("a"..."z").contains($0) })
        else { return nil }
        return text.uppercased()
    }

    /// An AS number written `15169` or `AS15169` (any case); nil for anything else.
    public static func asNumber(_ text: some StringProtocol) -> UInt32? {
        let digits = text.uppercased().hasPrefix("AS") ? Substring(text.dropFirst(2)) : Substring(text)
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return UInt32(digits)
    }
}

extension GeoIPDatabases {
    /// A Country or City file is there: countries can be asked.
    public var answersCountries: Bool { databases.contains { $0.kind == .country || $0.kind == .city } }
    /// An ASN file is there.
    public var answersASNs: Bool { databases.contains { $0.kind == .asn } }
}
