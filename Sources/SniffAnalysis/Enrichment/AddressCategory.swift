import SniffCore

/// What kind of address this is, from the IANA special-purpose registries: the part of
/// "who is that?" that needs no database.
public enum AddressCategory: String, Sendable, CaseIterable {
    case unspecified
    case loopback
    /// RFC 1918 and IPv6 unique local (fc00::/7).
    case `private`
    case linkLocal = "link-local"
    case multicast
    case broadcast
    /// RFC 6598 shared address space, 100.64.0.0/10.
    case cgnat = "CGNAT"
    /// RFC 5737 and RFC 3849 example ranges.
    case documentation
    case `public`

    private static let ranges: [(String, AddressCategory)] = [
        ("0.0.0.0/8", .unspecified), ("::/128", .unspecified),
        ("127.0.0.0/8", .loopback), ("::1/128", .loopback),
        ("10.0.0.0/8", .private), ("172.16.0.0/12", .private), ("192.168.0.0/16", .private), ("fc00::/7", .private),
        ("169.254.0.0/16", .linkLocal), ("fe80::/10", .linkLocal),
        ("224.0.0.0/4", .multicast), ("ff00::/8", .multicast),
        ("255.255.255.255/32", .broadcast),
        ("100.64.0.0/10", .cgnat),
        ("192.0.2.0/24", .documentation), ("198.51.100.0/24", .documentation), ("203.0.113.0/24", .documentation),
        ("2001:db8::/32", .documentation),
    ]
    private static let table: [(IPNetwork, AddressCategory)] = ranges.map { (IPNetwork($0.0)!, $0.1) }

    public init(_ a: IPAddress) {
        // An IPv4-mapped IPv6 address is the IPv4 address.
        let address = a.unmappedIPv4
        for (net, category) in AddressCategory.table where net.contains(address) {
            self = category
            return
        }
        self = .public
    }

    /// Whether a GeoIP database can say anything about it.
    public var isRoutable: Bool { self == .public }
}
