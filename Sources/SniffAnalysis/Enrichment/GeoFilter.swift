import SniffCore
import SniffDecode

/// `--country` and `--asn`: keeps the packets with an end in one of the countries (and,
/// with both options, in one of the ASes), as the API's `country` and `asn` parameters
/// keep flows with either end there.
///
/// Asked for every packet, so each address's verdict is kept here, in a direct-mapped
/// table like `GeoCache`'s that only the pipeline's thread touches: a packet costs two
/// probes, with no lock and no `GeoRecord` (and its strings) copied. A miss asks
/// `HostEnrichment`, which looks the address up once and caches the answer for the
/// writers too; a run without these options never calls it.
/// Unchecked Sendable: the verdict table belongs to the thread of the pipeline this
/// filter is set on (`PacketPipeline` is owned by one thread); the rest is immutable.
public final class GeoFilter: @unchecked Sendable {
    public let countries: Set<String>
    public let asns: Set<UInt32>
    let hosts: HostEnrichment
    /// Addresses, and for each its verdict bits (`inCountry`, `inAS`); `.none` marks a
    /// free slot (0.0.0.0 is never looked up: its verdict is worked out each time).
    private let keys: UnsafeMutablePointer<IPAddress>
    private let verdicts: UnsafeMutablePointer<UInt8>
    private static let slots = 1 << 14
    /// The address is in one of the countries, or no country was asked for.
    private static let inCountry: UInt8 = 1
    /// The address is in one of the ASes, or no AS was asked for.
    private static let inAS: UInt8 = 2

    /// Country codes upper case, as the databases give them.
    public init(countries: Set<String>, asns: Set<UInt32>, hosts: HostEnrichment) {
        self.countries = Set(countries.map { $0.uppercased() }); self.asns = asns; self.hosts = hosts
        keys = .allocate(capacity: Self.slots)
        keys.initialize(repeating: .none, count: Self.slots)
        verdicts = .allocate(capacity: Self.slots)
        verdicts.initialize(repeating: 0, count: Self.slots)
    }

    deinit {
        keys.deallocate()
        verdicts.deallocate()
    }

    public var isEmpty: Bool { countries.isEmpty && asns.isEmpty }

    /// Either end may satisfy each option: the country can be one end's and the AS the other's.
    public func matches(_ p: borrowing DecodedPacket) -> Bool {
        guard p.ipVersion != 0 else { return false }
        let both = verdict(p.src) | verdict(p.dst)
        return both & Self.inCountry != 0 && both & Self.inAS != 0
    }

    private func verdict(_ address: IPAddress) -> UInt8 {
        guard address != .none else { return judge(address) }
        let i = GeoCache.slot(address, mask: Self.slots - 1)
        if keys[i] == address { return verdicts[i] }
        let v = judge(address)
        keys[i] = address
        verdicts[i] = v
        return v
    }

    private func judge(_ address: IPAddress) -> UInt8 {
        let geo = hosts.geo(for: address)
        var v: UInt8 = 0
        if countries.isEmpty || geo.countryCode.map(countries.contains) == true { v |= Self.inCountry }
        if asns.isEmpty || geo.asn.map(asns.contains) == true { v |= Self.inAS }
        return v
    }
}

extension GeoFilter {
    /// A two-letter ISO 3166 code in either case, upper-cased (as the databases give
    /// them); nil for anything else. `--country`, the API's `country` and the rules'
    /// `countries` take the same codes.
    public static func countryCode(_ text: some StringProtocol) -> String? {
        guard text.utf8.count == 2,
            text.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) || ("a"..."z").contains($0) })
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
