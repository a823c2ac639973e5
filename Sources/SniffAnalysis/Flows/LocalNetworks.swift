import SniffCore

/// The address ranges counted as local for `local_orig` and `local_resp`.
public struct LocalNetworks: Sendable, Equatable {
    public var networks: [IPNetwork]

    /// RFC 1918, IPv4 loopback and link-local, IPv6 ULA (fc00::/7), loopback and
    /// link-local.
    public static let defaultCIDRs = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8",
                                      "169.254.0.0/16", "fc00::/7", "::1/128", "fe80::/10"]

    public static let defaults = LocalNetworks(networks: defaultCIDRs.compactMap(IPNetwork.init))

    public init(networks: [IPNetwork]) { self.networks = networks }

    /// Parses "10.0.0.0/8,fd00::/8" (commas or spaces between entries). An empty list
    /// means no local networks: `local_orig`/`local_resp` are then left unset, as in Zeek.
    public init(parsing text: String) throws {
        var nets: [IPNetwork] = []
        for part in text.split(whereSeparator: { $0 == "," || $0 == " " }) where !part.isEmpty {
            guard let n = IPNetwork(String(part)) else {
                throw RuntimeFailure(
                    "invalid network \"\(part)\" in --local-nets; use CIDR notation such as 10.0.0.0/8 or fd00::/8",
                    exitCode: 64)
            }
            nets.append(n)
        }
        networks = nets
    }

    public var isEmpty: Bool { networks.isEmpty }

    public func contains(_ a: IPAddress) -> Bool {
        for n in networks where n.contains(a) { return true }
        return false
    }
}
