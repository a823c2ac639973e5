import SniffCore

/// One configured rule. Times are in nanoseconds.
public struct AlertRule: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Bytes or packets over `window`, per host (sent plus received) or in total.
        case rate(metric: RateMetric, perHost: Bool, threshold: UInt64, window: Int64)
        /// An address never seen before in this run (after the learning period).
        case newHost(localOnly: Bool, learn: Int64)
        /// A responder port (per transport) never seen before in this run.
        case newPort(localOnly: Bool, learn: Int64)
        /// One source with failed attempts (S0, REJ, RSTOS0) to at least `ports` distinct
        /// ports or `hosts` distinct hosts within `window`.
        case portScan(ports: Int, hosts: Int, window: Int64)
        /// At least `threshold` unanswered SYNs (S0 flows) toward one destination within
        /// `window`.
        case synFlood(threshold: Int, window: Int64)
        /// A flow to or from a listed address or network.
        case blocklist(networks: [IPNetwork])
        /// A DNS query for a listed domain or any name under it.
        case dnsDomain(domains: [String])
        /// A flow with an end (`end` says which) in one of the countries: ISO 3166
        /// alpha-2 codes, upper case, as the run's GeoIP databases place the address.
        case country(codes: Set<String>, end: FlowEnd)
        /// A flow with an end (`end` says which) in one of the autonomous systems.
        case asn(numbers: Set<UInt32>, end: FlowEnd)
    }

    /// Which end of a flow a country or ASN rule looks at: either, the originator (flows
    /// from there) or the responder (flows to there).
    public enum FlowEnd: String, Sendable, Equatable, CaseIterable {
        case any, orig, resp

        public func includes(orig: Bool) -> Bool { self == .any || (self == .orig) == orig }
    }

    public enum RateMetric: String, Sendable, Equatable { case bytes, packets }

    public var name: String
    public var kind: Kind
    public var severity: AlertSeverity
    /// Repeats of this rule for the same subject within this time are counted, not sent.
    public var suppress: Int64

    public init(name: String, kind: Kind, severity: AlertSeverity, suppress: Int64 = 60 * 1_000_000_000) {
        self.name = name; self.kind = kind; self.severity = severity; self.suppress = suppress
    }

    public var kindName: String {
        switch kind {
        case .rate: return "rate"
        case .newHost: return "new_host"
        case .newPort: return "new_port"
        case .portScan: return "port_scan"
        case .synFlood: return "syn_flood"
        case .blocklist: return "blocklist"
        case .dnsDomain: return "dns_domain"
        case .country: return "country"
        case .asn: return "asn"
        }
    }

    /// Every kind's name, as rules files write it.
    public static let kindNames = ["rate", "new_host", "new_port", "port_scan", "syn_flood", "blocklist", "dns_domain",
                                   "country", "asn"]

    /// What applies without a rules file: port scans and SYN floods.
    public static let defaults: [AlertRule] = [
        AlertRule(
            name: "port-scan", kind: .portScan(ports: 20, hosts: 20, window: 60 * 1_000_000_000), severity: .medium),
        AlertRule(name: "syn-flood", kind: .synFlood(threshold: 200, window: 10 * 1_000_000_000), severity: .high),
    ]
}

/// The whole alerting configuration: rules plus global limits.
public struct AlertConfig: Sendable, Equatable {
    public var rules: [AlertRule]
    /// At most this many alerts per second of traffic time; the rest are counted.
    public var maxAlertsPerSecond: Int = 20

    public init(rules: [AlertRule] = AlertRule.defaults, maxAlertsPerSecond: Int = 20) {
        self.rules = rules
        self.maxAlertsPerSecond = maxAlertsPerSecond
    }

    /// The first rule naming countries and the first naming ASNs: what the GeoIP
    /// databases of the run must answer.
    public var countryRule: AlertRule? { rules.first { if case .country = $0.kind { return true }; return false } }
    public var asnRule: AlertRule? { rules.first { if case .asn = $0.kind { return true }; return false } }
}
