import SniffCore
import SniffDecode

/// Everything known about one address: "who is that?".
public struct HostInfo: Sendable, Equatable {
    /// The name DNS answers on the wire gave it, with first and last seen.
    public var name: LearnedName?
    /// The name a reverse (PTR) lookup gave it (`--resolve`), once the answer came.
    public var resolvedName: String?
    public var geo: GeoRecord
    public var category: AddressCategory
    /// Inside `--local-nets`.
    public var isLocal: Bool

    public init(name: LearnedName? = nil, resolvedName: String? = nil, geo: GeoRecord = GeoRecord(),
                category: AddressCategory, isLocal: Bool) {
        self.name = name
        self.resolvedName = resolvedName
        self.geo = geo
        self.category = category
        self.isLocal = isLocal
    }

    /// The name writers show: the one DNS on the wire gave, else the PTR one.
    public var displayName: String? { name?.name ?? resolvedName }
}

/// The sources of host facts for one run, behind one lock: passive DNS fed by the
/// packets (as a consumer), GeoIP answers cached per database network (`GeoCache`),
/// address categories and the local networks; with `--resolve`, reverse lookups of
/// addresses no DNS answer named.
///
/// Only DNS responses reach the lock from the packet path; GeoIP is asked at most once
/// per database network, when a writer (flow end, report) first wants an address of
/// it, and the answer cached for all its addresses.
/// A flow end asks for both of its ends under one lock hold, and a database lookup
/// happens outside the lock.
/// Unchecked Sendable: the caches are under `lock`; the databases are read-only.
public final class HostEnrichment: PacketConsumer, @unchecked Sendable {
    public let geo: GeoIPDatabases
    public let localNetworks: LocalNetworks
    private let lock = ConditionLock()
    private var dns: PassiveDNS
    private var geoCache: GeoCache
    /// PTR lookups (`--resolve`); nil when not asked for.
    public let resolver: ReverseResolver?

    public init(geo: GeoIPDatabases = GeoIPDatabases(), localNetworks: LocalNetworks = .defaults,
                capacity: Int = 65_536, resolver: ReverseResolver? = nil) {
        self.geo = geo
        self.localNetworks = localNetworks
        self.resolver = resolver
        dns = PassiveDNS(capacity: capacity)
        geoCache = GeoCache(capacity: capacity)
    }

    public func consume(_ packet: DecodedPacket, frame: UnsafeRawBufferPointer) {
        // Checked before the lock: nearly every packet stops here.
        guard packet.hasDNS, packet.dns.isResponse, packet.dns.answerCount > 0 else { return }
        lock.withLock { dns.record(packet, frame: frame) }
    }

    /// The name passive DNS learned for `address`.
    public func name(for address: IPAddress) -> LearnedName? {
        lock.withLock { dns.name(for: address) }
    }

    /// All names learned, most recently seen first.
    public var names: [(address: IPAddress, learned: LearnedName)] {
        lock.withLock { dns.entries }
    }

    /// Whether GeoIP can say anything of an address of this category.
    private func asksGeo(_ category: AddressCategory) -> Bool { !geo.isEmpty && category.isRoutable }

    /// What GeoIP says of `address`: empty for private and special addresses, which
    /// no database places.
    public func geo(for address: IPAddress) -> GeoRecord {
        guard asksGeo(AddressCategory(address)) else { return GeoRecord() }
        if let cached = lock.withLock({ geoCache.get(address) }) { return cached }
        // Outside the lock: the database is read-only, and a lookup is the slow part.
        let (record, length) = geo.lookupNetwork(address)
        lock.withLock { geoCache.set(address, prefixLength: length, record) }
        return record
    }

    public func host(_ address: IPAddress) -> HostInfo { hosts(address, address).0 }

    /// The facts of two addresses (a flow's ends): names and cached answers read under
    /// one lock hold; missing answers looked up outside it and stored under a second.
    public func hosts(_ a: IPAddress, _ b: IPAddress) -> (HostInfo, HostInfo) {
        let ca = AddressCategory(a), cb = AddressCategory(b)
        let askA = asksGeo(ca), askB = asksGeo(cb)
        var nameA: LearnedName?, nameB: LearnedName?
        var geoA: GeoRecord? = askA ? nil : GeoRecord(), geoB: GeoRecord? = askB ? nil : GeoRecord()
        lock.withLock {
            nameA = dns.name(for: a)
            nameB = dns.name(for: b)
            if askA { geoA = geoCache.get(a) }
            if askB { geoB = geoCache.get(b) }
        }
        if geoA == nil || geoB == nil {
            let newA = geoA == nil ? geo.lookupNetwork(a) : nil
            let newB = geoB == nil ? (a == b ? newA : geo.lookupNetwork(b)) : nil
            lock.withLock {
                if let newA { geoCache.set(a, prefixLength: newA.prefixLength, newA.record) }
                if let newB { geoCache.set(b, prefixLength: newB.prefixLength, newB.record) }
            }
            geoA = geoA ?? newA?.record
            geoB = geoB ?? newB?.record
        }
        return (HostInfo(name: nameA, resolvedName: nameA == nil ? resolved(a, ca) : nil, geo: geoA ?? GeoRecord(),
                         category: ca, isLocal: localNetworks.contains(a)),
                HostInfo(name: nameB, resolvedName: nameB == nil ? resolved(b, cb) : nil, geo: geoB ?? GeoRecord(),
                         category: cb, isLocal: localNetworks.contains(b)))
    }

    /// With `--resolve`: queues the PTR lookups of a new flow's ends that DNS on the wire
    /// has not named, so that the answers can be there when the flow ends.
    public func resolveAhead(_ a: IPAddress, _ b: IPAddress) {
        guard resolver != nil else { return }
        let (unnamedA, unnamedB) = lock.withLock { (dns.name(for: a) == nil, dns.name(for: b) == nil) }
        if unnamedA { _ = resolved(a, AddressCategory(a)) }
        if unnamedB && b != a { _ = resolved(b, AddressCategory(b)) }
    }

    /// The PTR name of an address DNS on the wire did not name, when `--resolve` is on:
    /// from the resolver's cache, or queued for a lookup. Addresses no PTR record
    /// describes (unspecified, multicast, broadcast) are not asked about.
    private func resolved(_ address: IPAddress, _ category: AddressCategory) -> String? {
        guard let resolver else { return nil }
        switch category {
        case .unspecified, .multicast, .broadcast: return nil
        default: return resolver.name(for: address)
        }
    }
}
