/// An IP protocol number (IANA's Assigned Internet Protocol Numbers): IPv4's Protocol
/// field, IPv6's upper-layer Next Header. Packets and flow keys keep the wire's byte;
/// these name the values the code branches on and match that byte in a `switch`
/// (`case IPProtocol.tcp:`). Computed and inlinable, so that a match compiles to the
/// same comparison as the number would, in every module.
public struct IPProtocol: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    @inlinable public static var icmp: IPProtocol { IPProtocol(rawValue: 1) }
    /// IPv4 in IP.
    @inlinable public static var ipip: IPProtocol { IPProtocol(rawValue: 4) }
    @inlinable public static var tcp: IPProtocol { IPProtocol(rawValue: 6) }
    @inlinable public static var udp: IPProtocol { IPProtocol(rawValue: 17) }
    /// IPv6 in IP.
    @inlinable public static var ipv6: IPProtocol { IPProtocol(rawValue: 41) }
    @inlinable public static var gre: IPProtocol { IPProtocol(rawValue: 47) }
    @inlinable public static var icmpv6: IPProtocol { IPProtocol(rawValue: 58) }
    @inlinable public static var pim: IPProtocol { IPProtocol(rawValue: 103) }
    @inlinable public static var sctp: IPProtocol { IPProtocol(rawValue: 132) }

    /// ICMP or ICMPv6, whose type and code stand in for ports.
    @inlinable public var isICMP: Bool { rawValue == 1 || rawValue == 58 }

    @inlinable public static func ~= (pattern: IPProtocol, value: UInt8) -> Bool { pattern.rawValue == value }
}
