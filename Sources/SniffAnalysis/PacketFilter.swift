import SniffCore
import SniffDecode

/// The report's own filters (`--ip`, `--net`, `--transport`, `--lowest-port`,
/// `--highest-port`), applied after decoding; BPF is applied before, by SniffCapture.
public struct PacketFilter: Sendable {
    public enum IPVersion: String, Sendable, CaseIterable {
        case ipv4, ipv6
        public init?(userValue: String) {
            switch userValue.lowercased() {
            case "ipv4", "ip4", "4", "v4": self = .ipv4
            case "ipv6", "ip6", "6", "v6": self = .ipv6
            default: return nil
            }
        }
    }

    public var networks: [IPNetwork] = []
    public var ipVersion: IPVersion? = nil
    public var transport: TransportKind? = nil
    public var lowestPort: UInt16 = 0
    public var highestPort: UInt16 = 65535

    public init() {}

    public var hasPortRange: Bool { lowestPort != 0 || highestPort != 65535 }
    public var isEmpty: Bool { networks.isEmpty && ipVersion == nil && transport == nil && !hasPortRange }

    @inlinable
    public func matches(_ p: DecodedPacket) -> Bool {
        if let v = ipVersion {
            guard p.ipVersion == (v == .ipv4 ? 4 : 6) else { return false }
        }
        if let t = transport, p.transport != t { return false }
        if hasPortRange {
            guard p.hasPorts else { return false }
            let inRange = (p.sport >= lowestPort && p.sport <= highestPort) || (p.dport >= lowestPort && p.dport <= highestPort)
            if !inRange { return false }
        }
        if !networks.isEmpty {
            guard p.ipVersion != 0 else { return false }
            var hit = false
            for n in networks where n.contains(p.src) || n.contains(p.dst) { hit = true; break }
            if !hit { return false }
        }
        return true
    }
}
