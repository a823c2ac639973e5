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
    /// `--inner`: the filters look at the innermost packet a tunnel carries (VXLAN,
    /// GENEVE, GRE, IP in IP, PIM Register, GTP-U) instead of the outer headers, and a
    /// frame without a tunnel does not match. BPF keeps looking at the outer packet.
    public var inner = false

    public init() {}

    public var hasPortRange: Bool { lowestPort != 0 || highestPort != 65535 }
    public var isEmpty: Bool { networks.isEmpty && ipVersion == nil && transport == nil && !hasPortRange && !inner }

    @inlinable
    public func matches(_ p: DecodedPacket) -> Bool {
        if inner {
            guard p.tunnel != .none else { return false }
            let t = p.inner
            return matches(ipVersion: UInt8(t.src.version), transport: TransportKind(ipProto: t.proto),
                           hasPorts: t.hasPorts, sport: t.sport, dport: t.dport, src: t.src, dst: t.dst)
        }
        return matches(ipVersion: p.ipVersion, transport: p.transport, hasPorts: p.hasPorts, sport: p.sport,
                       dport: p.dport, src: p.src, dst: p.dst)
    }

    /// The filters over one set of headers (`ipVersion` 0: no IP header).
    @inlinable
    func matches(ipVersion version: UInt8, transport kind: TransportKind, hasPorts: Bool, sport: UInt16, dport: UInt16,
                 src: IPAddress, dst: IPAddress) -> Bool {
        if let v = ipVersion {
            guard version == (v == .ipv4 ? 4 : 6) else { return false }
        }
        if let t = transport, kind != t { return false }
        if hasPortRange {
            guard hasPorts else { return false }
            let inRange = (sport >= lowestPort && sport <= highestPort) || (dport >= lowestPort && dport <= highestPort)
            if !inRange { return false }
        }
        if !networks.isEmpty {
            guard version != 0 else { return false }
            var hit = false
            for n in networks where n.contains(src) || n.contains(dst) { hit = true; break }
            if !hit { return false }
        }
        return true
    }
}
